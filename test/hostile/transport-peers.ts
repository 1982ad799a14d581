import { connect as netConnect, type Socket } from 'node:net';
import { connect, type TLSSocket } from 'node:tls';
import { resolveClientConfig } from '../../src/tls/config.js';
import { Connection } from '../../src/tls/connection.js';
import { nodeCryptoProvider } from '../../src/tls/crypto/node-provider.js';
import { startClientHandshake } from '../../src/tls/handshake/client/index.js';

/**
 * Hostile transport peers for the transport tests and bench/hostile: real
 * TLS clients (node:tls) that misbehave at the HTTP or record level. Each
 * holds only what it needs and closes by itself when told.
 */

/** One pipelined request; `Host` is required by HTTP/1.1 (RFC 9112 §3.2). */
export function pipelinedGets(path: string, count: number): Buffer {
  return Buffer.from(`GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`.repeat(count), 'latin1');
}

/** Opens a TLS connection without a client certificate and resolves once it is secure. */
export function openTls(port: number, ca: string, timeoutMs = 10_000): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TLS handshake with 127.0.0.1:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      // A hostile peer's own errors (reset when the server cuts it) are expected.
      socket.on('error', () => {});
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/**
 * Clients that write `requests` pipelined GETs of `path` in one write and
 * then never read: the server's answers pile up unless it stops reading
 * them.
 */
export class NonReadingPipeliners {
  private constructor(readonly sockets: readonly TLSSocket[]) {}

  static async open(port: number, ca: string, clients: number, requests: number, path = '/openapi.json'): Promise<NonReadingPipeliners> {
    const sockets = await Promise.all(Array.from({ length: clients }, () => openTls(port, ca)));
    const burst = pipelinedGets(path, requests);
    for (const socket of sockets) {
      socket.pause();
      socket.write(burst);
    }
    return new NonReadingPipeliners(sockets);
  }

  /** How many of the connections the server has not closed. */
  get openCount(): number {
    return this.sockets.filter((s) => !s.destroyed && !s.readableEnded).length;
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A connection whose tiny records are sealed and ready to go in one write. */
export interface TinyRecordSender {
  /** Sends them in one TCP write; resolves with the number of `HTTP/1.1 200` responses answered within `readMs`. */
  send(readMs: number): Promise<number>;
}

/**
 * A TLS client on keysmith's own engine that completes the handshake and
 * seals `payload` as one-byte application-data records (RFC 8446 §5.1
 * allows any split), ready to go as one TCP write: thousands of records in
 * one chunk, each costing the server an AEAD open. Sealing is
 * done before `send`, so the sender's own work does not show in a latency
 * probe running beside it.
 */
export function prepareTinyRecords(port: number, ca: string, payload: Buffer, timeoutMs = 10_000): Promise<TinyRecordSender> {
  const config = resolveClientConfig({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] });
  const transport = netConnect({ host: '127.0.0.1', port });
  transport.on('error', () => {});
  const STATUS_LINE = /HTTP\/1\.1 200 /g;
  let answered = 0;
  /** The end of the previous chunk, so a status line cut in two is still counted. */
  let carry = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      transport.destroy();
      reject(new Error(`no handshake within ${timeoutMs} ms`));
    }, timeoutMs);
    const connection = new Connection(
      'client',
      nodeCryptoProvider,
      {
        onHandshakeComplete: () => {
          clearTimeout(timer);
          // After the engine returns, so our Finished goes out first.
          queueMicrotask(() => {
            for (let at = 0; at < payload.length; at++) connection.write(payload.subarray(at, at + 1));
            const records = connection.takeOutgoing() ?? Buffer.alloc(0);
            resolve({
              send: (readMs) =>
                new Promise((done) => {
                  transport.write(records);
                  setTimeout(() => {
                    transport.destroy();
                    done(answered);
                  }, readMs);
                }),
            });
          });
        },
        onData: (data) => {
          // Bodies differ in length (/healthz reports live lag figures): count status lines, not bytes.
          const text = carry + data.toString('latin1');
          answered += text.match(STATUS_LINE)?.length ?? 0;
          // 12 characters cannot hold a whole 13-character status line, so nothing is counted twice.
          carry = text.slice(-12);
        },
        onPeerClose: () => undefined,
        onPostHandshake: () => undefined,
      },
      config.maxHandshakeMessageSize,
      Date.now,
    );
    transport.on('data', (chunk: Buffer) => {
      try {
        connection.receive(chunk);
      } catch (err) {
        clearTimeout(timer);
        transport.destroy();
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      const out = connection.takeOutgoing();
      if (out !== undefined) transport.write(out);
    });
    connection.start((ctx) => startClientHandshake(ctx, config, undefined));
    const hello = connection.takeOutgoing();
    if (hello !== undefined) transport.write(hello);
  });
}

/** Milliseconds from now until `socket` closes, or `limitMs` if it is still open then (it is destroyed). */
export function msUntilClosed(socket: Socket | TLSSocket, limitMs: number): Promise<number> {
  const begin = performance.now();
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(0);
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(limitMs);
    }, limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - begin);
    });
  });
}

/** A plain TCP connection to the listener, resolved once connected; it sends nothing and discards what it reads (so it sees the server's FIN). */
export function openTcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => {
      socket.off('error', reject);
      socket.on('error', () => {});
      socket.resume();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reads a TLS socket to its end; resolves with the text (latin1) and never rejects. */
export function readToEnd(socket: TLSSocket, limitMs: number): Promise<string> {
  let text = '';
  socket.setEncoding('latin1');
  socket.on('data', (part: string) => (text += part));
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(text);
    }, limitMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
  });
}
