/**
 * The short-connection bench's server side, forked by short.ts and pinned to one core:
 *   node dist/bench/tls/short-server.js <node|keysmith> <handler|fastify>
 * - handler: one node:http request listener (200, 12-byte body). keysmith:
 *   our engine with the listener's production options, each secure socket
 *   handed to node:http as server-factory.ts does; node: https.createServer.
 * - fastify: the production app (buildApp: request-context, mtls-peer with
 *   its certificate lookup, access policy, request metrics, info-level
 *   logging to a sink) answering GET /healthz. keysmith: createHttpsServer,
 *   exactly as `keysmith serve`; node: node:tls with node:https's options
 *   feeding the same app's node:http server, the verified leaf copied onto
 *   the socket as peerCertificates so mtls-peer does the same lookup.
 * Reports its own CPU (process.cpuUsage) and counters over windows, as server.ts does.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNodeHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { renameSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createServer as createNodeTlsServer, type TLSSocket } from 'node:tls';
import { buildApp, createHttpsServer, KeysmithMetrics } from '../../src/http/index.js';
import { endOfFirstHead } from '../../src/http/server-factory.js';
import { systemClock } from '../../src/shared/clock.js';
import { createServer as createKeysmithServer, type TlsSocket } from '../../src/tls/index.js';
import { isParentMessage, loadFixtures, MeasureWindow, type ChildMessage, type Counters } from './protocol.js';
import { fleetSerial, FLEET_TRUST_DOMAIN } from './short-certs.js';

export type ShortImpl = 'node' | 'keysmith';
export type ShortStack = 'handler' | 'fastify';

const impl = process.argv[2] as ShortImpl;
const stack = process.argv[3] as ShortStack;
const fleetSize = Number(process.argv[4] ?? '1000');
if (!['node', 'keysmith'].includes(impl) || !['handler', 'fastify'].includes(stack) || !Number.isInteger(fleetSize)) {
  console.error('usage: short-server.js <node|keysmith> <handler|fastify> <fleet size>');
  process.exit(2);
}
if (process.send === undefined) {
  console.error('short-server.js must be started with an IPC channel (child_process.fork)');
  process.exit(2);
}
const send = (message: ChildMessage): void => {
  process.send?.(message);
};

const fx = loadFixtures();
const counters: Counters = { handshakes: 0, resumed: 0, errors: 0, bytesIn: 0, bytesOut: 0, requests: 0 };
const KEEP_ALIVE_MS = 120_000;
const RESPONSE_BODY = 'hello world\n';

function onRequest(_req: IncomingMessage, res: ServerResponse): void {
  counters.requests++;
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': RESPONSE_BODY.length });
  res.end(RESPONSE_BODY);
}

const nodeTlsOptions = {
  key: fx.serverKey,
  cert: fx.serverChain,
  ca: fx.ca,
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: 'TLSv1.3' as const,
};

interface Listener {
  listen(port: number, host: string): Promise<void>;
  address(): AddressInfo | string | null;
  close(): void;
}

function listenerOf(server: {
  listen(port: number, host: string, cb: () => void): unknown;
  address(): AddressInfo | string | null;
  close(): unknown;
}): Listener {
  return {
    listen: (port, host) => new Promise((resolve) => server.listen(port, host, () => resolve())),
    address: () => server.address(),
    close: () => void server.close(),
  };
}

/** The fleet's serials are valid; anything else is unknown (as the ledger would say). */
const fleetSerials = new Set(Array.from({ length: fleetSize }, (_, i) => fleetSerial(i)));
const FAR_FUTURE = Date.now() + 365 * 86_400_000;

async function buildProductionApp(): ReturnType<typeof buildApp> {
  const sink = { write: (_line: string): void => undefined };
  const app = await buildApp({
    certificates: {
      list: () => ({ items: [], nextCursor: null }),
      findBySerial: () => undefined,
      expiryTimeline: () => [],
      statusOf: (serial) =>
        fleetSerials.has(serial) ? { serial, status: 'valid', notAfter: FAR_FUTURE, revokedAt: null, reason: null } : undefined,
    },
    revoker: {
      revoke: () => {
        throw new Error('the bench revokes nothing');
      },
    },
    bundle: { pem: () => fx.ca, authorities: () => [], issuers: () => [], sequence: () => 1 },
    health: [],
    trustDomain: FLEET_TRUST_DOMAIN,
    mtlsMode: 'standard',
    clock: systemClock,
    metrics: new KeysmithMetrics(),
    // The service's default level (KEYSMITH_LOG_LEVEL=info): fastify's two lines per request, into a sink.
    logger: { level: 'info', stream: sink },
  });
  // Answers counted as node:http finishes them (the app is ready: no hooks can be added any more).
  app.server.on('request', (_request: IncomingMessage, response: ServerResponse) => {
    response.once('finish', () => counters.requests++);
  });
  return app;
}

/** What mtls-peer reads from our engine's socket, taken from node:tls's parsed peer certificate. */
function copyPeerLeaf(socket: TLSSocket): void {
  const cert = socket.getPeerCertificate();
  const uris = (cert.subjectaltname ?? '')
    .split(', ')
    .filter((name) => name.startsWith('URI:'))
    .map((name) => name.slice(4));
  Object.assign(socket, {
    peerCertificates: [
      { serialNumber: cert.serialNumber.toLowerCase().replace(/^0+/, ''), uris, isCA: cert.ca, notAfter: new Date(cert.valid_to) },
    ],
  });
}

async function makeServer(): Promise<Listener> {
  if (stack === 'handler') {
    if (impl === 'node') {
      const server = createNodeHttpsServer({ ...nodeTlsOptions, keepAliveTimeout: KEEP_ALIVE_MS }, onRequest);
      server.on('secureConnection', () => counters.handshakes++);
      server.on('tlsClientError', () => counters.errors++);
      return listenerOf(server);
    }
    const http = createHttpServer({ keepAliveTimeout: KEEP_ALIVE_MS }, onRequest);
    Object.assign(http, { httpAllowHalfOpen: true });
    // The listener's production engine options (server-factory.ts), client certificate required.
    const server = createKeysmithServer(
      {
        key: fx.serverKey,
        cert: fx.serverChain,
        ca: fx.ca,
        clientAuth: 'require',
        ALPNProtocols: ['http/1.1'],
        allowHalfOpen: true,
        splitInbound: endOfFirstHead,
      },
      (socket: TlsSocket) => {
        counters.handshakes++;
        http.emit('connection', socket);
      },
    );
    server.on('tlsClientError', () => counters.errors++);
    return listenerOf(server);
  }
  const app = await buildProductionApp();
  if (impl === 'node') {
    const server = createNodeTlsServer(nodeTlsOptions, (socket: TLSSocket) => {
      counters.handshakes++;
      copyPeerLeaf(socket);
      app.server.emit('connection', socket);
    });
    server.on('tlsClientError', () => counters.errors++);
    return listenerOf(server);
  }
  const https = createHttpsServer({ tls: { key: fx.serverKey, cert: fx.serverChain, ca: fx.ca }, mtlsMode: 'standard', app });
  https.tls.on('secureConnection', () => counters.handshakes++);
  https.tls.on('tlsClientError', () => counters.errors++);
  return {
    listen: (port, host) => https.listen(port, host),
    address: () => https.address(),
    close: () => void https.close(0),
  };
}

const server = await makeServer();

const measured = new MeasureWindow(counters);

/** BENCH_SHORT_PROFILE: a path; the measured window (not start-up or warm-up) is profiled there. */
const profilePath = process.env['BENCH_SHORT_PROFILE'];
const profiler = profilePath === undefined || profilePath === '' ? undefined : new Session();

function post(method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => profiler?.post(method, params, (err, result) => (err === null ? resolve(result) : reject(err))));
}

async function startProfile(): Promise<void> {
  if (profiler === undefined) return;
  profiler.connect();
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
}

async function stopProfile(): Promise<void> {
  if (profiler === undefined || profilePath === undefined) return;
  const result = (await post('Profiler.stop')) as { profile: unknown };
  // Written whole, then renamed: the parent waits for the name to appear.
  writeFileSync(`${profilePath}.partial`, JSON.stringify(result.profile));
  renameSync(`${profilePath}.partial`, profilePath);
  profiler.disconnect();
}

process.on('message', (message: unknown) => {
  if (!isParentMessage(message)) return;
  switch (message.type) {
    case 'start':
      void startProfile().then(() => {
        measured.open();
        send({ type: 'started' });
      });
      break;
    case 'stop':
      send({ type: 'stats', stats: measured.close() });
      void stopProfile();
      break;
    case 'exit':
      server.close();
      // process.exit (not a kill) so that --cpu-prof writes its profile.
      setImmediate(() => process.exit(0));
      break;
    case 'send':
    case 'mem':
      break;
  }
});

process.on('disconnect', () => process.exit(0));
process.on('uncaughtException', (err) => {
  send({ type: 'fatal', message: err.stack ?? String(err) });
  process.exit(1);
});

await server.listen(0, '127.0.0.1');
const address = server.address();
if (address === null || typeof address === 'string') throw new Error('no TCP address');
send({ type: 'ready', port: address.port });
