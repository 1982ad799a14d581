import { connect as netConnect, type AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { connect, type TlsServer } from '../../src/tls/index.js';
import { clientOptions } from '../fakes/tls-fixtures.js';
import { announceSeed, seedFromEnv as seedOrDefault } from '../helpers/seed.js';

/** Shared by the robustness tests: a seeded PRNG, raw-socket probes, a well-formed mTLS check, forced GC. */

/** mulberry32: small, fast, and reproducible from a printed seed. */
export class Prng {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/**
 * The run's seed: a fixed one by default (so a run is reproducible), or
 * KEYSMITH_SEED to replay a printed seed or to try a fresh one (CI does
 * both); printed once per file under `what`.
 */
export function seedFromEnv(what = 'robustness fuzz'): number {
  const seed = seedOrDefault();
  announceSeed(what, seed);
  return seed;
}

/** `gc()` without starting node with --expose-gc (the runner starts us as `node --test file`). */
export function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('gc');
  if (typeof gc !== 'function') throw new Error('gc is not available');
  return () => {
    Reflect.apply(gc, undefined, []);
  };
}

export function portOf(server: TlsServer): number {
  const address: AddressInfo | string | null = server.address();
  if (address === null || typeof address === 'string') throw new Error('server is not listening on TCP');
  return address.port;
}

export interface ProbeResult {
  /** What the server sent back. */
  readonly response: Buffer;
  /** The server closed (or reset) the connection within the bound. */
  readonly isClosed: boolean;
  /** The server sent nothing and did not close within `answerMs`. */
  readonly isSilent: boolean;
}

/**
 * Sends raw bytes over a fresh TCP connection, waits for the server's first
 * answer (or `answerMs`), half-closes, and waits up to `closeMs` for the
 * server to close. The socket is always destroyed before this resolves.
 */
export function probe(port: number, bytes: Buffer, answerMs = 100, closeMs = 2_000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let isClosed = false;
    let isSilent = false;
    let answerTimer: NodeJS.Timeout | undefined;
    let closeTimer: NodeJS.Timeout | undefined;
    let hasEnded = false;
    const socket = netConnect({ host: '127.0.0.1', port });
    const finish = (): void => {
      clearTimeout(answerTimer);
      clearTimeout(closeTimer);
      socket.destroy();
      resolve({ response: Buffer.concat(chunks), isClosed, isSilent });
    };
    const endNow = (): void => {
      if (hasEnded) return;
      hasEnded = true;
      clearTimeout(answerTimer);
      socket.end();
      closeTimer = setTimeout(finish, closeMs);
    };
    socket.on('error', () => {
      // A reset is one way for the server to close.
    });
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      endNow();
    });
    socket.on('end', () => endNow());
    socket.on('close', () => {
      isClosed = true;
      finish();
    });
    socket.on('connect', () => {
      socket.write(bytes);
      answerTimer = setTimeout(() => {
        isSilent = chunks.length === 0;
        endNow();
      }, answerMs);
    });
  });
}

/**
 * A well-formed mTLS handshake with our own client, then one echoed message.
 * Resolves with the round-trip time; rejects on any failure or after `timeoutMs`.
 */
export function mtlsEcho(port: number, timeoutMs = 5_000, message = 'ping'): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({ ...clientOptions(), host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`mTLS handshake and echo not done within ${timeoutMs} ms`));
    }, timeoutMs);
    let echoed = '';
    socket.on('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
    socket.on('secure', () => socket.write(message));
    socket.on('data', (chunk: Buffer) => {
      echoed += chunk.toString();
      if (echoed.length >= message.length) {
        clearTimeout(timer);
        socket.end();
        socket.destroy();
        if (echoed === message) resolve(performance.now() - started);
        else reject(new Error(`echo returned ${JSON.stringify(echoed)}`));
      }
    });
  });
}

/** Runs `tasks` with at most `limit` in flight at once. */
export async function runBounded<T>(tasks: readonly (() => Promise<T>)[], limit: number): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, () => worker()));
  return results;
}
