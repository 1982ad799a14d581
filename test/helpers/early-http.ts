import { once } from 'node:events';
import { connect, type TlsSocket } from '../../src/tls/index.js';

/** One HTTP/1.1 response read off a connection: status, headers (lowercase names), body (Content-Length only). */
export interface EarlyHttpResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string;
}

/** What sending a request as 0-RTT came to: the first answer, and the answer after a retry when the first was 425. */
export interface EarlyHttpResult {
  readonly earlyDataAccepted: boolean;
  readonly isResumed: boolean;
  readonly first: EarlyHttpResponse;
  /** The answer to the request sent again after the handshake, when the first was 425 Too Early (RFC 8470 §5.2). */
  readonly retried: EarlyHttpResponse | undefined;
}

export interface EarlyHttpOptions {
  readonly port: number;
  readonly ca: string;
  /** A session from an earlier connection's 'session' event, whose ticket allows early data. */
  readonly session: Uint8Array;
  /** The whole request (head and body); it must fit the ticket's max_early_data_size to go as 0-RTT. */
  readonly request: string;
}

/** Reads whole responses off a socket, in order. */
export class HttpResponseReader {
  private buffered = Buffer.alloc(0);
  private wake: (() => void) | undefined;

  constructor(private readonly socket: TlsSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.wake?.();
    });
  }

  async next(timeoutMs = 5_000): Promise<EarlyHttpResponse> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const parsed = this.take();
      if (parsed !== undefined) return parsed;
      if (performance.now() > deadline || this.socket.destroyed) throw new Error('no whole HTTP response arrived');
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
  }

  private take(): EarlyHttpResponse | undefined {
    const end = this.buffered.indexOf('\r\n\r\n');
    if (end < 0) return undefined;
    const [statusLine = '', ...lines] = this.buffered.subarray(0, end).toString('latin1').split('\r\n');
    const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    const length = Number(headers.get('content-length') ?? '0');
    if (this.buffered.length < end + 4 + length) return undefined;
    const body = this.buffered.subarray(end + 4, end + 4 + length).toString('utf8');
    this.buffered = this.buffered.subarray(end + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }
}

/**
 * Sends an HTTP request as TLS 1.3 early data with keysmith's client and,
 * when the server answers 425 Too Early, sends it again on the same
 * connection once the handshake is complete (RFC 8470 §5.2: the client
 * retries after the handshake). Early data the server refuses at the TLS
 * level is resent by the client itself (RFC 8446 §4.2.10).
 */
export async function requestWithEarlyData(options: EarlyHttpOptions): Promise<EarlyHttpResult> {
  const socket = connect({
    host: '127.0.0.1',
    port: options.port,
    servername: 'localhost',
    ca: options.ca,
    ALPNProtocols: ['http/1.1'],
    session: options.session,
    earlyData: Buffer.from(options.request, 'latin1'),
  });
  try {
    const responses = new HttpResponseReader(socket);
    const first = await responses.next();
    let retried: EarlyHttpResponse | undefined;
    if (first.status === 425) {
      if (!socket.isSecure) await once(socket, 'secure');
      socket.write(options.request);
      retried = await responses.next();
    }
    return { earlyDataAccepted: socket.earlyDataAccepted, isResumed: socket.isResumed, first, retried };
  } finally {
    socket.destroy();
  }
}

/** A session from a first, full handshake: the ticket the server sends after it. */
export async function fetchSession(port: number, ca: string): Promise<Uint8Array> {
  const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] });
  try {
    const [session] = (await once(socket, 'session')) as [Uint8Array];
    return session;
  } finally {
    socket.destroy();
  }
}
