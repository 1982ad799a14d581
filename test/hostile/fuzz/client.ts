/**
 * How the fuzzer talks to the child service: HTTPS requests through
 * keep-alive agents, raw bytes over a fresh TLS connection, raw bytes over
 * TCP. Every exchange is bounded in time and resolves, never rejects, so
 * the oracle (is the child alive?) always gets to run. Connections come
 * from rotating 127.0.0.0/8 source addresses: per-address rate limits
 * (join tokens, new accounts) would otherwise stop the fuzzer long before
 * the service's parsers saw many inputs.
 */
import { Agent, request } from 'node:https';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/** What came back for one input. */
export interface Outcome {
  /**
   * HTTP status, or what happened to the connection: `open` means the peer
   * answered and then went quiet with the connection open (a raw exchange).
   */
  readonly status: number | 'open' | 'closed' | 'reset' | 'timeout' | 'error';
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
}

const EXCHANGE_TIMEOUT_MS = 10_000;

/** 127.0.0.2 upwards, one /8 worth before it wraps. */
export class SourceAddresses {
  private next = 2;

  take(): string {
    const n = this.next;
    this.next = n >= 0xfffffe ? 2 : n + 1;
    return `127.${(n >> 16) & 0xff}.${(n >> 8) & 0xff}.${n & 0xff}`;
  }
}

export interface HttpsRequest {
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer;
}

/**
 * Keep-alive HTTPS to the service from one source address at a time; the
 * address changes every `requestsPerAddress` requests.
 */
export class HttpsClient {
  private agent: Agent | undefined;
  private used = 0;

  constructor(
    private readonly port: number,
    private readonly ca: string,
    private readonly sources: SourceAddresses,
    private readonly requestsPerAddress = 200,
  ) {}

  private currentAgent(): Agent {
    if (this.agent === undefined || this.used >= this.requestsPerAddress) {
      this.agent?.destroy();
      this.agent = new Agent({ keepAlive: true, maxSockets: 1, ca: this.ca, localAddress: this.sources.take() });
      this.used = 0;
    }
    this.used++;
    return this.agent;
  }

  send(req: HttpsRequest, timeoutMs = EXCHANGE_TIMEOUT_MS): Promise<Outcome> {
    const agent = this.currentAgent();
    return new Promise((resolve) => {
      let isDone = false;
      const finish = (outcome: Outcome): void => {
        if (isDone) return;
        isDone = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const timer = setTimeout(() => {
        outgoing.destroy();
        // A connection that timed out is not reused.
        this.used = this.requestsPerAddress;
        finish({ status: 'timeout', headers: {}, body: Buffer.alloc(0) });
      }, timeoutMs);
      const headers: Record<string, string> = { ...req.headers };
      if (req.body !== undefined) headers['content-length'] = String(req.body.length);
      const outgoing = request(
        { host: '127.0.0.1', port: this.port, servername: 'localhost', method: req.method, path: req.path, headers, agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.once('end', () => finish({ status: res.statusCode ?? 'error', headers: res.headers, body: Buffer.concat(chunks) }));
          res.once('error', () => finish({ status: 'reset', headers: res.headers, body: Buffer.concat(chunks) }));
        },
      );
      outgoing.once('error', (err: NodeJS.ErrnoException) => {
        this.used = this.requestsPerAddress;
        finish({ status: err.code === 'ECONNRESET' ? 'reset' : 'error', headers: {}, body: Buffer.from(err.message) });
      });
      outgoing.end(req.body);
    });
  }

  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }
}

export interface RawOptions {
  /** After the first answer, wait this long for more before hanging up. */
  readonly idleMs?: number;
  /** Hang up after this long in any case. */
  readonly timeoutMs?: number;
  /** Bytes written one chunk per write, with a tick between (a request split across records or segments). */
  readonly chunks?: readonly Buffer[];
  /** A client certificate (PEM chain and key) for rawTls: an admin's, to reach the routes behind it. */
  readonly identity?: { readonly cert: string; readonly key: string };
}

/** Collects what a socket sends until it closes, goes idle after answering, or the bound passes. */
function collect(socket: import('node:net').Socket, options: RawOptions, write: () => void): Promise<Outcome> {
  const idleMs = options.idleMs ?? 50;
  const timeoutMs = options.timeoutMs ?? 2_000;
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let isDone = false;
    let idleTimer: NodeJS.Timeout | undefined;
    let status: Outcome['status'] = 'timeout';
    const finish = (): void => {
      if (isDone) return;
      isDone = true;
      clearTimeout(idleTimer);
      clearTimeout(timer);
      socket.destroy();
      resolve({ status, headers: {}, body: Buffer.concat(chunks) });
    };
    const timer = setTimeout(finish, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      status = 'open';
      clearTimeout(idleTimer);
      idleTimer = setTimeout(finish, idleMs);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      status = err.code === 'ECONNRESET' ? 'reset' : 'error';
      finish();
    });
    socket.once('close', () => {
      if (status === 'timeout' || status === 'open') status = 'closed';
      finish();
    });
    write();
  });
}

/** Raw bytes over a fresh TCP connection (a TLS record fuzzer's view). */
export function rawTcp(port: number, source: string, bytes: Buffer, options: RawOptions = {}): Promise<Outcome> {
  const socket = netConnect({ host: '127.0.0.1', port, localAddress: source });
  return collect(socket, options, () => {
    socket.once('connect', () => void writeAll(socket, options.chunks ?? [bytes]));
  });
}

/** Raw bytes over a fresh TLS connection that verifies the service (an HTTP head fuzzer's view). */
export function rawTls(port: number, ca: string, source: string, bytes: Buffer, options: RawOptions = {}): Promise<Outcome> {
  const tcp = netConnect({ host: '127.0.0.1', port, localAddress: source });
  const socket = tlsConnect({ socket: tcp, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'], ...options.identity });
  return collect(socket, options, () => {
    socket.once('secureConnect', () => void writeAll(socket, options.chunks ?? [bytes]));
  });
}

async function writeAll(socket: import('node:net').Socket, chunks: readonly Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    if (socket.destroyed) return;
    socket.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
}
