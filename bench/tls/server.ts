/**
 * The bench's server side, run as a forked child pinned to one core:
 *   node dist/bench/tls/server.js <node|keysmith> <handshake|bulk|http|idle>
 * Listens on 127.0.0.1 (ephemeral port), reports the port over IPC, and on
 * request reports its own CPU (process.cpuUsage, all threads) and counters
 * over a measured window, or its memory after a GC.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createNodeTlsServer, type TLSSocket } from 'node:tls';
import { createServer as createKeysmithServer, type TlsSocket } from '../../src/tls/index.js';
import { isParentMessage, loadFixtures, MeasureWindow, type ChildMessage, type Counters, type Impl, type ServerMode } from './protocol.js';

const impl = process.argv[2] as Impl;
const mode = process.argv[3] as ServerMode;
if (!['node', 'keysmith'].includes(impl) || !['handshake', 'bulk', 'http', 'idle'].includes(mode)) {
  console.error('usage: server.js <node|keysmith> <handshake|bulk|http|idle>');
  process.exit(2);
}
if (process.send === undefined) {
  console.error('server.js must be started with an IPC channel (child_process.fork)');
  process.exit(2);
}

function send(message: ChildMessage): void {
  process.send?.(message);
}

const fx = loadFixtures();
const counters: Counters = { handshakes: 0, resumed: 0, errors: 0, bytesIn: 0, bytesOut: 0, requests: 0 };
const open = new Set<Duplex>();

// ---- what each mode does with a secured connection ----

const RESPONSE_BODY = 'hello world\n';
function onRequest(_req: IncomingMessage, res: ServerResponse): void {
  counters.requests++;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': RESPONSE_BODY.length });
  res.end(RESPONSE_BODY);
}
const httpServer = mode === 'http' && impl === 'keysmith' ? createHttpServer({ keepAliveTimeout: 120_000 }, onRequest) : undefined;

/** Server-to-client bulk: 64 KiB of fixed bytes written as fast as the peer takes them. */
const BULK_CHUNK = Buffer.alloc(64 * 1024, 0x5a);
let isSending = false;
const pumping = new WeakSet<Duplex>();

function pump(socket: Duplex): void {
  if (pumping.has(socket)) return;
  pumping.add(socket);
  const step = (): void => {
    // Bounded: write() returns false once the writable buffer passes its high-water mark.
    for (let i = 0; i < 1024 && isSending && !socket.destroyed; i++) {
      counters.bytesOut += BULK_CHUNK.length;
      if (!socket.write(BULK_CHUNK)) {
        socket.once('drain', step);
        return;
      }
    }
    if (isSending && !socket.destroyed) {
      setImmediate(step);
      return;
    }
    pumping.delete(socket);
  };
  step();
}

function onSecure(socket: Duplex, isResumed: boolean): void {
  counters.handshakes++;
  if (isResumed) counters.resumed++;
  socket.on('error', () => {
    // A peer that resets is the load generator stopping; nothing to report.
  });
  open.add(socket);
  socket.once('close', () => open.delete(socket));
  switch (mode) {
    case 'handshake':
      // One byte, then close: node:tls sends its session tickets only once it writes, so a bare end() would never issue one.
      socket.end('x');
      break;
    case 'bulk':
      socket.on('data', (chunk: Buffer) => {
        counters.bytesIn += chunk.length;
      });
      if (isSending) pump(socket);
      break;
    case 'http':
      httpServer?.emit('connection', socket);
      break;
    case 'idle':
      break;
  }
}

// ---- the server under test ----

interface Listener {
  listen(port: number, host: string, callback: () => void): unknown;
  address(): AddressInfo | string | null;
  close(): unknown;
}

function makeServer(): Listener {
  const nodeOptions = {
    key: fx.serverKey,
    cert: fx.serverChain,
    ca: fx.ca,
    requestCert: true,
    rejectUnauthorized: true,
    // TLS 1.2 too, for the -tls12 rows (the other rows' clients speak TLS 1.3 only), as keysmith's server by default.
    minVersion: 'TLSv1.2' as const,
  };
  if (impl === 'node') {
    if (mode === 'http') {
      const server = createHttpsServer({ ...nodeOptions, keepAliveTimeout: 120_000 }, onRequest);
      server.on('secureConnection', (socket: TLSSocket) => {
        counters.handshakes++;
        if (socket.isSessionReused()) counters.resumed++;
      });
      server.on('tlsClientError', () => counters.errors++);
      return server;
    }
    const server = createNodeTlsServer(nodeOptions, (socket: TLSSocket) => onSecure(socket, socket.isSessionReused()));
    server.on('tlsClientError', () => counters.errors++);
    return server;
  }
  const server = createKeysmithServer(
    { key: fx.serverKey, cert: fx.serverChain, ca: fx.ca, clientAuth: 'require', sessionTickets: true },
    (socket: TlsSocket) => onSecure(socket, socket.isResumed),
  );
  server.on('tlsClientError', () => counters.errors++);
  return server;
}

const server = makeServer();

// ---- measurement ----

const measured = new MeasureWindow(counters);

function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (collect === undefined) return;
  for (let i = 0; i < 3; i++) collect();
}

process.on('message', (message: unknown) => {
  if (!isParentMessage(message)) return;
  switch (message.type) {
    case 'start':
      measured.open();
      send({ type: 'started' });
      break;
    case 'stop':
      send({ type: 'stats', stats: measured.close() });
      break;
    case 'send':
      isSending = message.on;
      if (isSending) for (const socket of open) pump(socket);
      send({ type: 'sending', on: isSending });
      break;
    case 'mem': {
      gc();
      const m = process.memoryUsage();
      send({ type: 'mem', mem: { rss: m.rss, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers, open: open.size } });
      break;
    }
    case 'exit':
      isSending = false;
      server.close();
      for (const socket of open) socket.destroy();
      // process.exit (not a kill) so that --cpu-prof writes its profile.
      setImmediate(() => process.exit(0));
      break;
  }
});

// The parent went away (finished or crashed): never outlive it.
process.on('disconnect', () => process.exit(0));

process.on('uncaughtException', (err) => {
  send({ type: 'fatal', message: err.stack ?? String(err) });
  process.exit(1);
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  send({ type: 'ready', port: address.port });
});
