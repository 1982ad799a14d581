/**
 * OCSP responses per second beside a trivial route, on the same listener in
 * the same run:
 *
 *   npm run build && node dist/bench/ocsp/run.js
 *   BENCH_SECONDS=5 BENCH_CONNS=32 node dist/bench/ocsp/run.js
 *
 * The server is keysmith as `serve` wires it (bench/ocsp/server.ts: our TLS
 * engine, node:http, fastify with every production hook, the OCSP
 * responder), forked and pinned to CPU 0; this process pins itself to CPU 1
 * and drives it over BENCH_CONNS keep-alive node:tls connections, one
 * request in flight on each. Three loads, alternating within each round:
 *
 *   trivial   GET /healthz with no checks: the cheapest route of the app
 *   cached    GET /ocsp/<base64 request>: a pre-signed response (RFC 5019)
 *   nonce     POST /ocsp with a fresh 16-octet nonce each time: decoded, looked up and signed per request
 *
 * Reported per load: responses per wall second and per server-CPU second
 * (median of BENCH_ROUNDS rounds), p50/p99 latency over all rounds, and the
 * ratio to the trivial route. Results also go to dist/bench-ocsp-results.json.
 * Environment: BENCH_SECONDS (measured window, 3), BENCH_WARMUP (seconds
 * before each window, 1), BENCH_ROUNDS (3), BENCH_CONNS (16), BENCH_ONLY
 * (comma list of trivial, cached, nonce), BENCH_CPU_PROFILE (a directory for
 * the server's V8 CPU profile).
 */
import { randomFillSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { describeOcspResponse, encodeOcspRequest } from '../../src/x509/index.js';
import { envNumber } from '../common/env.js';
import { measuredWindow, sleep } from '../common/window.js';
import { ResponseReader } from '../common/http-responses.js';
import { pinning, startBenchServer, type BenchServer } from '../common/server-process.js';
import { isServerMessage, type ParentMessage, type ServerMessage } from './protocol.js';

const settings = {
  seconds: envNumber('BENCH_SECONDS', 3, 0.2, 600),
  warmup: envNumber('BENCH_WARMUP', 1, 0, 60),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 3, 1, 50)),
  connections: Math.round(envNumber('BENCH_CONNS', 16, 1, 512)),
};

type LoadName = 'trivial' | 'cached' | 'nonce';
const ALL_LOADS: readonly LoadName[] = ['trivial', 'cached', 'nonce'];
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',').filter((name) => name !== '');
const LOADS = ONLY.length === 0 ? ALL_LOADS : ALL_LOADS.filter((load) => ONLY.includes(load));
const LABELS: Readonly<Record<LoadName, string>> = {
  trivial: 'GET /healthz (trivial route)',
  cached: 'GET /ocsp/… (pre-signed, cached)',
  nonce: 'POST /ocsp with nonce (signed per request)',
};
const NONCE_OCTETS = 16;

// ---------------------------------------------------------------- the server child

type Server = BenchServer<ServerMessage, ParentMessage>;

function startServer(prefix: readonly string[]): Promise<Server> {
  return startBenchServer(fileURLToPath(new URL('./server.js', import.meta.url)), prefix, isServerMessage, 60_000);
}

// ---------------------------------------------------------------- load

interface Totals {
  responses: number;
  errors: number;
  lastError: string;
  readonly latenciesUs: number[];
}

function openConnection(port: number, ca: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Builds the bytes of the next request on one connection (the nonce load rewrites its nonce in place). */
type RequestMaker = () => Buffer;

function requestMaker(load: LoadName, server: Server): RequestMaker {
  const issuerDer = Buffer.from(server.ready.issuerDer, 'base64');
  const certificateDer = Buffer.from(server.ready.leafDer, 'base64');
  switch (load) {
    case 'trivial': {
      const bytes = Buffer.from('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n', 'latin1');
      return () => bytes;
    }
    case 'cached': {
      const path = encodeURIComponent(Buffer.from(encodeOcspRequest([{ certificateDer, issuerDer }])).toString('base64'));
      const bytes = Buffer.from(`GET /ocsp/${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 'latin1');
      return () => bytes;
    }
    case 'nonce': {
      const nonce = Buffer.alloc(NONCE_OCTETS, 0xee);
      const body = Buffer.from(encodeOcspRequest([{ certificateDer, issuerDer }], nonce));
      // The nonce is the last extension, so its octets end the request.
      if (!body.subarray(body.length - NONCE_OCTETS).equals(nonce)) throw new Error('the nonce is not where the bench expects it');
      const head = Buffer.from(
        `POST /ocsp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ocsp-request\r\nContent-Length: ${body.length}\r\n\r\n`,
        'latin1',
      );
      const bytes = Buffer.concat([head, body]);
      return () => {
        // One request in flight per connection: the previous write has gone out when the next request is made.
        randomFillSync(bytes, bytes.length - NONCE_OCTETS, NONCE_OCTETS);
        return bytes;
      };
    }
    default: {
      const never: never = load;
      throw new Error(`unknown load ${String(never)}`);
    }
  }
}

/** Runs `load` on every connection until `stop()`; only responses while `measuring` count. */
function drive(
  sockets: readonly TLSSocket[],
  makers: readonly RequestMaker[],
  totals: Totals,
  state: { running: boolean; measuring: boolean },
): Promise<void>[] {
  return sockets.map(
    (socket, index) =>
      new Promise<void>((resolve) => {
        const make = makers[index];
        if (make === undefined) throw new Error('a request maker per connection');
        const reader = new ResponseReader();
        let sentAt = 0;
        const send = (): void => {
          if (!state.running || socket.destroyed) {
            resolve();
            return;
          }
          sentAt = performance.now();
          socket.write(make());
        };
        socket.on('data', (chunk: Buffer) => {
          for (const response of reader.push(chunk)) {
            if (state.measuring) {
              if (response.status === 200) {
                totals.responses++;
                totals.latenciesUs.push((performance.now() - sentAt) * 1000);
              } else {
                totals.errors++;
                totals.lastError = response.statusLine;
              }
            }
            send();
          }
        });
        socket.once('close', () => resolve());
        socket.on('error', (err) => {
          totals.errors++;
          totals.lastError = err.message;
        });
        send();
      }),
  );
}

interface Window {
  readonly responses: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  /** This process's CPU over the window: near the wall time means the load, not the server, was the limit. */
  readonly loadCpuSeconds: number;
  readonly latenciesUs: readonly number[];
  readonly errors: number;
  readonly lastError: string;
}

async function measure(server: Server, load: LoadName): Promise<Window> {
  const sockets = await Promise.all(
    Array.from({ length: settings.connections }, () => openConnection(server.ready.port, server.ready.bundlePem)),
  );
  const makers = sockets.map(() => requestMaker(load, server));
  const totals: Totals = { responses: 0, errors: 0, lastError: '', latenciesUs: [] };
  const state = { running: true, measuring: false };
  const loops = drive(sockets, makers, totals, state);
  const { wallSeconds, loadCpuSeconds } = await measuredWindow({
    warmupSeconds: settings.warmup,
    seconds: settings.seconds,
    state,
    start: () => server.tell({ type: 'window-start' }),
    end: () => server.tell({ type: 'window-end' }),
  });
  const cpu = await server.next('cpu');
  state.running = false;
  await Promise.race([Promise.all(loops), sleep(5_000)]);
  for (const socket of sockets) socket.destroy();
  return {
    responses: totals.responses,
    wallSeconds,
    cpuSeconds: cpu.seconds,
    loadCpuSeconds,
    latenciesUs: totals.latenciesUs,
    errors: totals.errors,
    lastError: totals.lastError,
  };
}

/** One request per load, checked before anything is measured: a bench of errors measures nothing. */
async function sanityCheck(server: Server): Promise<void> {
  for (const load of ['cached', 'nonce'] as const) {
    const socket = await openConnection(server.ready.port, server.ready.bundlePem);
    const body = await new Promise<Buffer>((resolve, reject) => {
      let buffered: Buffer = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const headEnd = buffered.indexOf('\r\n\r\n');
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(buffered.subarray(0, Math.max(0, headEnd)).toString('latin1'));
        if (headEnd >= 0 && length !== null && buffered.length >= headEnd + 4 + Number(length[1])) resolve(buffered.subarray(headEnd + 4));
      });
      socket.once('error', reject);
      socket.write(requestMaker(load, server)());
    });
    socket.destroy();
    const basic = describeOcspResponse(body).basic;
    if (basic?.responses[0]?.status.kind !== 'good') throw new Error(`sanity check: ${load} did not answer good`);
    if (load === 'nonce' && basic.nonce?.length !== NONCE_OCTETS) throw new Error('sanity check: the nonce was not echoed');
  }
}

// ---------------------------------------------------------------- report

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const pin = pinning();
  const server = await startServer(pin.prefix);
  const windows = new Map<LoadName, Window[]>(LOADS.map((l) => [l, []]));
  try {
    await sanityCheck(server);
    console.log(
      `bench/ocsp: ${settings.connections} keep-alive connections, ${settings.rounds} rounds of ${settings.seconds} s (+${settings.warmup} s warm-up); ${pin.description}`,
    );
    for (let round = 0; round < settings.rounds; round++) {
      // Alternate the order so drift over the run does not favour one load.
      const order = round % 2 === 0 ? LOADS : [...LOADS].reverse();
      for (const load of order) {
        const window = await measure(server, load);
        windows.get(load)?.push(window);
        const errors = window.errors > 0 ? ` (${window.errors} errors, last: ${window.lastError})` : '';
        const busy = `server CPU ${((100 * window.cpuSeconds) / window.wallSeconds).toFixed(0)}%, load CPU ${((100 * window.loadCpuSeconds) / window.wallSeconds).toFixed(0)}%`;
        console.log(
          `  round ${round + 1} ${load.padEnd(7)} ${(window.responses / window.wallSeconds).toFixed(0).padStart(7)} /s  (${busy})${errors}`,
        );
      }
    }
  } finally {
    server.tell({ type: 'stop' });
    await Promise.race([new Promise((resolve) => server.child.once('exit', resolve)), sleep(5_000)]);
    if (server.child.exitCode === null && server.child.pid !== undefined) server.child.kill('SIGKILL');
  }

  const results = LOADS.map((load) => {
    const list = windows.get(load) ?? [];
    const latencies = list.flatMap((w) => w.latenciesUs);
    return {
      load,
      label: LABELS[load],
      perSecond: median(list.map((w) => w.responses / w.wallSeconds)),
      perCpuSecond: median(list.map((w) => w.responses / Math.max(w.cpuSeconds, 1e-9))),
      p50Us: percentile(latencies, 50),
      p99Us: percentile(latencies, 99),
      errors: list.reduce((sum, w) => sum + w.errors, 0),
    };
  });
  const trivial = results.find((r) => r.load === 'trivial');
  console.log('\n| load | responses/s | per server-CPU-s | p50 | p99 | vs trivial (wall / CPU) |\n|---|--:|--:|--:|--:|--:|');
  for (const r of results) {
    const ratio = (a: number, b: number | undefined): string => (b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
    console.log(
      `| ${r.label} | ${r.perSecond.toFixed(0)} | ${r.perCpuSecond.toFixed(0)} | ${(r.p50Us / 1000).toFixed(2)} ms | ${(r.p99Us / 1000).toFixed(2)} ms | ` +
        `${ratio(r.perSecond, trivial?.perSecond)} / ${ratio(r.perCpuSecond, trivial?.perCpuSecond)} |`,
    );
  }
  const out = fileURLToPath(new URL('../../bench-ocsp-results.json', import.meta.url));
  writeFileSync(out, `${JSON.stringify({ settings, pinning: pin.description, results }, null, 2)}\n`);
  console.log(`\nwritten to ${out}`);
}

await main();
