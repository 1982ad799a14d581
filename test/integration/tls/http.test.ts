import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { connect, createServer, type TlsServer, type TlsSocket } from '../../../src/tls/index.js';
import { clientOptions, fixture, serverOptions } from '../../fakes/tls-fixtures.js';
import { portOf } from '../../robustness/flood-tools.js';

/**
 * node:http served over our TLS server, the way http/server-factory.ts plugs
 * the engine into Fastify: each TlsSocket is handed to an http.Server with
 * emit('connection'). Clients: our own `connect` writing raw HTTP/1.1, and
 * node's https with a keep-alive Agent. Covers keep-alive reuse, a 1 MB body
 * and the back-pressure path when the client stops reading.
 */

const MB = 1024 * 1024;
const BIG = MB;
const SLOW = 24 * MB;
const CHUNK = 64 * 1024;

/** Deterministic body bytes: byte i is a function of i, so any loss, duplication or reordering shows. */
function pattern(offset: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) {
    const n = offset + i;
    out[i] = (n * 31 + (n >>> 8) * 7 + (n >>> 16)) & 0xff;
  }
  return out;
}

const bigBody = pattern(0, BIG);
const bigDigest = createHash('sha256').update(bigBody).digest('hex');

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

interface ParsedResponse {
  readonly status: number;
  readonly headers: Map<string, string>;
  readonly body: Buffer;
}

/**
 * Reads HTTP/1.1 responses off a byte stream (Content-Length bodies only,
 * which is all this server sends). Each `next()` resolves with one whole response.
 */
class ResponseReader {
  private buffered = Buffer.alloc(0);
  private waiter: (() => void) | undefined;
  private isEnded = false;

  constructor(socket: TlsSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, chunk]);
      this.waiter?.();
    });
    socket.on('end', () => {
      this.isEnded = true;
      this.waiter?.();
    });
  }

  private async need(check: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.isEnded) throw new Error('connection ended mid-response');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('response not complete in time');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  async next(timeoutMs = 10_000): Promise<ParsedResponse> {
    await this.need(() => this.buffered.includes('\r\n\r\n'), timeoutMs);
    const headEnd = this.buffered.indexOf('\r\n\r\n');
    const [statusLine, ...lines] = this.buffered.subarray(0, headEnd).toString('latin1').split('\r\n');
    const status = Number.parseInt(statusLine!.split(' ')[1] ?? '', 10);
    const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as const));
    const length = Number.parseInt(headers.get('content-length') ?? 'NaN', 10);
    assert.ok(Number.isFinite(length), `response without Content-Length: ${statusLine}`);
    const total = headEnd + 4 + length;
    await this.need(() => this.buffered.length >= total, timeoutMs);
    const body = this.buffered.subarray(headEnd + 4, total);
    this.buffered = this.buffered.subarray(total);
    return { status, headers, body };
  }
}

describe('node:http over our TLS server (http/server-factory.ts wiring)', () => {
  let tlsServer: TlsServer;
  let port: number;
  const serverSockets: TlsSocket[] = [];
  /** node:http types req.socket as a net.Socket; these maps lead back to our TlsSocket without a cast. */
  const tlsSockets = new WeakMap<object, TlsSocket>();
  const connectionIds = new WeakMap<object, number>();
  /** Progress of the /slow response, read by the back-pressure test. */
  const slow: { written: number; socket: TlsSocket | undefined; isDone: boolean } = { written: 0, socket: undefined, isDone: false };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const socket = tlsSockets.get(req.socket);
    if (socket === undefined) {
      // Not one of our TlsSockets: make the test see it rather than throw inside node:http.
      res.writeHead(500).end('request on an unknown socket');
      return;
    }
    const id = connectionIds.get(socket) ?? -1;
    const headers = { 'x-connection': String(id), 'x-peer': socket.peer?.leaf.subject ?? '' };
    if (req.url === '/big') {
      res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': BIG });
      res.end(bigBody);
      return;
    }
    if (req.url === '/slow') {
      // Writes 24 MB honouring back-pressure: a write that returns false waits for 'drain'.
      slow.socket = socket;
      slow.written = 0;
      slow.isDone = false;
      res.writeHead(200, { ...headers, 'content-type': 'application/octet-stream', 'content-length': SLOW });
      const pump = (): void => {
        while (slow.written < SLOW) {
          const chunk = pattern(slow.written, Math.min(CHUNK, SLOW - slow.written));
          slow.written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        slow.isDone = true;
        res.end();
      };
      pump();
      return;
    }
    const body = Buffer.from(`hello ${req.method} ${req.url}`);
    res.writeHead(200, { ...headers, 'content-type': 'text/plain', 'content-length': body.length });
    res.end(body);
  }

  before(async () => {
    const httpServer = createHttpServer({ keepAlive: true }, handle);
    let nextId = 0;
    tlsServer = createServer(serverOptions({ clientAuth: 'request' }), (socket) => {
      connectionIds.set(socket, nextId++);
      tlsSockets.set(socket, socket);
      serverSockets.push(socket);
      httpServer.emit('connection', socket);
    });
    tlsServer.listen(0, '127.0.0.1');
    await once(tlsServer, 'listening');
    port = portOf(tlsServer);
  });

  after(async () => {
    for (const s of serverSockets) s.destroy();
    tlsServer.close();
    await once(tlsServer, 'close');
  });

  async function openClient(): Promise<TlsSocket> {
    const socket = connect({ ...clientOptions(), host: '127.0.0.1', port });
    socket.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        once(socket, 'secure'),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error('handshake timed out')), 5_000);
        }),
      ]);
    } catch (err) {
      socket.destroy();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return socket;
  }

  function get(socket: TlsSocket, path: string): void {
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n`);
  }

  it(
    'serves three keep-alive HTTP/1.1 requests on one connection to our own client, with the client certificate visible',
    { timeout: 20_000 },
    async () => {
      const socket = await openClient();
      try {
        const reader = new ResponseReader(socket);
        const seen: string[] = [];
        for (const path of ['/one', '/two', '/three']) {
          get(socket, path);
          const response = await reader.next();
          assert.equal(response.status, 200);
          assert.equal(response.body.toString(), `hello GET ${path}`);
          assert.equal(response.headers.get('x-peer'), 'CN=keysmith test client');
          seen.push(response.headers.get('x-connection')!);
        }
        assert.equal(new Set(seen).size, 1, `one server connection for all three: ${seen.join(', ')}`);
      } finally {
        socket.destroy();
      }
    },
  );

  it('serves three requests over one socket to node:https with a keep-alive Agent (maxSockets 1)', { timeout: 20_000 }, async () => {
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: fixture('ca.pem'),
      key: fixture('client.key'),
      cert: fixture('client-chain.pem'),
      servername: 'localhost',
    });
    try {
      const seen: string[] = [];
      const localPorts = new Set<number | undefined>();
      for (const path of ['/a', '/b', '/c']) {
        const response = await new Promise<{ status: number; body: string; connection: string; peer: string }>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port, path, agent, servername: 'localhost', timeout: 5_000 }, (res) => {
            localPorts.add(res.socket.localPort);
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 0,
                body: Buffer.concat(chunks).toString(),
                connection: String(res.headers['x-connection']),
                peer: String(res.headers['x-peer']),
              }),
            );
            res.on('error', reject);
          });
          req.on('timeout', () => req.destroy(new Error('request timed out')));
          req.on('error', reject);
          req.end();
        });
        assert.equal(response.status, 200);
        assert.equal(response.body, `hello GET ${path}`);
        assert.equal(response.peer, 'CN=keysmith test client');
        seen.push(response.connection);
      }
      assert.equal(new Set(seen).size, 1, `one server connection for all three: ${seen.join(', ')}`);
      assert.equal(localPorts.size, 1, 'one client socket');
    } finally {
      agent.destroy();
    }
  });

  it(
    'delivers a 1 MB body intact to our client and to node:https (records of 2^14, back-pressure on the write path)',
    { timeout: 20_000 },
    async () => {
      const socket = await openClient();
      try {
        const reader = new ResponseReader(socket);
        get(socket, '/big');
        const response = await reader.next();
        assert.equal(response.body.length, BIG);
        assert.equal(sha256(response.body), bigDigest);
      } finally {
        socket.destroy();
      }
      const agent = new Agent({ keepAlive: false, ca: fixture('ca.pem'), servername: 'localhost' });
      try {
        const body = await new Promise<Buffer>((resolve, reject) => {
          const req = httpsRequest({ host: '127.0.0.1', port, path: '/big', agent, servername: 'localhost', timeout: 10_000 }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
            res.on('error', reject);
          });
          req.on('timeout', () => req.destroy(new Error('request timed out')));
          req.on('error', reject);
          req.end();
        });
        assert.equal(body.length, BIG);
        assert.equal(sha256(body), bigDigest);
      } finally {
        agent.destroy();
      }
    },
  );

  it(
    'does not buffer without bound on the server while the client has stopped reading, then delivers every byte',
    { timeout: 30_000 },
    async (t) => {
      const socket = await openClient();
      try {
        const chunks: Buffer[] = [];
        let received = 0;
        const onData = (c: Buffer): void => {
          chunks.push(c);
          received += c.length;
        };
        socket.on('data', onData);
        get(socket, '/slow');
        // Let the response start, then stop reading.
        const startDeadline = Date.now() + 5_000;
        while (received === 0 && Date.now() < startDeadline) await new Promise((r) => setTimeout(r, 10));
        assert.ok(received > 0, 'the response started');
        socket.pause();

        // Sample the server side for a while: its TLS socket and the TCP socket under it.
        let maxBuffered = 0;
        let maxClientBuffered = 0;
        let writtenAtPlateau = 0;
        for (let i = 0; i < 30; i++) {
          await new Promise((r) => setTimeout(r, 50));
          const server = slow.socket;
          assert.ok(server !== undefined);
          maxBuffered = Math.max(maxBuffered, server.writableLength + server.transport.writableLength);
          maxClientBuffered = Math.max(maxClientBuffered, socket.readableLength + socket.transport.readableLength);
          writtenAtPlateau = slow.written;
        }
        const heldBack = slow.written - received;
        t.diagnostic(
          `while paused: server wrote ${(slow.written / MB).toFixed(1)} MB, client read ${(received / MB).toFixed(1)} MB, server-side buffered at most ${maxBuffered} bytes, client-side ${maxClientBuffered}`,
        );
        assert.equal(slow.isDone, false, 'the server is held back by the paused client');
        assert.ok(writtenAtPlateau < SLOW, 'the writer waits for drain');
        // What the server holds is bounded by a few records plus the stream high-water marks, not the body.
        assert.ok(maxBuffered <= 512 * 1024, `server-side buffers held ${maxBuffered} bytes`);
        assert.ok(heldBack < SLOW, `held back ${heldBack}`);
        // The paused reader pauses its transport too, so the client does not hoard records either.
        assert.ok(maxClientBuffered <= 512 * 1024, `client-side buffers held ${maxClientBuffered} bytes`);

        socket.resume();
        const deadline = Date.now() + 20_000;
        const headerBytes = (): number => {
          const all = Buffer.concat(chunks);
          const at = all.indexOf('\r\n\r\n');
          return at === -1 ? Number.POSITIVE_INFINITY : at + 4;
        };
        while (received < SLOW + headerBytes() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
        const all = Buffer.concat(chunks);
        const body = all.subarray(headerBytes());
        assert.equal(body.length, SLOW);
        assert.ok(body.equals(pattern(0, SLOW)), 'every byte arrived, in order');
        assert.equal(slow.isDone, true);
      } finally {
        socket.destroy();
      }
    },
  );
});
