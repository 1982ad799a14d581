import { spawn, type ChildProcess } from 'node:child_process';
import { once, type EventEmitter } from 'node:events';
import { accessSync, constants } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { basename, delimiter, dirname, join } from 'node:path';
import { withTestBackend } from './test-backend.js';

/**
 * Third-party TLS peers (openssl, gnutls-cli, curl) as child processes for
 * the interop tests. Every wait is bounded, every process has a hard
 * lifetime, and every kill goes to the child's own PID (no shell, no
 * process names). Processes still alive when the test file's process exits
 * are killed from an 'exit' hook, so a failing test cannot leak one.
 */

/** The default bound on any single wait. */
export const DEFAULT_WAIT_MS = 10_000;
/** A process is killed after this long whatever the test is doing. */
const DEFAULT_LIFETIME_MS = 30_000;
/** How long a SIGTERM gets before SIGKILL. */
const TERM_GRACE_MS = 1_000;
/** How much output an error message quotes. */
const TAIL_CHARS = 4_000;

export interface ExitStatus {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ProcessResult extends ExitStatus {
  readonly stdout: string;
  readonly stderr: string;
}

export interface StartOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Hard limit on the process's life; SIGKILL by PID when reached. */
  readonly lifetimeMs?: number;
}

export type StreamName = 'stdout' | 'stderr' | 'both';

export interface WaitForOptions {
  readonly stream?: StreamName;
  readonly timeoutMs?: number;
  /** Only match text from this offset on (see `offset()`), to wait for a *new* occurrence. */
  readonly from?: number;
}

const live = new Set<ThirdPartyProcess>();
process.on('exit', () => {
  for (const p of live) p.killNow();
});

/** A running third-party program with its output collected as text. */
export class ThirdPartyProcess {
  readonly pid: number;
  private readonly child: ChildProcess;
  private out = '';
  private err = '';
  /** stdout and stderr interleaved in arrival order, for `stream: 'both'`. */
  private combined = '';
  private status: ExitStatus | undefined;
  private readonly closed: Promise<ExitStatus>;
  private readonly listeners = new Set<() => void>();
  private readonly lifetimeTimer: NodeJS.Timeout;

  constructor(
    readonly command: string,
    readonly args: readonly string[],
    options: StartOptions = {},
  ) {
    const env = options.env ?? process.env;
    this.child = spawn(command, [...args], {
      cwd: options.cwd,
      // `keysmith` itself gets the test backend's ledger (KEYSMITH_TEST_BACKEND=postgres: a database per data directory).
      env: isKeysmithCli(command, args) ? withTestBackend(env) : env,
      stdio: ['pipe', 'pipe', 'pipe'],
      shell: false,
    });
    if (this.child.pid === undefined) {
      // spawn reports ENOENT asynchronously; surface it here instead of an unhandled 'error'.
      throw new Error(`could not start ${command} (is it installed and on PATH?)`);
    }
    this.pid = this.child.pid;
    live.add(this);
    this.child.stdout!.setEncoding('latin1');
    this.child.stderr!.setEncoding('latin1');
    this.child.stdout!.on('data', (text: string) => {
      this.out += text;
      this.combined += text;
      this.notify();
    });
    this.child.stderr!.on('data', (text: string) => {
      this.err += text;
      this.combined += text;
      this.notify();
    });
    // Writing to a program that already exited raises EPIPE on stdin; the exit status tells the story.
    this.child.stdin!.on('error', () => {});
    this.child.on('error', () => {});
    this.closed = new Promise((resolve) => {
      // 'close' comes after both output streams ended, so no output is lost.
      this.child.once('close', (code, signal) => {
        this.status = { code, signal };
        live.delete(this);
        clearTimeout(this.lifetimeTimer);
        this.notify();
        resolve(this.status);
      });
    });
    this.lifetimeTimer = setTimeout(() => this.killNow(), options.lifetimeMs ?? DEFAULT_LIFETIME_MS);
    this.lifetimeTimer.unref();
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Both streams, interleaved in arrival order. */
  get output(): string {
    return this.combined;
  }

  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  get hasExited(): boolean {
    return this.status !== undefined;
  }

  /** The current length of a stream, to pass as `from` when waiting for what comes next. */
  offset(stream: StreamName = 'stdout'): number {
    return this.text(stream).length;
  }

  /** Writes to the program's stdin; resolves once the bytes were handed to the pipe. */
  async write(data: string | Uint8Array): Promise<void> {
    const stdin = this.child.stdin!;
    if (stdin.destroyed || stdin.writableEnded) throw new Error(`${this.name} stdin is closed`);
    await new Promise<void>((resolve, reject) => stdin.write(data, (err) => (err ? reject(err) : resolve())));
  }

  /** Closes stdin: the program sees end of file. */
  endInput(): void {
    const stdin = this.child.stdin!;
    if (!stdin.destroyed && !stdin.writableEnded) stdin.end();
  }

  /**
   * Resolves with the match once `pattern` appears in the chosen stream.
   * Rejects when the process exits without printing it, or after the timeout,
   * quoting the output either way.
   */
  waitFor(pattern: RegExp | string, options: WaitForOptions = {}): Promise<RegExpMatchArray> {
    const stream = options.stream ?? 'both';
    const from = options.from ?? 0;
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const regex = typeof pattern === 'string' ? new RegExp(escapeRegExp(pattern)) : pattern;
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const match = this.text(stream).slice(from).match(regex);
        if (match !== null) {
          done();
          resolve(match);
          return true;
        }
        if (this.status !== undefined) {
          done();
          reject(
            new Error(`${this.name} exited (${describeStatus(this.status)}) without printing ${String(regex)}\n${this.describeOutput()}`),
          );
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} did not print ${String(regex)} within ${timeoutMs} ms\n${this.describeOutput()}`));
      }, timeoutMs);
      const listener = (): void => {
        check();
      };
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(listener);
      };
      if (!check()) this.listeners.add(listener);
    });
  }

  /** Waits for the exit (bounded), killing the process if it overstays. */
  async waitForExit(timeoutMs = DEFAULT_WAIT_MS): Promise<ProcessResult> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([this.closed, timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      await this.kill();
      throw new Error(`${this.name} did not exit within ${timeoutMs} ms (killed)\n${this.describeOutput()}`);
    }
    return { ...outcome, stdout: this.out, stderr: this.err };
  }

  /** SIGTERM to our child's PID, then SIGKILL if it is still there after a short grace. Idempotent. */
  async kill(): Promise<ExitStatus> {
    if (this.status !== undefined) return this.status;
    this.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'grace'>((resolve) => {
      timer = setTimeout(() => resolve('grace'), TERM_GRACE_MS);
    });
    const outcome = await Promise.race([this.closed, grace]);
    clearTimeout(timer);
    if (outcome !== 'grace') return outcome;
    this.signal('SIGKILL');
    return this.closed;
  }

  /** SIGKILL, synchronously (for exit hooks and the lifetime timer). */
  killNow(): void {
    if (this.status === undefined) this.signal('SIGKILL');
  }

  /** The command line and the tail of the output, for assertion messages. */
  describeOutput(): string {
    return `--- ${this.name} stdout (tail) ---\n${tail(this.out)}\n--- stderr (tail) ---\n${tail(this.err)}`;
  }

  get name(): string {
    return `${this.command} ${this.args.join(' ')} [pid ${this.pid}]`;
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      process.kill(this.pid, signal);
    } catch {
      // ESRCH: it exited in the meantime.
    }
  }

  private text(stream: StreamName): string {
    return stream === 'stdout' ? this.out : stream === 'stderr' ? this.err : this.combined;
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/** Whether this is `node <...>/cli/main.js`: the built keysmith command. */
function isKeysmithCli(command: string, args: readonly string[]): boolean {
  const script = args[0];
  return command === process.execPath && script !== undefined && basename(script) === 'main.js' && basename(dirname(script)) === 'cli';
}

/** Starts a program; the caller must `kill()` it (tests do so in `afterEach` or `finally`). */
export function startProcess(command: string, args: readonly string[], options: StartOptions = {}): ThirdPartyProcess {
  return new ThirdPartyProcess(command, args, options);
}

export interface RunOptions extends StartOptions {
  /** Written to stdin, which is then closed. */
  readonly stdin?: string | Uint8Array;
  readonly timeoutMs?: number;
}

/** Runs a program to completion with a bounded wait; always leaves no process behind. */
export async function runProcess(command: string, args: readonly string[], options: RunOptions = {}): Promise<ProcessResult> {
  const child = startProcess(command, args, options);
  try {
    if (options.stdin !== undefined) await child.write(options.stdin).catch(() => {});
    child.endInput();
    return await child.waitForExit(options.timeoutMs ?? DEFAULT_WAIT_MS);
  } finally {
    await child.kill();
  }
}

/**
 * A port that was free a moment ago on 127.0.0.1: bind to port 0, read the
 * port, close. For programs that cannot listen on port 0 and report it
 * (openssl s_server); there is a small race, which startOpensslServer retries.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await withTimeout(once(server, 'listening'), DEFAULT_WAIT_MS, 'binding a probe port');
  const port = portOf(server.address());
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface OpensslServer {
  readonly process: ThirdPartyProcess;
  readonly port: number;
}

/**
 * `openssl s_server -accept 127.0.0.1:PORT ...args`, resolved once it
 * printed ACCEPT. A bind race with another process is retried on a new port.
 */
export async function startOpensslServer(args: readonly string[], options: StartOptions = {}): Promise<OpensslServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child = startProcess('openssl', ['s_server', '-accept', `127.0.0.1:${port}`, ...args], options);
    try {
      await child.waitFor(/^ACCEPT$/m, { stream: 'stdout' });
      return { process: child, port };
    } catch (err) {
      lastError = err;
      await child.kill();
      if (!/in use|bind/i.test(child.output)) break;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** The port in serve's "keysmith listening on https://host:PORT" line. */
export function listeningPort(output: string): number {
  const match = /keysmith listening on https:\/\/[^\s]*:(\d+) /.exec(output);
  if (match === null) throw new Error(`no listening line in:\n${output}`);
  return Number(match[1]);
}

/** The port of a listening server's address (a TCP listener, never a pipe). */
export function portOf(address: AddressInfo | string | null): number {
  if (address === null || typeof address === 'string') throw new Error(`not a TCP listener: ${String(address)}`);
  return address.port;
}

/** Whether `command` is an executable on PATH. */
export function hasCommand(command: string): boolean {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

/** Rejects with a message naming `what` when `promise` does not settle in time. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The arguments of the next `event` on `emitter`, within `ms`; an 'error' event rejects. */
export function nextEvent(emitter: EventEmitter, event: string, ms = DEFAULT_WAIT_MS): Promise<unknown[]> {
  return withTimeout(once(emitter, event), ms, `waiting for '${event}'`);
}

function describeStatus(status: ExitStatus): string {
  return status.signal !== null ? `signal ${status.signal}` : `code ${String(status.code)}`;
}

function tail(text: string): string {
  return text.length <= TAIL_CHARS ? text : `…${text.slice(-TAIL_CHARS)}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
