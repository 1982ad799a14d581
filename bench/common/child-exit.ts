import type { ChildProcess } from 'node:child_process';

/**
 * Asks a bench server child to exit with `{ type: 'exit' }` over its IPC
 * channel (so `--cpu-prof` writes its profile on the way out), and kills it
 * by its PID if it has not exited within 10 s.
 */
export async function askChildToExit(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    child.send({ type: 'exit' });
  } catch {
    // Channel already closed.
  }
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, 10_000);
  await exited;
  clearTimeout(timer);
}
