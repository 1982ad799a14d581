/**
 * X.509-SVIDs per second through keysmith's HTTP API, over keep-alive mutual
 * TLS, with every ledger row durable:
 *
 *   npm run bench:svid
 *   BENCH_SECONDS=5 BENCH_ROUNDS=3 node dist/bench/svid/run.js
 *
 * The server is keysmith as `serve` wires it (bench/svid/server.ts), forked
 * and pinned to CPU 0; this process pins itself to CPU 1 (BENCH_PIN=none
 * leaves both unpinned). The bench client holds a workload SVID; 64
 * registration entries name it as parent (POST /v1/entries with the
 * bootstrap admin identity). Every SVID request carries a fresh P-256 key and
 * CSR, made before the window it is used in. Loads, one request in flight per
 * connection:
 *
 *   trivial   GET /healthz on 64 mTLS connections: the TLS + HTTP floor (the peer the others are compared with)
 *   svid-1    POST /v1/svid/x509 on 1 connection
 *   svid-8    ... on 8 connections
 *   svid-64   ... on 64 connections
 *   batch     POST /v1/svid/x509:batch, BENCH_BATCH requests per call, on BENCH_BATCH_CONNS connections
 *
 * Reported per load: SVIDs (or responses) per wall second and per
 * server-CPU-second (median of rounds), p50/p99 latency of a call, the ratio
 * to the trivial route, and where the server's CPU goes per SVID: the TLS +
 * HTTP floor (trivial route), the CSR check (parseCsr, calibrated in the
 * server outside the windows), the Authority's steps (validate, serial,
 * build, sign, check, ledger write: wall time per step, so with many in
 * flight they include waiting), and the rest (routing, JSON, authorization).
 * Results also go to dist/bench-svid-results.json. No assertions on time.
 *
 * Environment: BENCH_SECONDS (3), BENCH_WARMUP (1), BENCH_ROUNDS (1),
 * BENCH_ONLY (comma list of loads), BENCH_CSRS (CSR pool per window, 12000),
 * BENCH_BATCH (50), BENCH_BATCH_CONNS (8), BENCH_ROUTE_WAIT (seconds to poll
 * for POST /v1/svid/x509 before giving up, 0), BENCH_PIN (split | none),
 * BENCH_DIR (parent of the server's data directory: the disk being measured),
 * BENCH_CPU_PROFILE (a directory for the server's V8 CPU profile).
 */
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { connect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import type { IssueStep } from '../../src/ca/index.js';
import { envNumber } from '../common/env.js';
import { measuredWindow, sleep } from '../common/window.js';
import { ResponseReader, type HttpResponse } from '../common/http-responses.js';
import { pinning, startBenchServer, type BenchServer } from '../common/server-process.js';
import { CsrPool } from './csr.js';
import { ISSUE_STEPS, isServerMessage, perStep, type ParentMessage, type ServerMessage, type StepTotal } from './protocol.js';

const settings = {
  seconds: envNumber('BENCH_SECONDS', 3, 0.2, 600),
  warmup: envNumber('BENCH_WARMUP', 1, 0, 60),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 1, 1, 50)),
  csrs: Math.round(envNumber('BENCH_CSRS', 12_000, 100, 1_000_000)),
  batch: Math.round(envNumber('BENCH_BATCH', 50, 1, 100)),
  batchConnections: Math.round(envNumber('BENCH_BATCH_CONNS', 8, 1, 256)),
  routeWaitSeconds: envNumber('BENCH_ROUTE_WAIT', 0, 0, 3600),
  entries: 64,
};

type LoadName = 'trivial' | 'svid-1' | 'svid-8' | 'svid-64' | 'batch';
const ALL_LOADS: readonly LoadName[] = ['trivial', 'svid-1', 'svid-8', 'svid-64', 'batch'];
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',').filter((name) => name !== '');
const LOADS = ONLY.length === 0 ? ALL_LOADS : ALL_LOADS.filter((load) => ONLY.includes(load));
const CONNECTIONS: Readonly<Record<LoadName, number>> = { trivial: 64, 'svid-1': 1, 'svid-8': 8, 'svid-64': 64, batch: settings.batchConnections };
const LABELS: Readonly<Record<LoadName, string>> = {
  trivial: 'GET /healthz, 64 conns (trivial route)',
  'svid-1': 'POST /v1/svid/x509, 1 conn',
  'svid-8': 'POST /v1/svid/x509, 8 conns',
  'svid-64': 'POST /v1/svid/x509, 64 conns',
  batch: `POST /v1/svid/x509:batch ×${settings.batch}, ${settings.batchConnections} conns`,
};
const STEP_LABELS: Readonly<Record<IssueStep, string>> = {
  validate: 'Authority: validate',
  serial: 'Authority: serial',
  build: 'Authority: build (DER template)',
  sign: 'Authority: sign',
  check: 'Authority: check',
  record: 'Authority: ledger write',
};


// ---------------------------------------------------------------- the server child

type Server = BenchServer<ServerMessage, ParentMessage>;

function startServer(prefix: readonly string[]): Promise<Server> {
  return startBenchServer(fileURLToPath(new URL('./server.js', import.meta.url)), prefix, isServerMessage, 120_000);
}

// ---------------------------------------------------------------- HTTP over node:tls

interface Identity {
  readonly cert: string;
  readonly key: string;
}

function openConnection(server: Server, identity: Identity): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port: server.ready.port,
      servername: 'localhost',
      ca: server.ready.bundlePem,
      cert: identity.cert,
      key: identity.key,
      ALPNProtocols: ['http/1.1'],
    });
    socket.once('secureConnect', () => resolve(socket));
    socket.once('error', reject);
  });
}

function httpRequest(method: 'GET' | 'POST', path: string, body?: string): Buffer {
  if (body === undefined) return Buffer.from(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`, 'latin1');
  const payload = Buffer.from(body, 'utf8');
  const head = `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${payload.length}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

/** One request on a fresh connection, for set-up and checks. */
async function exchange(server: Server, identity: Identity, request: Buffer): Promise<HttpResponse> {
  const socket = await openConnection(server, identity);
  try {
    return await new Promise<HttpResponse>((resolve, reject) => {
      const reader = new ResponseReader();
      socket.on('data', (chunk: Buffer) => {
        const [first] = reader.push(chunk);
        if (first !== undefined) resolve(first);
      });
      socket.once('error', reject);
      socket.once('close', () => reject(new Error('connection closed before a response')));
      socket.write(request);
    });
  } finally {
    socket.destroy();
  }
}

// ---------------------------------------------------------------- set-up

function workloadIds(server: Server): string[] {
  return Array.from({ length: settings.entries }, (_, i) => `spiffe://${server.ready.trustDomain}/bench/workload-${i}`);
}

/** Polls POST /v1/svid/x509 until it exists (the routes may still be in the making); false when it never answered. */
async function waitForRoute(server: Server, client: Identity): Promise<boolean> {
  const deadline = performance.now() + settings.routeWaitSeconds * 1000;
  for (;;) {
    const probe = await exchange(server, client, httpRequest('POST', '/v1/svid/x509', '{}'));
    if (probe.status !== 404) return true;
    if (performance.now() >= deadline) return false;
    await sleep(2_000);
  }
}

async function createEntries(server: Server, admin: Identity, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const body = JSON.stringify({ spiffe_id: id, parent_id: server.ready.clientId, x509_ttl: 3600 });
    const response = await exchange(server, admin, httpRequest('POST', '/v1/entries', body));
    if (response.status !== 201) throw new Error(`POST /v1/entries answered ${response.status}: ${response.body.toString('utf8').slice(0, 300)}`);
  }
}

function x509Body(csr: string, spiffeId: string): string {
  return JSON.stringify({ csr, spiffe_id: spiffeId });
}

function batchBody(pool: CsrPool, ids: readonly string[], counter: { value: number }): string {
  const requests = Array.from({ length: settings.batch }, () => ({ csr: pool.take(), spiffe_id: ids[counter.value++ % ids.length] ?? '' }));
  return JSON.stringify({ requests });
}

/** One SVID and one small batch, checked, before anything is measured: a bench of errors measures nothing. */
async function sanityCheck(server: Server, client: Identity, pool: CsrPool, ids: readonly string[]): Promise<void> {
  const [id = ''] = ids;
  const single = await exchange(server, client, httpRequest('POST', '/v1/svid/x509', x509Body(pool.take(), id)));
  if (single.status !== 200) throw new Error(`sanity check: POST /v1/svid/x509 answered ${single.status}: ${single.body.toString('utf8').slice(0, 300)}`);
  const svid: unknown = JSON.parse(single.body.toString('utf8'));
  const chain = typeof svid === 'object' && svid !== null && 'cert_chain' in svid && typeof svid.cert_chain === 'string' ? svid.cert_chain : '';
  const leaf = new X509Certificate(chain);
  if (leaf.subjectAltName !== `URI:${id}`) throw new Error(`sanity check: the SVID names ${leaf.subjectAltName ?? 'nothing'}, not ${id}`);
  if (!leaf.verify(new X509Certificate(chain.slice(chain.indexOf('-----END CERTIFICATE-----') + 26)).publicKey)) {
    throw new Error('sanity check: the SVID does not verify with the intermediate in its chain');
  }
  const batch = await exchange(server, client, httpRequest('POST', '/v1/svid/x509:batch', JSON.stringify({ requests: [{ csr: pool.take(), spiffe_id: id }, { csr: pool.take(), spiffe_id: ids[1] ?? id }] })));
  const count = countBatchSvids(batch);
  if (count !== 2) throw new Error(`sanity check: the batch route answered ${batch.status} with ${count} SVIDs: ${batch.body.toString('utf8').slice(0, 300)}`);
}

function countBatchSvids(response: HttpResponse): number {
  if (response.status !== 200) return 0;
  const parsed: unknown = JSON.parse(response.body.toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || !('results' in parsed) || !Array.isArray(parsed.results)) return 0;
  return parsed.results.filter((result: unknown) => typeof result === 'object' && result !== null && 'svid' in result).length;
}

// ---------------------------------------------------------------- load

interface Totals {
  /** Successful calls (responses) and what they delivered (SVIDs, or responses for the trivial route). */
  calls: number;
  items: number;
  errors: number;
  lastError: string;
  readonly latenciesUs: number[];
}

function requestMaker(load: LoadName, pool: CsrPool, ids: readonly string[], counter: { value: number }): () => Buffer {
  switch (load) {
    case 'trivial': {
      const bytes = httpRequest('GET', '/healthz');
      return () => bytes;
    }
    case 'svid-1':
    case 'svid-8':
    case 'svid-64':
      return () => httpRequest('POST', '/v1/svid/x509', x509Body(pool.take(), ids[counter.value++ % ids.length] ?? ''));
    case 'batch':
      return () => httpRequest('POST', '/v1/svid/x509:batch', batchBody(pool, ids, counter));
    default: {
      const never: never = load;
      throw new Error(`unknown load ${String(never)}`);
    }
  }
}

function drive(load: LoadName, sockets: readonly TLSSocket[], make: () => Buffer, totals: Totals, state: { running: boolean; measuring: boolean }): Promise<void>[] {
  return sockets.map(
    (socket) =>
      new Promise<void>((resolve) => {
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
              const items = load === 'batch' ? countBatchSvids(response) : response.status === 200 ? 1 : 0;
              if (items > 0) {
                totals.calls++;
                totals.items += items;
                totals.latenciesUs.push((performance.now() - sentAt) * 1000);
              }
              if (items < (load === 'batch' ? settings.batch : 1)) {
                totals.errors++;
                totals.lastError = `${response.status} ${response.body.toString('utf8').slice(0, 200)}`;
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
  readonly calls: number;
  readonly items: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly loadCpuSeconds: number;
  readonly latenciesUs: readonly number[];
  readonly errors: number;
  readonly lastError: string;
  readonly steps: Readonly<Record<IssueStep, StepTotal>>;
  readonly reusedCsrs: number;
}

async function measure(server: Server, client: Identity, load: LoadName, pool: CsrPool, ids: readonly string[]): Promise<Window> {
  if (load !== 'trivial') pool.refill();
  const sockets = await Promise.all(Array.from({ length: CONNECTIONS[load] }, () => openConnection(server, client)));
  const make = requestMaker(load, pool, ids, { value: 0 });
  const totals: Totals = { calls: 0, items: 0, errors: 0, lastError: '', latenciesUs: [] };
  const state = { running: true, measuring: false };
  const loops = drive(load, sockets, make, totals, state);
  const { wallSeconds, loadCpuSeconds } = await measuredWindow({
    warmupSeconds: settings.warmup,
    seconds: settings.seconds,
    state,
    start: () => server.tell({ type: 'window-start' }),
    end: () => server.tell({ type: 'window-end' }),
  });
  const window = await server.next('window');
  state.running = false;
  await Promise.race([Promise.all(loops), sleep(10_000)]);
  for (const socket of sockets) socket.destroy();
  return {
    calls: totals.calls,
    items: totals.items,
    wallSeconds,
    cpuSeconds: window.cpuSeconds,
    loadCpuSeconds,
    latenciesUs: totals.latenciesUs,
    errors: totals.errors,
    lastError: totals.lastError,
    steps: window.steps,
    reusedCsrs: pool.reused,
  };
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

interface LoadResult {
  readonly load: LoadName;
  readonly label: string;
  readonly perSecond: number;
  readonly perCpuSecond: number;
  readonly cpuUsPerItem: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly reusedCsrs: number;
  readonly stepUs: Readonly<Record<IssueStep, number>>;
}

function summarize(load: LoadName, windows: readonly Window[]): LoadResult {
  const latencies = windows.flatMap((w) => w.latenciesUs);
  const stepUs = perStep((step) => {
    const count = windows.reduce((sum, w) => sum + w.steps[step].count, 0);
    const totalMs = windows.reduce((sum, w) => sum + w.steps[step].totalMs, 0);
    return count === 0 ? 0 : (totalMs / count) * 1000;
  });
  return {
    load,
    label: LABELS[load],
    perSecond: median(windows.map((w) => w.items / w.wallSeconds)),
    perCpuSecond: median(windows.map((w) => w.items / Math.max(w.cpuSeconds, 1e-9))),
    cpuUsPerItem: median(windows.map((w) => (w.cpuSeconds * 1e6) / Math.max(1, w.items))),
    p50Ms: percentile(latencies, 50) / 1000,
    p99Ms: percentile(latencies, 99) / 1000,
    errors: windows.reduce((sum, w) => sum + w.errors, 0),
    reusedCsrs: windows.reduce((sum, w) => sum + w.reusedCsrs, 0),
    stepUs,
  };
}

function printResults(results: readonly LoadResult[], parseCsrCpuUs: number): void {
  const trivial = results.find((r) => r.load === 'trivial');
  const ratio = (a: number, b: number | undefined): string => (b === undefined || b === 0 ? '-' : `${(a / b).toFixed(2)}x`);
  console.log('\n| load | per second | per server-CPU-s | server CPU per item | p50 call | p99 call | vs trivial (wall / CPU) |\n|---|--:|--:|--:|--:|--:|--:|');
  for (const r of results) {
    console.log(
      `| ${r.label} | ${r.perSecond.toFixed(0)} | ${r.perCpuSecond.toFixed(0)} | ${r.cpuUsPerItem.toFixed(0)} µs | ${r.p50Ms.toFixed(2)} ms | ${r.p99Ms.toFixed(2)} ms | ` +
        `${ratio(r.perSecond, trivial?.perSecond)} / ${ratio(r.perCpuSecond, trivial?.perCpuSecond)} |`,
    );
  }
  const svidLoads = results.filter((r) => r.load !== 'trivial');
  if (svidLoads.length === 0) return;
  console.log(`\nWhere one SVID's server time goes (µs; Authority steps are wall time: with many in flight they include waiting)`);
  console.log(`| part | ${svidLoads.map((r) => r.load).join(' | ')} |\n|---|${svidLoads.map(() => '--:').join('|')}|`);
  const row = (label: string, value: (r: LoadResult) => number | undefined): void => {
    console.log(`| ${label} | ${svidLoads.map((r) => value(r)?.toFixed(0) ?? '-').join(' | ')} |`);
  };
  row('server CPU per SVID (all threads)', (r) => r.cpuUsPerItem);
  row('TLS + HTTP floor (trivial route CPU per response)', () => (trivial === undefined ? undefined : trivial.cpuUsPerItem));
  row('CSR check (parseCsr CPU, calibrated)', () => parseCsrCpuUs);
  for (const step of ISSUE_STEPS) row(STEP_LABELS[step], (r) => r.stepUs[step]);
}

async function main(): Promise<void> {
  const pin = pinning();
  const server = await startServer(pin.prefix);
  const client: Identity = { cert: server.ready.clientCertPem, key: server.ready.clientKeyPem };
  const admin: Identity = { cert: server.ready.adminCertPem, key: server.ready.adminKeyPem };
  const windows = new Map<LoadName, Window[]>(LOADS.map((l) => [l, []]));
  let parseCsrCpuUs = 0;
  try {
    if (!(await waitForRoute(server, client))) {
      console.log('bench/svid: POST /v1/svid/x509 answers 404: the SVID routes are not mounted in this build; nothing to measure.');
      process.exitCode = 2;
      return;
    }
    const ids = workloadIds(server);
    await createEntries(server, admin, ids);
    const pool = new CsrPool(settings.csrs);
    const started = performance.now();
    pool.refill();
    console.log(`bench/svid: ${settings.csrs} fresh P-256 keys and CSRs in ${((performance.now() - started) / 1000).toFixed(1)} s (not measured)`);
    await sanityCheck(server, client, pool, ids);
    server.tell({ type: 'calibrate', csrs: pool.sample(500) });
    parseCsrCpuUs = (await server.next('calibration')).parseCsrCpuUs;
    console.log(`bench/svid: ${settings.entries} entries under ${server.ready.clientId}; ${settings.rounds} round(s) of ${settings.seconds} s (+${settings.warmup} s warm-up); ${pin.description}`);
    for (let round = 0; round < settings.rounds; round++) {
      const order = round % 2 === 0 ? LOADS : [...LOADS].reverse();
      for (const load of order) {
        const window = await measure(server, client, load, pool, ids);
        windows.get(load)?.push(window);
        const errors = window.errors > 0 ? ` (${window.errors} errors, last: ${window.lastError})` : '';
        const reused = window.reusedCsrs > 0 ? ` (${window.reusedCsrs} CSRs reused: raise BENCH_CSRS)` : '';
        const busy = `server CPU ${((100 * window.cpuSeconds) / window.wallSeconds).toFixed(0)}%, load CPU ${((100 * window.loadCpuSeconds) / window.wallSeconds).toFixed(0)}%`;
        console.log(`  round ${round + 1} ${load.padEnd(8)} ${(window.items / window.wallSeconds).toFixed(0).padStart(7)} /s  (${busy})${errors}${reused}`);
      }
    }
  } finally {
    server.tell({ type: 'stop' });
    await Promise.race([new Promise((resolve) => server.child.once('exit', resolve)), sleep(5_000)]);
    if (server.child.exitCode === null && server.child.pid !== undefined) server.child.kill('SIGKILL');
  }
  if (process.exitCode === 2) return;

  const results = LOADS.map((load) => summarize(load, windows.get(load) ?? []));
  printResults(results, parseCsrCpuUs);
  const out = fileURLToPath(new URL('../../bench-svid-results.json', import.meta.url));
  writeFileSync(out, `${JSON.stringify({ settings, pinning: pin.description, node: process.version, parseCsrCpuUs, results }, null, 2)}\n`);
  console.log(`\nwritten to ${out}`);
}

await main();
