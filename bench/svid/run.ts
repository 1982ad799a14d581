/**
 * X.509-SVIDs per second through keysmith's HTTP API, over keep-alive mutual
 * TLS, with every ledger row durable:
 *
 *   npm run bench:svid
 *   BENCH_SECONDS=5 BENCH_ROUNDS=3 node dist/bench/svid/run.js
 *
 * The server is keysmith as `serve` wires it (bench/svid/server.ts), forked
 * and pinned to CPU 0; this process pins itself to CPU 1 (BENCH_PIN=none
 * leaves both unpinned; PostgreSQL and HAProxy are never pinned, so the
 * PostgreSQL rows are honest only unpinned). The bench client holds a workload SVID; 64
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
 * Configurations (BENCH_BACKENDS, comma list, default all three), measured
 * in the same run with the same loads, rounds interleaved:
 *
 *   sqlite    one node, the ledger in SQLite (the embedded default)
 *   postgres  one node on PostgreSQL: a throw-away cluster the bench starts
 *             (scripts/pg-cluster.mjs), or BENCH_DATABASE_URL; a fresh
 *             database per configuration, dropped at the end
 *   cluster   two nodes on one PostgreSQL database behind HAProxy (TCP mode,
 *             round robin); the load connects to HAProxy
 *
 * Reported per configuration and load: SVIDs (or responses) per wall second
 * and per server-CPU-second (nodes + PostgreSQL + HAProxy, from
 * /proc/<pid>/stat), that CPU split by process group, p50/p99 latency of a
 * call, on PostgreSQL the WAL bytes per SVID and SVIDs per COMMIT record
 * (pg_waldump over the window's WAL), at the end the ledger's bytes per
 * certificates row after VACUUM, and where the node's CPU goes per SVID: the TLS +
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
 * BENCH_CPU_PROFILE (a directory for the server's V8 CPU profile),
 * BENCH_BACKENDS (sqlite,postgres,cluster), BENCH_DATABASE_URL (an
 * administrator URL of an existing PostgreSQL instead of a throw-away one),
 * BENCH_DATABASE_POOL_SIZE (each node's pool; keysmith's default, 10, unset).
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { IssueStep } from '../../src/ca/index.js';
import { envNumber } from '../common/env.js';
import { measuredWindow, sleep } from '../common/window.js';
import type { HttpResponse } from '../common/http-responses.js';
import { drive, type Lane, type Totals } from './drive.js';
import { exchange, httpRequest, openConnection, type Identity } from './http.js';
import { pinning } from '../common/server-process.js';
import {
  DEFAULT_CONFIGURATIONS,
  ALL_CONFIGURATIONS,
  startConfiguration,
  type Configuration,
  type ConfigurationName,
  type CpuSample,
} from './configurations.js';
import { CsrPool } from './csr.js';
import { BenchPostgres, type RowStorage, type WalPoint } from './postgres.js';
import { machineBusySeconds } from './proc-cpu.js';
import { perStep, type StepTotal } from './protocol.js';
import { printComparison, printSteps, summarize, type LoadName, type LoadResult, type Window } from './report.js';

const settings = {
  seconds: envNumber('BENCH_SECONDS', 3, 0.2, 600),
  warmup: envNumber('BENCH_WARMUP', 1, 0, 60),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 1, 1, 50)),
  csrs: Math.round(envNumber('BENCH_CSRS', 12_000, 100, 1_000_000)),
  batch: Math.round(envNumber('BENCH_BATCH', 50, 1, 100)),
  batchConnections: Math.round(envNumber('BENCH_BATCH_CONNS', 8, 1, 256)),
  routeWaitSeconds: envNumber('BENCH_ROUTE_WAIT', 0, 0, 3600),
  entries: 64,
  /** Fleet loads: SVIDs a connection carries before the next identity's connection replaces it. */
  fleetItemsPerConnection: Math.round(envNumber('BENCH_FLEET_REQUESTS', 20, 1, 1_000_000)),
};

const ALL_LOADS: readonly LoadName[] = ['trivial', 'svid-1', 'svid-8', 'svid-64', 'batch', 'svid-64-fleet', 'batch-fleet'];
const ONLY = (process.env['BENCH_ONLY'] ?? '').split(',').filter((name) => name !== '');
const LOADS = ONLY.length === 0 ? ALL_LOADS : ALL_LOADS.filter((load) => ONLY.includes(load));
const BACKENDS_ASKED = (process.env['BENCH_BACKENDS'] ?? '').split(',').filter((name) => name !== '');
const CONFIGURATIONS =
  BACKENDS_ASKED.length === 0 ? DEFAULT_CONFIGURATIONS : ALL_CONFIGURATIONS.filter((name) => BACKENDS_ASKED.includes(name));
const CONNECTIONS: Readonly<Record<LoadName, number>> = {
  trivial: 64,
  'svid-1': 1,
  'svid-8': 8,
  'svid-64': 64,
  batch: settings.batchConnections,
  'svid-64-fleet': 64,
  'batch-fleet': settings.batchConnections,
};
const isBatch = (load: LoadName): boolean => load === 'batch' || load === 'batch-fleet';
const isFleet = (load: LoadName): boolean => load === 'svid-64-fleet' || load === 'batch-fleet';
const LABELS: Readonly<Record<LoadName, string>> = {
  trivial: 'GET /healthz, 64 conns (trivial route)',
  'svid-1': 'POST /v1/svid/x509, 1 conn',
  'svid-8': 'POST /v1/svid/x509, 8 conns',
  'svid-64': 'POST /v1/svid/x509, 64 conns',
  batch: `POST /v1/svid/x509:batch ×${settings.batch}, ${settings.batchConnections} conns`,
  'svid-64-fleet': `POST /v1/svid/x509, 64 conns, each identity its own (renewal), a new identity every ${settings.fleetItemsPerConnection} SVIDs`,
  'batch-fleet': `POST /v1/svid/x509:batch ×${settings.batch}, ${settings.batchConnections} conns, a new identity every ${settings.fleetItemsPerConnection} SVIDs`,
};

// ---------------------------------------------------------------- set-up

function workloadIds(target: Configuration): string[] {
  return Array.from({ length: settings.entries }, (_, i) => `spiffe://${target.ready.trustDomain}/bench/workload-${i}`);
}

/** Polls POST /v1/svid/x509 until it exists (the routes may still be in the making); false when it never answered. */
async function waitForRoute(target: Configuration, client: Identity): Promise<boolean> {
  const deadline = performance.now() + settings.routeWaitSeconds * 1000;
  for (;;) {
    const probe = await exchange(target, client, httpRequest('POST', '/v1/svid/x509', '{}'));
    if (probe.status !== 404) return true;
    if (performance.now() >= deadline) return false;
    await sleep(2_000);
  }
}

async function createEntries(target: Configuration, admin: Identity, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    const body = JSON.stringify({ spiffe_id: id, parent_id: target.ready.clientId, x509_ttl: 3600 });
    const response = await exchange(target, admin, httpRequest('POST', '/v1/entries', body));
    if (response.status !== 201)
      throw new Error(`POST /v1/entries answered ${response.status}: ${response.body.toString('utf8').slice(0, 300)}`);
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
async function sanityCheck(target: Configuration, client: Identity, pool: CsrPool, ids: readonly string[]): Promise<void> {
  const [id = ''] = ids;
  const single = await exchange(target, client, httpRequest('POST', '/v1/svid/x509', x509Body(pool.take(), id)));
  if (single.status !== 200)
    throw new Error(`sanity check: POST /v1/svid/x509 answered ${single.status}: ${single.body.toString('utf8').slice(0, 300)}`);
  const svid: unknown = JSON.parse(single.body.toString('utf8'));
  const chain =
    typeof svid === 'object' && svid !== null && 'cert_chain' in svid && typeof svid.cert_chain === 'string' ? svid.cert_chain : '';
  const leaf = new X509Certificate(chain);
  if (leaf.subjectAltName !== `URI:${id}`) throw new Error(`sanity check: the SVID names ${leaf.subjectAltName ?? 'nothing'}, not ${id}`);
  if (!leaf.verify(new X509Certificate(chain.slice(chain.indexOf('-----END CERTIFICATE-----') + 26)).publicKey)) {
    throw new Error('sanity check: the SVID does not verify with the intermediate in its chain');
  }
  const batch = await exchange(
    target,
    client,
    httpRequest(
      'POST',
      '/v1/svid/x509:batch',
      JSON.stringify({
        requests: [
          { csr: pool.take(), spiffe_id: id },
          { csr: pool.take(), spiffe_id: ids[1] ?? id },
        ],
      }),
    ),
  );
  const count = countBatchSvids(batch);
  if (count !== 2)
    throw new Error(
      `sanity check: the batch route answered ${batch.status} with ${count} SVIDs: ${batch.body.toString('utf8').slice(0, 300)}`,
    );
}

function countBatchSvids(response: HttpResponse): number {
  if (response.status !== 200) return 0;
  const parsed: unknown = JSON.parse(response.body.toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null || !('results' in parsed) || !Array.isArray(parsed.results)) return 0;
  return parsed.results.filter((result: unknown) => typeof result === 'object' && result !== null && 'svid' in result).length;
}

// ---------------------------------------------------------------- load

function requestMaker(load: LoadName, pool: CsrPool, ids: readonly string[], counter: { value: number }): () => Buffer {
  if (load === 'trivial') {
    const bytes = httpRequest('GET', '/healthz');
    return () => bytes;
  }
  if (isBatch(load)) return () => httpRequest('POST', '/v1/svid/x509:batch', batchBody(pool, ids, counter));
  return () => httpRequest('POST', '/v1/svid/x509', x509Body(pool.take(), ids[counter.value++ % ids.length] ?? ''));
}

/** Where the fleet loads are in the fleet: each new connection takes the next identity, across windows and rounds. */
const fleetCursor = { next: 0 };

/** One lane per connection: the bench client for the usual loads; for the fleet loads, identity after identity, each renewing its own SPIFFE ID. */
async function openLanes(target: Configuration, client: Identity, load: LoadName, pool: CsrPool, ids: readonly string[]): Promise<Lane[]> {
  const count = CONNECTIONS[load];
  if (!isFleet(load)) {
    const make = requestMaker(load, pool, ids, { value: 0 });
    const sockets = await Promise.all(Array.from({ length: count }, () => openConnection(target, client)));
    return sockets.map((socket) => ({ socket, make }));
  }
  const { fleet } = target.ready;
  if (fleet.length === 0) throw new Error('the fleet loads need BENCH_IDENTITIES > 0');
  const lane = async (): Promise<Lane> => {
    const identity = fleet[fleetCursor.next++ % fleet.length];
    if (identity === undefined) throw new Error('empty fleet');
    const socket = await openConnection(target, { cert: identity.certPem, key: identity.keyPem });
    return { socket, make: requestMaker(load, pool, [identity.spiffeId], { value: 0 }), reopen: lane };
  };
  return Promise.all(Array.from({ length: count }, lane));
}

function sumSteps(windows: readonly { readonly steps: Readonly<Record<IssueStep, StepTotal>> }[]): Record<IssueStep, StepTotal> {
  return perStep((step) => ({
    count: windows.reduce((sum, w) => sum + w.steps[step].count, 0),
    totalMs: windows.reduce((sum, w) => sum + w.steps[step].totalMs, 0),
  }));
}

function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'latin1').split(' ')[0] ?? 0);
}

async function measure(
  target: Configuration,
  postgres: BenchPostgres | undefined,
  client: Identity,
  load: LoadName,
  pool: CsrPool,
  ids: readonly string[],
): Promise<Window> {
  if (load !== 'trivial') pool.refill();
  const lanes = await openLanes(target, client, load, pool, ids);
  const sockets = lanes.map((lane) => lane.socket);
  const totals: Totals = { calls: 0, items: 0, errors: 0, lastError: '', latenciesUs: [] };
  const state = { running: true, measuring: false };
  const options = {
    itemsPerCall: isBatch(load) ? settings.batch : 1,
    count: (response: HttpResponse): number => (isBatch(load) ? countBatchSvids(response) : response.status === 200 ? 1 : 0),
    itemsPerConnection: isFleet(load) ? settings.fleetItemsPerConnection : Number.POSITIVE_INFINITY,
  };
  const loops = drive(lanes, options, totals, state, sockets);
  const wal = target.database === undefined ? undefined : postgres;
  let cpuBefore: CpuSample = target.cpu();
  let cpuAfter: CpuSample = cpuBefore;
  let walBefore: Promise<WalPoint> | undefined;
  let walAfter: Promise<WalPoint> | undefined;
  let connections: Promise<number> | undefined;
  let machineBefore = machineBusySeconds();
  let machineAfter = machineBefore;
  const { wallSeconds, loadCpuSeconds } = await measuredWindow({
    warmupSeconds: settings.warmup,
    seconds: settings.seconds,
    state,
    start: () => {
      for (const node of target.nodes) node.tell({ type: 'window-start' });
      cpuBefore = target.cpu();
      machineBefore = machineBusySeconds();
      walBefore = wal?.walPoint();
    },
    end: () => {
      cpuAfter = target.cpu();
      machineAfter = machineBusySeconds();
      walAfter = wal?.walPoint();
      connections = target.database === undefined ? undefined : wal?.connections(target.database);
      for (const node of target.nodes) node.tell({ type: 'window-end' });
    },
  });
  const nodeWindows = await Promise.all(target.nodes.map((node) => node.next('window')));
  state.running = false;
  await Promise.race([Promise.all(loops), sleep(10_000)]);
  for (const socket of sockets) socket.destroy();
  const [from, to] = [await walBefore, await walAfter];
  const walBytes = wal === undefined || from === undefined || to === undefined ? undefined : await wal.walBytes(from, to);
  const commitRecords = wal === undefined || from === undefined || to === undefined ? undefined : wal.commitRecords(from, to);
  return {
    calls: totals.calls,
    items: totals.items,
    wallSeconds,
    nodeCpuSeconds: cpuAfter.nodes - cpuBefore.nodes,
    eventLoopCpuSeconds: Math.max(0, ...cpuAfter.eventLoops.map((after, i) => after - (cpuBefore.eventLoops[i] ?? 0))),
    postgresCpuSeconds: cpuAfter.postgres - cpuBefore.postgres,
    haproxyCpuSeconds: cpuAfter.haproxy - cpuBefore.haproxy,
    loadCpuSeconds,
    machineCpuSeconds: machineAfter - machineBefore,
    connections: await connections,
    latenciesUs: totals.latenciesUs,
    errors: totals.errors,
    lastError: totals.lastError,
    steps: sumSteps(nodeWindows),
    recordsPerNode: nodeWindows.map((w) => w.steps.record.count),
    reusedCsrs: pool.reused,
    walBytes,
    commitRecords,
    loadAverage: loadAverage(),
  };
}

// ---------------------------------------------------------------- main

interface Prepared {
  readonly target: Configuration;
  readonly client: Identity;
  readonly ids: readonly string[];
  readonly windows: Map<LoadName, Window[]>;
}

async function prepare(target: Configuration, pool: CsrPool): Promise<Prepared | undefined> {
  const client: Identity = { cert: target.ready.clientCertPem, key: target.ready.clientKeyPem };
  const admin: Identity = { cert: target.ready.adminCertPem, key: target.ready.adminKeyPem };
  if (!(await waitForRoute(target, client))) return undefined;
  const ids = workloadIds(target);
  await createEntries(target, admin, ids);
  await sanityCheck(target, client, pool, ids);
  return { target, client, ids, windows: new Map(LOADS.map((l) => [l, []])) };
}

async function main(): Promise<void> {
  // Unpinned by default since the crypto workers spread issuance over both cores; BENCH_PIN=split pins as before.
  if ((process.env['BENCH_PIN'] ?? '') === '') process.env['BENCH_PIN'] = 'none';
  const pin = pinning();
  const needsPostgres = CONFIGURATIONS.some((name) => name !== 'sqlite');
  const postgres = needsPostgres ? await BenchPostgres.start() : undefined;
  const prepared: Prepared[] = [];
  const started: Configuration[] = [];
  const storage = new Map<ConfigurationName, RowStorage>();
  let parseCsrCpuUs = 0;
  try {
    for (const name of CONFIGURATIONS) started.push(await startConfiguration(name, pin.prefix, postgres));
    const pool = new CsrPool(settings.csrs);
    const poolStarted = performance.now();
    pool.refill();
    console.log(
      `bench/svid: ${settings.csrs} fresh P-256 keys and CSRs in ${((performance.now() - poolStarted) / 1000).toFixed(1)} s (not measured)`,
    );
    for (const target of started) {
      const ready = await prepare(target, pool);
      if (ready === undefined) {
        console.log('bench/svid: POST /v1/svid/x509 answers 404: the SVID routes are not mounted in this build; nothing to measure.');
        process.exitCode = 2;
        return;
      }
      prepared.push(ready);
    }
    const [first] = started;
    if (first !== undefined) {
      first.nodes[0]?.tell({ type: 'calibrate', csrs: pool.sample(500) });
      parseCsrCpuUs = (await first.nodes[0]?.next('calibration'))?.parseCsrCpuUs ?? 0;
    }
    if (postgres !== undefined) console.log(`bench/svid: PostgreSQL: ${postgres.description}; ${postgres.settings}`);
    console.log(
      `bench/svid: ${CONFIGURATIONS.join(', ')}; ${settings.entries} entries each; ${settings.rounds} round(s) of ${settings.seconds} s (+${settings.warmup} s warm-up); ` +
        `${pin.description}; load average ${readFileSync('/proc/loadavg', 'latin1').trim()}`,
    );
    for (let round = 0; round < settings.rounds; round++) {
      // Interleaved: every configuration in every round, in alternating order, so drift on a shared VM hits all alike.
      const configurations = round % 2 === 0 ? prepared : [...prepared].reverse();
      for (const { target, client, ids, windows } of configurations) {
        const order = round % 2 === 0 ? LOADS : [...LOADS].reverse();
        for (const load of order) {
          const window = await measure(target, postgres, client, load, pool, ids);
          windows.get(load)?.push(window);
          const errors = window.errors > 0 ? ` (${window.errors} errors, last: ${window.lastError})` : '';
          const reused = window.reusedCsrs > 0 ? ` (${window.reusedCsrs} CSRs reused: raise BENCH_CSRS)` : '';
          const percent = (seconds: number): string => `${((100 * seconds) / window.wallSeconds).toFixed(0)}%`;
          const others =
            window.machineCpuSeconds - window.nodeCpuSeconds - window.postgresCpuSeconds - window.haproxyCpuSeconds - window.loadCpuSeconds;
          const busy = `node ${percent(window.nodeCpuSeconds)} (event loop ${percent(window.eventLoopCpuSeconds)}), postgres ${percent(window.postgresCpuSeconds)}, haproxy ${percent(window.haproxyCpuSeconds)}, load ${percent(window.loadCpuSeconds)}, others ${percent(Math.max(0, others))}`;
          const spread = target.nodes.length > 1 && load !== 'trivial' ? `; rows per node ${window.recordsPerNode.join('/')}` : '';
          console.log(
            `  round ${round + 1} ${target.name.padEnd(8)} ${load.padEnd(8)} ${(window.items / window.wallSeconds).toFixed(0).padStart(7)} /s  (${busy}; loadavg ${window.loadAverage}${spread})${errors}${reused}`,
          );
        }
      }
    }
    for (const target of started) {
      if (target.database !== undefined && postgres !== undefined) storage.set(target.name, await postgres.rowStorage(target.database));
    }
  } finally {
    for (const target of started) await target.stop();
    await postgres?.stop();
  }
  if (process.exitCode === 2) return;

  const results: LoadResult[] = prepared.flatMap(({ target, windows }) =>
    LOADS.map((load) => summarize(target.name, load, LABELS[load], windows.get(load) ?? [], target.database !== undefined)),
  );
  printComparison(results);
  for (const { target } of prepared)
    printSteps(
      target.name,
      results.filter((r) => r.configuration === target.name),
      parseCsrCpuUs,
    );
  for (const [name, rows] of storage) {
    console.log(
      `\n${name}: ${rows.rows} certificates rows, ${rows.bytes} bytes in certificates + certificate_names + spiffe_latest after VACUUM: ` +
        `${(rows.bytes / Math.max(1, rows.rows)).toFixed(0)} bytes per row; ${rows.connections} connections from the nodes at the end`,
    );
  }
  const out = fileURLToPath(new URL('../../bench-svid-results.json', import.meta.url));
  const rowStorage = Object.fromEntries(
    [...storage].map(([name, rows]) => [name, { ...rows, bytesPerRow: rows.bytes / Math.max(1, rows.rows) }]),
  );
  writeFileSync(
    out,
    `${JSON.stringify({ settings, configurations: CONFIGURATIONS, pinning: pin.description, postgres: postgres?.settings, node: process.version, parseCsrCpuUs, rowStorage, results }, null, 2)}\n`,
  );
  console.log(`\nwritten to ${out}`);
}

await main();
