/**
 * The benches' forked server: where it is pinned, how it is started, and
 * the typed IPC both sides speak (the child sends `{ type: 'ready', ... }`
 * first, then answers the parent's requests).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';

export interface Pinning {
  readonly prefix: string[];
  readonly description: string;
}

/** Server on CPU 0 (all its threads), this process (the load) on CPU 1; BENCH_PIN=none leaves both unpinned. */
export function pinning(): Pinning {
  if (process.env['BENCH_PIN'] === 'none') return { prefix: [], description: 'unpinned (BENCH_PIN=none)' };
  const hasTaskset = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
  if (!hasTaskset) return { prefix: [], description: 'unpinned (no taskset)' };
  if (availableParallelism() < 2) return { prefix: ['taskset', '-c', '0'], description: 'server on CPU 0, load shares it (1 core)' };
  spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  return { prefix: ['taskset', '-c', '0'], description: 'server pinned to CPU 0 (all its threads), load on CPU 1' };
}

export interface BenchServer<Message extends { readonly type: string }, Request> {
  readonly child: ChildProcess;
  readonly ready: Extract<Message, { type: 'ready' }>;
  tell(message: Request): void;
  next<T extends Message['type']>(type: T): Promise<Extract<Message, { type: T }>>;
}

/** Forks `script` under `prefix` and waits for its 'ready'; BENCH_CPU_PROFILE=DIR makes it write a V8 .cpuprofile there on exit. */
export async function startBenchServer<Message extends { readonly type: string }, Request>(
  script: string,
  prefix: readonly string[],
  isMessage: (raw: unknown) => raw is Message,
  timeoutMs: number,
  /** Added to this process's environment for the child. */
  env: Readonly<Record<string, string>> = {},
): Promise<BenchServer<Message, Request>> {
  const profileDir = process.env['BENCH_CPU_PROFILE'];
  const profiling = profileDir === undefined || profileDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  const [command, ...args] = [...prefix, process.execPath, ...profiling, script];
  const child = spawn(command ?? process.execPath, args, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...env },
  });
  const waiting: { type: string; resolve: (m: Message) => void }[] = [];
  child.on('message', (raw: unknown) => {
    if (!isMessage(raw)) return;
    const at = waiting.findIndex((w) => w.type === raw.type);
    if (at !== -1) waiting.splice(at, 1)[0]?.resolve(raw);
  });
  let exited = false;
  const onExit: (() => void)[] = [];
  child.once('exit', () => {
    exited = true;
    for (const fail of onExit.splice(0)) fail();
  });
  const next = <T extends Message['type']>(type: T): Promise<Extract<Message, { type: T }>> =>
    new Promise((resolve, reject) => {
      // A server that dies (a start-up error it printed) fails the wait now, not after the timeout.
      if (exited) return reject(new Error(`the bench server exited before sending '${type}'`));
      onExit.push(() => reject(new Error(`the bench server exited before sending '${type}'`)));
      const timer = setTimeout(() => reject(new Error(`the bench server sent no '${type}' within ${timeoutMs / 1000} s`)), timeoutMs);
      waiting.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          // The waiting list is keyed by type, so the message is the asked-for variant.
          resolve(m as Extract<Message, { type: T }>);
        },
      });
    });
  // Every server protocol opens with a 'ready' message; the generic Message cannot say so to the compiler.
  const ready = (await next('ready')) as unknown as Extract<Message, { type: 'ready' }>;
  return { child, ready, next, tell: (message) => child.send(message as object) };
}
