/**
 * Where `keysmith serve` logs: pino JSON lines on stdout, for a collector;
 * when stdout is a terminal, the same records as readable lines (time, level,
 * message, then the fields as key=value). The human banner is not a log and
 * goes to stderr (serve.ts).
 */
import pino from 'pino';
import type { AlertLogger } from '../alerts/index.js';
import type { Config } from '../config/index.js';

export interface LogStream {
  write(line: string): void;
}

const LEVEL_NAMES: Readonly<Record<number, string>> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** pino's own fields, shown in the line's head or left out. */
const HEAD_FIELDS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'v']);

/** The readable stream when stdout is a terminal; undefined means pino's default JSON on stdout. */
export function terminalLogStream(stdout: NodeJS.WriteStream = process.stdout): LogStream | undefined {
  if (stdout.isTTY !== true) return undefined;
  return { write: (line) => void stdout.write(prettyLogLine(line)) };
}

/** The alerts' logger for serve: the same destination as the HTTP log. */
export function serveAlertLogger(level: Config['logLevel']): AlertLogger {
  const stream = terminalLogStream();
  return (stream === undefined ? pino({ level }, pino.destination(1)) : pino({ level }, stream)).child({ component: 'alerts' });
}

/**
 * One pino JSON line as `HH:MM:SS.mmm LEVEL message key=value ...`; an
 * error's stack follows on indented lines. A line that is not JSON passes
 * through unchanged.
 */
export function prettyLogLine(line: string): string {
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (typeof record !== 'object' || record === null || Array.isArray(record)) return line.endsWith('\n') ? line : `${line}\n`;
  const fields = record as Record<string, unknown>;
  const time = typeof fields['time'] === 'number' ? new Date(fields['time']).toISOString().slice(11, 23) : '--:--:--.---';
  const level = typeof fields['level'] === 'number' ? (LEVEL_NAMES[fields['level']] ?? String(fields['level'])) : 'INFO';
  const message = typeof fields['msg'] === 'string' ? fields['msg'] : '';
  const rest: string[] = [];
  const stacks: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (HEAD_FIELDS.has(key)) continue;
    if (isErrorRecord(value)) {
      rest.push(`${key}=${JSON.stringify(value.message)}`);
      if (typeof value.stack === 'string') stacks.push(value.stack.replace(/^/gm, '    '));
      continue;
    }
    rest.push(`${key}=${typeof value === 'string' && /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value)}`);
  }
  const head = `${time} ${level.padEnd(5)} ${message}${rest.length === 0 ? '' : ` ${rest.join(' ')}`}`;
  return `${[head, ...stacks].join('\n')}\n`;
}

function isErrorRecord(value: unknown): value is { readonly message: string; readonly stack?: unknown } {
  return typeof value === 'object' && value !== null && 'message' in value && typeof value.message === 'string' && 'stack' in value;
}
