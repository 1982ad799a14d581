/**
 * 0-RTT time to first byte beside 1-RTT resumption (RFC 8446 §2.3), on
 * keysmith's engine at both ends:
 *
 *   node dist/bench/tls/zero-rtt.js                  # or: BENCH_ONLY=zero-rtt node dist/bench/tls/run.js
 *   BENCH_ZERO_RTT_CONNS=400 BENCH_RTT_MS=0,10 node dist/bench/tls/zero-rtt.js
 *
 * Each connection resumes the same ticket (a fresh ClientHello each time,
 * so the strike register takes every one). "1-RTT resumed" writes the
 * request after 'secure'; "0-RTT" sends it as early data with the
 * ClientHello. Time to first byte: from connect() to the first byte of the
 * response. The two alternate connection by connection in the same run;
 * with BENCH_RTT_MS a relay delays each direction by half the round trip,
 * so the round trip 0-RTT saves shows. Server and client share this
 * process (one core each side would only add noise to a latency figure).
 */
import { createServer as createNetServer, connect as netConnect, type Server as NetServer, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { connect, createServer, type TlsServer } from '../../src/tls/index.js';
import { fixture } from './protocol.js';

const REQUEST = Buffer.from('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
const RESPONSE = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');

export interface ZeroRttRow {
  readonly rttMs: number;
  readonly connections: number;
  readonly resumedMedianMs: number;
  readonly resumedP90Ms: number;
  readonly earlyMedianMs: number;
  readonly earlyP90Ms: number;
  /** 0-RTT connections whose early data the server accepted. */
  readonly acceptedShare: number;
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

async function startServer(): Promise<{ server: TlsServer; port: number }> {
  const server = createServer(
    { key: fixture('server.key'), cert: fixture('server-chain.pem'), maxEarlyData: 16_384, ALPNProtocols: ['http/1.1'] },
    (socket) => {
      socket.on('data', () => socket.write(RESPONSE));
      socket.on('error', () => undefined);
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

/** A relay that holds each chunk for half the round trip in each direction. */
async function startDelayRelay(targetPort: number, rttMs: number): Promise<{ relay: NetServer; port: number }> {
  const half = rttMs / 2;
  const relay = createNetServer((client: Socket) => {
    const upstream = netConnect(targetPort, '127.0.0.1');
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => setTimeout(() => to.writable && to.write(chunk), half));
      from.on('end', () => setTimeout(() => to.end(), half));
      from.on('error', () => to.destroy());
    };
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { relay, port: address.port };
}

const ca = fixture('ca.pem');

async function firstSession(port: number): Promise<Uint8Array> {
  const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] });
  const session = await new Promise<Uint8Array>((resolve, reject) => {
    socket.once('session', resolve);
    socket.once('error', reject);
  });
  socket.destroy();
  return session;
}

/** One connection: ms from connect() to the first response byte, and whether its early data was accepted. */
function timeToFirstByte(port: number, session: Uint8Array, isEarly: boolean): Promise<{ ms: number; accepted: boolean }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca,
      ALPNProtocols: ['http/1.1'],
      session,
      ...(isEarly ? { earlyData: REQUEST } : {}),
    });
    if (!isEarly) socket.once('secure', () => socket.write(REQUEST));
    socket.once('data', () => {
      const ms = performance.now() - started;
      const accepted = socket.earlyDataAccepted;
      socket.destroy();
      resolve({ ms, accepted });
    });
    socket.once('error', reject);
  });
}

async function measure(port: number, rttMs: number, connections: number): Promise<ZeroRttRow> {
  const session = await firstSession(port);
  const resumed: number[] = [];
  const early: number[] = [];
  let accepted = 0;
  // Warm both paths, then alternate so drift hits both alike.
  for (let i = 0; i < 20; i++) await timeToFirstByte(port, session, i % 2 === 0);
  for (let i = 0; i < connections; i++) {
    resumed.push((await timeToFirstByte(port, session, false)).ms);
    const e = await timeToFirstByte(port, session, true);
    early.push(e.ms);
    if (e.accepted) accepted++;
  }
  resumed.sort((a, b) => a - b);
  early.sort((a, b) => a - b);
  return {
    rttMs,
    connections,
    resumedMedianMs: quantile(resumed, 0.5),
    resumedP90Ms: quantile(resumed, 0.9),
    earlyMedianMs: quantile(early, 0.5),
    earlyP90Ms: quantile(early, 0.9),
    acceptedShare: accepted / connections,
  };
}

/** Runs the rows (one per BENCH_RTT_MS value) and prints them. */
export async function runZeroRtt(): Promise<ZeroRttRow[]> {
  const connections = Number(process.env['BENCH_ZERO_RTT_CONNS'] ?? '300');
  const rtts = (process.env['BENCH_RTT_MS'] ?? '0,10').split(',').map(Number);
  const { server, port } = await startServer();
  const rows: ZeroRttRow[] = [];
  try {
    for (const rttMs of rtts) {
      if (rttMs === 0) {
        rows.push(await measure(port, 0, connections));
        continue;
      }
      const { relay, port: relayPort } = await startDelayRelay(port, rttMs);
      try {
        rows.push(await measure(relayPort, rttMs, connections));
      } finally {
        relay.close();
      }
    }
  } finally {
    server.close();
  }
  console.log('\n0-RTT time to first byte (keysmith client -> keysmith server, same ticket, alternating)');
  console.log(
    '| added RTT | connections | 1-RTT resumed median / p90 (ms) | 0-RTT median / p90 (ms) | 0-RTT / 1-RTT (median) | 0-RTT accepted |',
  );
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(
      `| ${r.rttMs} ms | ${r.connections} | ${r.resumedMedianMs.toFixed(2)} / ${r.resumedP90Ms.toFixed(2)} | ` +
        `${r.earlyMedianMs.toFixed(2)} / ${r.earlyP90Ms.toFixed(2)} | ${(r.earlyMedianMs / r.resumedMedianMs).toFixed(2)} | ` +
        `${(r.acceptedShare * 100).toFixed(0)}% |`,
    );
  }
  return rows;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runZeroRtt()
    .catch((err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exitCode = 1;
    })
    .finally(() => setTimeout(() => process.exit(), 200).unref());
}
