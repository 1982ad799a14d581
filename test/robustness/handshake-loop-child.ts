/**
 * Child process for no-hang.test.ts (not a test file itself). Roles:
 *   server [freezeAfter]  - our TLS server on 127.0.0.1:0 with clientAuth 'request', echoing; churns
 *                           garbage all the time. With freezeAfter, it stops answering for good
 *                           after that many handshakes (to prove the watchdog catches a hang).
 *   client <port> <count> <timeoutMs> - `count` sequential mTLS handshakes with one echo each,
 *                           garbage and a forced GC between them, progress over IPC.
 * A process hung inside native code cannot time itself out, so the parent
 * keeps the clock and kills us by PID.
 */
import { createServer } from '../../src/tls/index.js';
import { serverOptions } from '../fakes/tls-fixtures.js';
import { mtlsEcho, portOf } from './flood-tools.js';

export type LoopMessage =
  | { readonly type: 'listening'; readonly port: number }
  | { readonly type: 'progress'; readonly index: number; readonly ms: number }
  | { readonly type: 'stall'; readonly index: number; readonly error: string }
  | { readonly type: 'done'; readonly count: number; readonly slowestMs: number };

function send(message: LoopMessage): void {
  process.send?.(message);
}

const gc: (() => void) | undefined = typeof globalThis.gc === 'function' ? globalThis.gc : undefined;

/** Short-lived objects and buffers, so the collector runs often and finalizes what handshakes left behind. */
function makeGarbage(rounds: number): number {
  let sum = 0;
  for (let r = 0; r < rounds; r++) {
    const junk: { i: number; s: string; b: Buffer }[] = [];
    for (let i = 0; i < 500; i++) junk.push({ i, s: `garbage ${i} ${r}`, b: Buffer.allocUnsafe(64 + (i % 256)) });
    sum += junk.length;
  }
  return sum;
}

function runServer(freezeAfter: number | undefined): void {
  let handshakes = 0;
  const server = createServer(serverOptions(), (socket) => {
    handshakes++;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('end', () => socket.end());
    if (freezeAfter !== undefined && handshakes >= freezeAfter) {
      // Block the event loop for good, as the Node 20 key-export deadlock does (PERF-NOTES).
      setImmediate(() => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
    }
  });
  server.listen(0, '127.0.0.1', () => send({ type: 'listening', port: portOf(server) }));
  setInterval(() => makeGarbage(2), 2).unref();
}

async function runClient(port: number, count: number, timeoutMs: number): Promise<void> {
  let slowestMs = 0;
  for (let index = 0; index < count; index++) {
    makeGarbage(4);
    if (index % 10 === 0) gc?.();
    let ms: number;
    try {
      ms = await mtlsEcho(port, timeoutMs, `handshake ${index}`);
    } catch (err) {
      send({ type: 'stall', index, error: err instanceof Error ? err.message : String(err) });
      process.exit(1);
    }
    slowestMs = Math.max(slowestMs, ms);
    send({ type: 'progress', index, ms });
  }
  send({ type: 'done', count, slowestMs });
}

// Orphaned by the parent (it died or killed the other child): stop.
process.on('disconnect', () => process.exit(0));

const [role, ...args] = process.argv.slice(2);
if (role === 'server') {
  runServer(args[0] === undefined ? undefined : Number.parseInt(args[0], 10));
} else if (role === 'client') {
  void runClient(Number.parseInt(args[0] ?? '0', 10), Number.parseInt(args[1] ?? '0', 10), Number.parseInt(args[2] ?? '5000', 10));
}
