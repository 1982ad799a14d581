import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LoopMessage } from './handshake-loop-child.js';

/**
 * The Node 20 hazard of PERF-NOTES: exporting a generateKeyPairSync key as
 * JWK can deadlock the whole process when a GC lands inside the export. A
 * TLS engine that makes an ephemeral key per handshake must never take that
 * path. A deadlocked process cannot time itself out, so the server and the
 * client loop each run in a child process (test/robustness/handshake-loop-child.ts)
 * and this process, which does no crypto, keeps the clock: no progress for
 * STALL_MS means a hang, and both children are killed by PID.
 */

const CHILD = fileURLToPath(new URL('./handshake-loop-child.js', import.meta.url));
const HANDSHAKES = 300;
const PER_HANDSHAKE_MS = 3_000;
const STALL_MS = 5_000;
const TOTAL_MS = 30_000;

function isLoopMessage(value: unknown): value is LoopMessage {
  return typeof value === 'object' && value !== null && 'type' in value && typeof value.type === 'string';
}

function start(args: readonly string[]): { child: ChildProcess; stderr: () => string } {
  const child = fork(CHILD, [...args], { execArgv: ['--expose-gc'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_000);
  });
  return { child, stderr: () => stderr };
}

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

interface LoopOutcome {
  readonly completed: number;
  readonly slowestMs: number;
  /** Why the loop ended early: a stall the watchdog saw, a stall the client saw, or a crash. */
  readonly failure: string | undefined;
  readonly detectedAfterMs: number | undefined;
}

/** Starts a server child and a client child and watches the client's progress. */
async function runLoop(count: number, serverArgs: readonly string[] = []): Promise<LoopOutcome> {
  const server = start(['server', ...serverArgs]);
  const children: ChildProcess[] = [server.child];
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server child did not listen: ${server.stderr()}`)), 10_000);
      server.child.on('message', (m: unknown) => {
        if (isLoopMessage(m) && m.type === 'listening') {
          clearTimeout(timer);
          resolve(m.port);
        }
      });
      server.child.on('exit', (code) => reject(new Error(`server child exited with ${code}: ${server.stderr()}`)));
    });
    const client = start(['client', String(port), String(count), String(PER_HANDSHAKE_MS)]);
    children.push(client.child);
    return await new Promise<LoopOutcome>((resolve) => {
      let completed = 0;
      let lastProgress = performance.now();
      const begun = performance.now();
      let isSettled = false;
      const settle = (outcome: Omit<LoopOutcome, 'completed'>): void => {
        if (isSettled) return;
        isSettled = true;
        clearInterval(watchdog);
        resolve({ completed, ...outcome });
      };
      const watchdog = setInterval(() => {
        const now = performance.now();
        if (now - lastProgress > STALL_MS) {
          settle({
            slowestMs: 0,
            failure: `no handshake completed for ${STALL_MS} ms after #${completed - 1} (server stopped answering or client hung)`,
            detectedAfterMs: now - begun,
          });
        } else if (now - begun > TOTAL_MS) {
          settle({ slowestMs: 0, failure: `only ${completed} of ${count} handshakes in ${TOTAL_MS} ms`, detectedAfterMs: now - begun });
        }
      }, 100);
      client.child.on('message', (m: unknown) => {
        if (!isLoopMessage(m)) return;
        if (m.type === 'progress') {
          completed = m.index + 1;
          lastProgress = performance.now();
        } else if (m.type === 'stall') {
          settle({
            slowestMs: 0,
            failure: `handshake #${m.index} failed or stalled: ${m.error}`,
            detectedAfterMs: performance.now() - begun,
          });
        } else if (m.type === 'done') {
          settle({ slowestMs: m.slowestMs, failure: undefined, detectedAfterMs: undefined });
        }
      });
      client.child.on('exit', (code, signal) => {
        settle({
          slowestMs: 0,
          failure: `client child exited (${code ?? signal}) after ${completed}: ${client.stderr()} / server: ${server.stderr()}`,
          detectedAfterMs: performance.now() - begun,
        });
      });
    });
  } finally {
    for (const child of children) kill(child);
  }
}

describe('No hang under GC pressure (PERF-NOTES: Node 20 key export deadlock)', () => {
  it(
    `completes ${HANDSHAKES} sequential mTLS handshakes against our server with garbage churned between them, none stalling`,
    { timeout: TOTAL_MS + 15_000 },
    async (t) => {
      const outcome = await runLoop(HANDSHAKES);
      t.diagnostic(`completed ${outcome.completed}, slowest ${outcome.slowestMs.toFixed(1)} ms`);
      assert.equal(outcome.failure, undefined);
      assert.equal(outcome.completed, HANDSHAKES);
    },
  );

  it(
    'has a watchdog that catches a server that stops answering (a frozen event loop after 5 handshakes)',
    { timeout: 20_000 },
    async () => {
      const outcome = await runLoop(50, ['5']);
      assert.ok(outcome.failure !== undefined, 'the freeze went unnoticed');
      assert.ok(outcome.completed >= 4 && outcome.completed <= 5, `completed ${outcome.completed}`);
      assert.ok(outcome.detectedAfterMs !== undefined && outcome.detectedAfterMs < PER_HANDSHAKE_MS + STALL_MS + 2_000);
    },
  );
});
