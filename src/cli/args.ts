import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseDuration } from '../config/index.js';

/** One option of a command, as parseArgs reads it and as `--help` describes it. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  readonly multiple?: boolean;
  /** One line: what the option does (required: `--help` lists every option). */
  readonly help: string;
  /** The value's placeholder in `--help` (FILE, DURATION, N). */
  readonly value?: string;
  /** The default as `--help` shows it; absent means there is none. */
  readonly default?: string;
}

/** A sub-command: its usage text and what it does with its parsed options. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** One complete example invocation, shown by `--help` (required, like each option's help line). */
  readonly example: string;
  readonly allowPositionals?: boolean;
  run(parsed: ParsedCommand): Promise<number>;
}

export interface ParsedCommand {
  readonly values: Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;
  readonly positionals: readonly string[];
}

/** A mistake in how the command was called: printed with the usage, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function parseCommand(command: Command, argv: readonly string[]): ParsedCommand {
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { ...parseArgsOptions(command.options), help: { type: 'boolean', short: 'h' }, config: { type: 'string', short: 'c' } },
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    });
    return { values, positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/** The parseArgs view of a command's options (without the help text). */
function parseArgsOptions(options: Readonly<Record<string, OptionSpec>>): NonNullable<ParseArgsConfig['options']> {
  const result: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of Object.entries(options)) {
    result[name] = {
      type: spec.type,
      ...(spec.short === undefined ? {} : { short: spec.short }),
      ...(spec.multiple === undefined ? {} : { multiple: spec.multiple }),
    };
  }
  return result;
}

export function stringOption(parsed: ParsedCommand, name: string): string | undefined {
  const value = parsed.values[name];
  return typeof value === 'string' ? value : undefined;
}

export function stringList(parsed: ParsedCommand, name: string): string[] {
  const value = parsed.values[name];
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
}

export function requireOption(parsed: ParsedCommand, name: string): string {
  const value = stringOption(parsed, name);
  if (value === undefined || value === '') throw new UsageError(`--${name} is required`);
  return value;
}

/** A duration option such as 90s, 15m, 12h or 7d, in ms. */
export function durationOption(parsed: ParsedCommand, name: string): number | undefined {
  const value = stringOption(parsed, name);
  if (value === undefined) return undefined;
  try {
    return parseDuration(value);
  } catch {
    throw new UsageError(`--${name}: expected a duration such as 90s, 15m, 12h or 7d, got '${value}'`);
  }
}

/** Configuration warnings (unknown KEYSMITH_* variables) go to stderr: stdout may carry a record a script reads. */
export function printConfigWarning(message: string): void {
  console.error(`keysmith: warning: ${message}`);
}
