/**
 * What the bench parent (load generator) and the server child say to each
 * other over the fork IPC channel, plus the fixtures both sides load.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export type Impl = 'node' | 'keysmith';
export const IMPLS: readonly Impl[] = ['node', 'keysmith'];

/**
 * What the server does with a connection once it is up:
 * - handshake: count it, write one byte and close (full and resumed handshakes);
 * - bulk: read and discard, or write as fast as the peer reads;
 * - http: hand it to one node:http server;
 * - idle: keep it and do nothing (memory per connection).
 */
export type ServerMode = 'handshake' | 'bulk' | 'http' | 'idle';

export type ParentMessage =
  | { readonly type: 'start' }
  | { readonly type: 'stop' }
  | { readonly type: 'send'; readonly on: boolean }
  | { readonly type: 'mem' }
  | { readonly type: 'exit' };

export interface Counters {
  /** Completed handshakes ('secureConnection'). */
  handshakes: number;
  /** Of those, resumed ones. */
  resumed: number;
  /** Handshakes that failed on the server ('tlsClientError'). */
  errors: number;
  /** Application bytes read (client to server). */
  bytesIn: number;
  /** Application bytes handed to write() (server to client). */
  bytesOut: number;
  /** HTTP requests answered. */
  requests: number;
}

export interface WindowStats extends Counters {
  /** Server CPU, user + system, over the window, in microseconds (all threads). */
  readonly cpuUs: number;
  readonly wallMs: number;
}

/**
 * One measured window of a server child: `open` snapshots CPU, wall clock and
 * counters at 'start'; `close` answers 'stop' with what changed since.
 */
export class MeasureWindow {
  private start: { readonly cpu: NodeJS.CpuUsage; readonly wall: bigint; readonly counters: Counters } | undefined;

  constructor(private readonly counters: Counters) {}

  open(): void {
    this.start = { cpu: process.cpuUsage(), wall: process.hrtime.bigint(), counters: { ...this.counters } };
  }

  close(): WindowStats {
    const start = this.start;
    this.start = undefined;
    const cpu = process.cpuUsage(start?.cpu);
    const before = start?.counters ?? { handshakes: 0, resumed: 0, errors: 0, bytesIn: 0, bytesOut: 0, requests: 0 };
    const now = this.counters;
    return {
      cpuUs: cpu.user + cpu.system,
      wallMs: Number(process.hrtime.bigint() - (start?.wall ?? 0n)) / 1e6,
      handshakes: now.handshakes - before.handshakes,
      resumed: now.resumed - before.resumed,
      errors: now.errors - before.errors,
      bytesIn: now.bytesIn - before.bytesIn,
      bytesOut: now.bytesOut - before.bytesOut,
      requests: now.requests - before.requests,
    };
  }
}

export interface MemStats {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
  readonly arrayBuffers: number;
  /** Connections currently open on the server, secured. */
  readonly open: number;
}

export type ChildMessage =
  | { readonly type: 'ready'; readonly port: number }
  | { readonly type: 'started' }
  | { readonly type: 'stats'; readonly stats: WindowStats }
  | { readonly type: 'sending'; readonly on: boolean }
  | { readonly type: 'mem'; readonly mem: MemStats }
  | { readonly type: 'fatal'; readonly message: string };

/** The compiled file lives in dist/bench/tls; the fixtures in test/fixtures at the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function fixture(name: string): string {
  return readFileSync(new URL(`../../../test/fixtures/${name}`, import.meta.url), 'utf8');
}

export interface Fixtures {
  readonly ca: string;
  readonly serverKey: string;
  readonly serverChain: string;
  readonly clientKey: string;
  readonly clientChain: string;
  /** A CA that did not issue the server's chain (for load clients that skip verifying it). */
  readonly otherCa: string;
}

export function loadFixtures(): Fixtures {
  return {
    ca: fixture('ca.pem'),
    serverKey: fixture('server.key'),
    serverChain: fixture('server-chain.pem'),
    clientKey: fixture('client.key'),
    clientChain: fixture('client-chain.pem'),
    otherCa: fixture('other-ca.pem'),
  };
}

export function isParentMessage(value: unknown): value is ParentMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

export function isChildMessage(value: unknown): value is ChildMessage {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}
