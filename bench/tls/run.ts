/**
 * keysmith's TLS engine against node:tls (OpenSSL), measured in the same run.
 *
 *   npm run bench                                   # everything, ~2 minutes
 *   BENCH_SECONDS=5 npm run bench                   # longer measured windows
 *   BENCH_ONLY=full,resumed node dist/bench/tls/run.js
 *   BENCH_ONLY=full-tls12,resumed-tls12 node dist/bench/tls/run.js   # TLS 1.2 (RFC 5246) handshakes
 *   node dist/bench/tls/run.js --profile [full|resumed|bulk-up|bulk-down|http]
 *
 * Each server runs in its own child process pinned to CPU 0 (taskset); this
 * process, the load generator, pins itself to CPU 1 and drives both servers
 * with the same node:tls clients. A server reports its own CPU time (user +
 * system, all threads) over a measured window after a warm-up; every figure
 * is operations per server-CPU-second, the median of BENCH_ROUNDS rounds,
 * with the two servers alternating within each round. Memory per idle
 * connection is (RSS and heapUsed after GC, with N idle mTLS connections,
 * minus the same before) / N. No figure is asserted on.
 *
 * Environment: BENCH_SECONDS (measured window per round, default 2),
 * BENCH_ROUNDS (3), BENCH_CONCURRENCY (handshake loops, 16), BENCH_HTTP_CONNS
 * (16), BENCH_IDLE_CONNS (500), BENCH_ONLY (comma list of full, resumed, full-tls12, resumed-tls12,
 * bulk-up, bulk-down, http, memory, short: see short.ts), BENCH_VERIFY_SERVER (1 makes the load
 * clients verify the server's chain and name too; by default only the sanity
 * probe does, because node:tls's client-side checks cost more than the
 * servers' handshakes and the load could not keep the server core busy).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { analyzeProfile } from './cpuprofile.js';
import { Client, closeSocket, type ClientStats, type LoadHandle } from './load.js';
import { makeClientIdentities } from './client-certs.js';
import {
  IMPLS,
  isChildMessage,
  loadFixtures,
  REPO_ROOT,
  type ChildMessage,
  type Fixtures,
  type Impl,
  type MemStats,
  type ParentMessage,
  type ServerMode,
  type WindowStats,
} from './protocol.js';
import { askChildToExit } from '../common/child-exit.js';
import { envNumber } from '../common/env.js';
import { profileShortConnections, runShortConnections } from './short.js';
import { runZeroRtt } from './zero-rtt.js';

// ---------------------------------------------------------------- settings

type MetricId = 'full' | 'resumed' | 'full-fleet' | 'resumed-fleet' | 'full-tls12' | 'resumed-tls12' | 'bulk-up' | 'bulk-down' | 'http';
const METRIC_IDS: readonly MetricId[] = [
  'full',
  'resumed',
  'full-fleet',
  'resumed-fleet',
  'full-tls12',
  'resumed-tls12',
  'bulk-up',
  'bulk-down',
  'http',
];
/** The handshake rows; the -fleet ones present BENCH_CLIENT_CERTS distinct client certificates, cycling; the -tls12 ones speak TLS 1.2. */
const isHandshakeMetric = (m: MetricId): boolean =>
  m === 'full' || m === 'resumed' || m === 'full-fleet' || m === 'resumed-fleet' || m === 'full-tls12' || m === 'resumed-tls12';

const settings = {
  seconds: envNumber('BENCH_SECONDS', 2, 0.2, 600),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 3, 1, 50)),
  concurrency: Math.round(envNumber('BENCH_CONCURRENCY', 16, 1, 256)),
  httpConnections: Math.round(envNumber('BENCH_HTTP_CONNS', 16, 1, 256)),
  idleConnections: Math.round(envNumber('BENCH_IDLE_CONNS', 500, 10, 5000)),
  clientCerts: Math.round(envNumber('BENCH_CLIENT_CERTS', 1000, 1, 10_000)),
  verifyServer: process.env['BENCH_VERIFY_SERVER'] === '1',
  only: (process.env['BENCH_ONLY'] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== ''),
};
for (const id of settings.only) {
  if (![...METRIC_IDS, 'memory', 'short', 'zero-rtt'].includes(id)) throw new Error(`BENCH_ONLY: unknown measurement ${id}`);
}
const wanted = (id: MetricId | 'memory' | 'short' | 'zero-rtt'): boolean => settings.only.length === 0 || settings.only.includes(id);

const SERVER_JS = fileURLToPath(new URL('./server.js', import.meta.url));
const RESULTS_PATH = join(REPO_ROOT, 'dist', 'bench-results.json');
const PROFILE_DIR = join(REPO_ROOT, 'dist', 'bench-profile');
/** A hang guard for IPC replies; not a timed assertion. */
const IPC_TIMEOUT_MS = 60_000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- pinning

interface Pinning {
  readonly serverPrefix: readonly string[];
  readonly description: string;
}

/** Cores this process may use, read before it pins itself. */
const CORES = availableParallelism();

function setUpPinning(): Pinning {
  const hasTaskset = spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status === 0;
  const cores = CORES;
  if (!hasTaskset) {
    console.warn('warning: taskset (util-linux) not found; the server is NOT pinned to one core, figures are less comparable');
    return { serverPrefix: [], description: 'unpinned (no taskset)' };
  }
  if (cores < 2) {
    return { serverPrefix: ['taskset', '-c', '0'], description: 'server on CPU 0, load shares it (1 core)' };
  }
  // The load generator takes the other core; -a covers the threads already running.
  const pinned = spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const loadOn = pinned.status === 0 ? 'load on CPU 1' : 'load unpinned';
  return { serverPrefix: ['taskset', '-c', '0'], description: `server pinned to CPU 0, ${loadOn}` };
}

// ---------------------------------------------------------------- server child

const children = new Set<ChildProcess>();

function killChildren(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  children.clear();
}

process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

type Reply<T extends ChildMessage['type']> = Extract<ChildMessage, { type: T }>;

class ServerChild {
  private readonly waiters: { type: ChildMessage['type']; resolve: (m: ChildMessage) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  port = 0;

  private constructor(
    readonly impl: Impl,
    readonly mode: ServerMode,
    readonly proc: ChildProcess,
  ) {
    proc.on('message', (message: unknown) => {
      if (!isChildMessage(message)) return;
      if (message.type === 'fatal') {
        this.fail(new Error(`${impl} server crashed: ${message.message}`));
        return;
      }
      const index = this.waiters.findIndex((w) => w.type === message.type);
      if (index < 0) return;
      const [waiter] = this.waiters.splice(index, 1);
      waiter?.resolve(message);
    });
    proc.on('exit', (code, signal) => {
      children.delete(proc);
      this.fail(new Error(`${impl} server exited (code ${code ?? 'none'}, signal ${signal ?? 'none'})`));
    });
    proc.on('error', (err) => this.fail(err));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  static async start(impl: Impl, mode: ServerMode, pinning: Pinning, nodeFlags: readonly string[] = []): Promise<ServerChild> {
    const argv = [...pinning.serverPrefix, process.execPath, '--expose-gc', ...nodeFlags, SERVER_JS, impl, mode];
    const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: REPO_ROOT });
    children.add(proc);
    const child = new ServerChild(impl, mode, proc);
    const ready = await child.wait('ready');
    child.port = ready.port;
    return child;
  }

  wait<T extends ChildMessage['type']>(type: T): Promise<Reply<T>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<Reply<T>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.impl} server: no '${type}' reply within ${IPC_TIMEOUT_MS} ms`)),
        IPC_TIMEOUT_MS,
      );
      this.waiters.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Reply<T>);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  request<T extends ChildMessage['type']>(message: ParentMessage, reply: T): Promise<Reply<T>> {
    const answer = this.wait(reply);
    this.proc.send(message);
    return answer;
  }

  /** Asks the child to exit (so a --cpu-prof profile gets written); kills it by PID if it does not. */
  exit(): Promise<void> {
    return askChildToExit(this.proc);
  }
}

// ---------------------------------------------------------------- one measured window

interface Round {
  /** Operations (handshakes, requests) or megabytes in the window. */
  readonly amount: number;
  readonly cpuSeconds: number;
  readonly wallSeconds: number;
  /** amount per server-CPU-second: the figure. */
  readonly perCpuSecond: number;
  /** Server CPU over wall time: how busy the server's core was. */
  readonly busy: number;
  /** The load generator's CPU over the same wall time. */
  readonly clientBusy: number;
  readonly handshakes: number;
  readonly resumedShare: number;
  readonly serverErrors: number;
  readonly clientErrors: number;
  readonly lastClientError: string | undefined;
}

let fleet: readonly SecureContext[] | undefined;

/** One client context per distinct certificate, made on first use (a few seconds for 1,000). */
function fleetIdentities(fx: Fixtures): readonly SecureContext[] {
  if (fleet === undefined) {
    const started = Date.now();
    fleet = makeClientIdentities(settings.clientCerts).map((id) =>
      createSecureContext({
        key: id.key,
        cert: id.chain,
        ca: fx.otherCa,
        minVersion: 'TLSv1.3',
        maxVersion: 'TLSv1.3',
        ciphers: 'TLS_AES_128_GCM_SHA256',
        ecdhCurve: 'X25519',
      }),
    );
    process.stderr.write(`  made ${fleet.length} distinct client certificates in ${Date.now() - started} ms\n`);
  }
  return fleet;
}

let client12: Client | undefined;

/** The TLS 1.2 load (node:tls with maxVersion TLSv1.2, ECDHE-ECDSA-AES128-GCM-SHA256, X25519), made on first use. */
function tls12Client(): Client {
  client12 ??= new Client(loadFixtures(), settings.verifyServer, 'TLSv1.2');
  return client12;
}

async function startLoad(metric: MetricId, server: ServerChild, client: Client): Promise<LoadHandle> {
  switch (metric) {
    case 'full-fleet':
      return client.fleetHandshakeLoops(server.port, settings.concurrency, false, fleetIdentities(loadFixtures()));
    case 'resumed-fleet':
      return client.fleetHandshakeLoops(server.port, settings.concurrency, true, fleetIdentities(loadFixtures()));
    case 'full':
      return client.handshakeLoops(server.port, settings.concurrency, false);
    case 'resumed':
      return client.handshakeLoops(server.port, settings.concurrency, true);
    case 'full-tls12':
      return tls12Client().handshakeLoops(server.port, settings.concurrency, false);
    case 'resumed-tls12':
      return tls12Client().handshakeLoops(server.port, settings.concurrency, true);
    case 'bulk-up':
      return client.bulkUpload(server.port);
    case 'bulk-down': {
      const download = await client.bulkDownload(server.port);
      await server.request({ type: 'send', on: true }, 'sending');
      return {
        stats: download.stats,
        stop: async () => {
          await server.request({ type: 'send', on: false }, 'sending');
          await download.stop();
        },
      };
    }
    case 'http':
      return client.httpLoops(server.port, settings.httpConnections);
  }
}

function amountOf(metric: MetricId, stats: WindowStats): number {
  switch (metric) {
    case 'full':
    case 'resumed':
    case 'full-fleet':
    case 'resumed-fleet':
    case 'full-tls12':
    case 'resumed-tls12':
      return stats.handshakes;
    case 'bulk-up':
      return stats.bytesIn / 1e6;
    case 'bulk-down':
      return stats.bytesOut / 1e6;
    case 'http':
      return stats.requests;
  }
}

async function measureRound(metric: MetricId, server: ServerChild, client: Client, warmMs: number, windowMs: number): Promise<Round> {
  const load = await startLoad(metric, server, client);
  let stats: WindowStats;
  let clientStats: ClientStats;
  let clientCpu: NodeJS.CpuUsage;
  let clientWall: number;
  let clientBusy = 0;
  try {
    await sleep(warmMs);
    await server.request({ type: 'start' }, 'started');
    clientCpu = process.cpuUsage();
    clientWall = performance.now();
    await sleep(windowMs);
    stats = (await server.request({ type: 'stop' }, 'stats')).stats;
    const used = process.cpuUsage(clientCpu);
    clientBusy = (used.user + used.system) / 1000 / (performance.now() - clientWall);
  } finally {
    await load.stop();
    clientStats = load.stats;
  }
  const amount = amountOf(metric, stats);
  const cpuSeconds = stats.cpuUs / 1e6;
  return {
    amount,
    cpuSeconds,
    wallSeconds: stats.wallMs / 1000,
    perCpuSecond: cpuSeconds > 0 ? amount / cpuSeconds : 0,
    busy: stats.wallMs > 0 ? stats.cpuUs / 1000 / stats.wallMs : 0,
    clientBusy,
    handshakes: stats.handshakes,
    resumedShare: stats.handshakes > 0 ? stats.resumed / stats.handshakes : 0,
    serverErrors: stats.errors,
    clientErrors: clientStats.errors,
    lastClientError: clientStats.lastError,
  };
}

// ---------------------------------------------------------------- sanity checks

interface Sanity {
  readonly verifiedByClient: boolean;
  readonly protocol: string | null;
  readonly cipher: string | undefined;
  readonly group: string | undefined;
  readonly resumes: boolean;
  /** A client without a certificate is turned away by the server. */
  readonly requiresClientCert: boolean;
}

interface HandshakeFacts {
  authorized: boolean;
  protocol: string | null;
  cipher: string | undefined;
  group: string | undefined;
  reused: boolean;
  session: Buffer | undefined;
}

function probe(port: number, client: Client, session?: Buffer): Promise<HandshakeFacts> {
  return new Promise((resolve, reject) => {
    const facts: HandshakeFacts = {
      authorized: false,
      protocol: null,
      cipher: undefined,
      group: undefined,
      reused: false,
      session: undefined,
    };
    const socket = connect(client.options(port, session, true));
    const guard = setTimeout(() => socket.destroy(new Error('probe timed out')), 15_000);
    socket.once('secureConnect', () => {
      facts.authorized = socket.authorized;
      facts.protocol = socket.getProtocol();
      facts.cipher = socket.getCipher()?.standardName;
      const ephemeral = socket.getEphemeralKeyInfo();
      facts.group = ephemeral !== null && 'name' in ephemeral ? ephemeral.name : undefined;
      facts.reused = socket.isSessionReused();
    });
    socket.on('session', (s: Buffer) => {
      facts.session = s;
    });
    socket.on('data', () => undefined);
    socket.on('error', (err) => {
      clearTimeout(guard);
      reject(err);
    });
    socket.once('close', () => {
      clearTimeout(guard);
      resolve(facts);
    });
  });
}

async function rejectsAnonymousClient(server: ServerChild, fx: Fixtures): Promise<boolean> {
  await server.request({ type: 'start' }, 'started');
  const context = createSecureContext({ ca: fx.ca, minVersion: 'TLSv1.3', ecdhCurve: 'X25519' });
  await new Promise<void>((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', secureContext: context });
    const guard = setTimeout(() => socket.destroy(), 15_000);
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.once('close', () => {
      clearTimeout(guard);
      resolve();
    });
  });
  await sleep(50);
  const stats = (await server.request({ type: 'stop' }, 'stats')).stats;
  return stats.errors >= 1 && stats.handshakes === 0;
}

async function sanity(server: ServerChild, client: Client, fx: Fixtures): Promise<Sanity> {
  const first = await probe(server.port, client);
  const second = await probe(server.port, client, first.session);
  return {
    verifiedByClient: first.authorized,
    protocol: first.protocol,
    cipher: first.cipher,
    group: first.group,
    resumes: second.reused,
    requiresClientCert: await rejectsAnonymousClient(server, fx),
  };
}

// ---------------------------------------------------------------- memory per idle connection

interface MemoryRound {
  readonly connections: number;
  readonly rssPerConn: number;
  readonly heapPerConn: number;
  readonly externalPerConn: number;
  readonly before: MemStats;
  readonly after: MemStats;
}

async function measureMemory(impl: Impl, pinning: Pinning, client: Client): Promise<MemoryRound> {
  const server = await ServerChild.start(impl, 'idle', pinning);
  try {
    // Warm up code paths and allocator pools, then let it all go.
    const warm = await client.openIdle(server.port, 50, 16);
    await Promise.all(warm.sockets.map((s) => closeSocket(s)));
    await sleep(300);
    const before = (await server.request({ type: 'mem' }, 'mem')).mem;
    const n = settings.idleConnections;
    const idle = await client.openIdle(server.port, n, 16);
    let after = (await server.request({ type: 'mem' }, 'mem')).mem;
    for (let i = 0; i < 50 && after.open - before.open < n; i++) {
      await sleep(100);
      after = (await server.request({ type: 'mem' }, 'mem')).mem;
    }
    const connections = after.open - before.open;
    await Promise.all(idle.sockets.map((s) => closeSocket(s)));
    const per = (a: number, b: number): number => (connections > 0 ? (a - b) / connections : 0);
    return {
      connections,
      rssPerConn: per(after.rss, before.rss),
      heapPerConn: per(after.heapUsed, before.heapUsed),
      externalPerConn: per(after.external + after.arrayBuffers, before.external + before.arrayBuffers),
      before,
      after,
    };
  } finally {
    await server.exit();
  }
}

// ---------------------------------------------------------------- reporting

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return 0;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const METRIC_LABELS: Readonly<Record<MetricId, { label: string; unit: string; decimals: number }>> = {
  full: { label: 'full mTLS handshakes (ECDSA P-256, X25519)', unit: 'handshakes / server-CPU-s', decimals: 0 },
  resumed: { label: 'resumed handshakes (session ticket)', unit: 'handshakes / server-CPU-s', decimals: 0 },
  'full-fleet': {
    label: `full mTLS handshakes, ${settings.clientCerts.toLocaleString('en-US')} distinct client certs`,
    unit: 'handshakes / server-CPU-s',
    decimals: 0,
  },
  'resumed-fleet': {
    label: `resumed handshakes, ${settings.clientCerts.toLocaleString('en-US')} distinct client certs`,
    unit: 'handshakes / server-CPU-s',
    decimals: 0,
  },
  'bulk-up': { label: 'bulk client→server, 1 conn, AES-128-GCM', unit: 'MB / server-CPU-s', decimals: 0 },
  'bulk-down': { label: 'bulk server→client, 1 conn, AES-128-GCM', unit: 'MB / server-CPU-s', decimals: 0 },
  'full-tls12': { label: 'full mTLS handshakes, TLS 1.2 (ECDHE-ECDSA-AES128-GCM, X25519)', unit: 'handshakes / server-CPU-s', decimals: 0 },
  'resumed-tls12': { label: 'resumed handshakes, TLS 1.2 (RFC 5077 ticket)', unit: 'handshakes / server-CPU-s', decimals: 0 },
  http: { label: `HTTP/1.1 keep-alive, ${settings.httpConnections} conns, 12-byte body`, unit: 'requests / server-CPU-s', decimals: 0 },
};

interface MetricResult {
  readonly id: MetricId;
  readonly label: string;
  readonly unit: string;
  readonly rounds: Record<Impl, Round[]>;
  readonly median: Record<Impl, number>;
  readonly ratio: number;
}

function fmt(value: number, decimals: number): string {
  return value.toLocaleString('en-US', { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
}

function pct(value: number): string {
  return `${Math.round(value * 100)}%`;
}

function printTable(headers: readonly string[], rows: readonly (readonly string[])[], rightAlign: ReadonlySet<number>): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((c, i) => (rightAlign.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ')} |`;
  console.log(line(headers));
  console.log(`|${widths.map((w, i) => (rightAlign.has(i) ? `${'-'.repeat(w + 1)}:` : '-'.repeat(w + 2))).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

// ---------------------------------------------------------------- main

async function runThroughput(
  pinning: Pinning,
  client: Client,
  fx: Fixtures,
): Promise<{ results: MetricResult[]; sanity: Partial<Record<Impl, Sanity>> }> {
  const groups: { mode: ServerMode; metrics: MetricId[] }[] = [
    { mode: 'handshake', metrics: ['full', 'resumed', 'full-fleet', 'resumed-fleet', 'full-tls12', 'resumed-tls12'] },
    { mode: 'bulk', metrics: ['bulk-up', 'bulk-down'] },
    { mode: 'http', metrics: ['http'] },
  ];
  const results: MetricResult[] = [];
  const sanityByImpl: Partial<Record<Impl, Sanity>> = {};
  const windowMs = settings.seconds * 1000;
  for (const group of groups) {
    const metrics = group.metrics.filter((m) => wanted(m));
    if (metrics.length === 0) continue;
    const servers = new Map<Impl, ServerChild>();
    try {
      for (const impl of IMPLS) servers.set(impl, await ServerChild.start(impl, group.mode, pinning));
      if (group.mode === 'handshake') {
        for (const impl of IMPLS) sanityByImpl[impl] = await sanity(servers.get(impl)!, client, fx);
      }
      for (const metric of metrics) {
        const rounds: Record<Impl, Round[]> = { node: [], keysmith: [] };
        for (let r = 0; r < settings.rounds; r++) {
          // Alternate who goes first so drift in the machine's load hits both alike.
          const order = r % 2 === 0 ? IMPLS : [...IMPLS].reverse();
          for (const impl of order) {
            // The fleet's first round also has to give each certificate its first (full) handshake and ticket.
            const warmMs = r === 0 ? (metric === 'resumed-fleet' ? 3000 : 1500) : 500;
            const round = await measureRound(metric, servers.get(impl)!, client, warmMs, windowMs);
            rounds[impl].push(round);
            process.stderr.write(
              `  ${metric.padEnd(9)} round ${r + 1}/${settings.rounds} ${impl.padEnd(8)} ${fmt(round.perCpuSecond, 0).padStart(8)} per CPU-s, server busy ${pct(round.busy)}, load ${pct(round.clientBusy)}` +
                `${round.serverErrors + round.clientErrors > 0 ? `, errors server ${round.serverErrors} client ${round.clientErrors} (${round.lastClientError ?? ''})` : ''}\n`,
            );
          }
        }
        const med = { node: median(rounds.node.map((x) => x.perCpuSecond)), keysmith: median(rounds.keysmith.map((x) => x.perCpuSecond)) };
        const { label, unit } = METRIC_LABELS[metric];
        results.push({ id: metric, label, unit, rounds, median: med, ratio: med.node > 0 ? med.keysmith / med.node : 0 });
      }
    } finally {
      for (const server of servers.values()) await server.exit();
    }
  }
  return { results, sanity: sanityByImpl };
}

async function runMemory(pinning: Pinning, client: Client): Promise<Record<Impl, MemoryRound[]>> {
  const out: Record<Impl, MemoryRound[]> = { node: [], keysmith: [] };
  for (let r = 0; r < settings.rounds; r++) {
    const order = r % 2 === 0 ? IMPLS : [...IMPLS].reverse();
    for (const impl of order) {
      const m = await measureMemory(impl, pinning, client);
      out[impl].push(m);
      process.stderr.write(
        `  memory    round ${r + 1}/${settings.rounds} ${impl.padEnd(8)} ${m.connections} conns: RSS ${fmt(m.rssPerConn / 1024, 1)} KiB, heapUsed ${fmt(m.heapPerConn / 1024, 1)} KiB per conn\n`,
      );
    }
  }
  return out;
}

async function runBench(): Promise<void> {
  const pinning = setUpPinning();
  const fx = loadFixtures();
  const client = new Client(fx, settings.verifyServer);
  const started = Date.now();
  console.log(
    `keysmith TLS bench: Node ${process.version}, OpenSSL ${process.versions.openssl}, ${cpus()[0]?.model ?? 'unknown CPU'}, ${CORES} cores\n` +
      `${pinning.description}; ${settings.rounds} rounds x ${settings.seconds} s windows (median); clients: node:tls, TLS 1.3, AES-128-GCM, X25519, ` +
      `${settings.concurrency} handshake loops${settings.verifyServer ? '' : ' (server chain not verified by the load)'}\n`,
  );

  const { results, sanity: sanityByImpl } = await runThroughput(pinning, client, fx);
  const memory = wanted('memory') ? await runMemory(pinning, client) : undefined;
  // Short connections (bench/tls/short.ts): a fleet of client certificates, one request each; printed as its own table.
  if (wanted('short')) await runShortConnections(pinning.serverPrefix);
  // 0-RTT time to first byte beside 1-RTT resumption (bench/tls/zero-rtt.ts), keysmith at both ends.
  if (wanted('zero-rtt')) await runZeroRtt();

  // Sanity first: a figure means nothing if the handshake was not what we think.
  const sanityRows = Object.entries(sanityByImpl).map(([impl, s]) => [
    impl === 'node' ? 'node:tls' : impl,
    s.protocol ?? '-',
    s.cipher ?? '-',
    s.group ?? '-',
    s.verifiedByClient ? 'yes' : 'NO',
    s.requiresClientCert ? 'yes' : 'NO',
    s.resumes ? 'yes' : 'NO',
  ]);
  if (sanityRows.length > 0) {
    console.log('\nsanity (one probe connection per server, verified against ca.pem):');
    printTable(
      ['server', 'protocol', 'cipher', 'group', 'server chain verified', 'client cert required', 'ticket resumes'],
      sanityRows,
      new Set(),
    );
  }

  const rows: string[][] = [];
  for (const m of results) {
    const { decimals } = METRIC_LABELS[m.id];
    const busy = (impl: Impl): string => pct(median(m.rounds[impl].map((x) => x.busy)));
    rows.push([
      m.label,
      m.unit,
      fmt(m.median.node, decimals),
      fmt(m.median.keysmith, decimals),
      `${m.ratio.toFixed(2)}x`,
      `${busy('node')} / ${busy('keysmith')}`,
    ]);
    if (isHandshakeMetric(m.id)) {
      const us = (impl: Impl): string => (m.median[impl] > 0 ? fmt(1e6 / m.median[impl], 0) : '-');
      rows.push([
        `  server CPU per ${m.id} handshake`,
        'µs (lower is better)',
        us('node'),
        us('keysmith'),
        m.median.keysmith > 0 ? `${(m.median.node / m.median.keysmith).toFixed(2)}x` : '-',
        '',
      ]);
    }
  }
  const memoryMedians =
    memory === undefined
      ? undefined
      : {
          rss: { node: median(memory.node.map((x) => x.rssPerConn)), keysmith: median(memory.keysmith.map((x) => x.rssPerConn)) },
          heap: { node: median(memory.node.map((x) => x.heapPerConn)), keysmith: median(memory.keysmith.map((x) => x.heapPerConn)) },
          external: {
            node: median(memory.node.map((x) => x.externalPerConn)),
            keysmith: median(memory.keysmith.map((x) => x.externalPerConn)),
          },
        };
  if (memoryMedians !== undefined) {
    const kib = (v: number): string => fmt(v / 1024, 1);
    // Below 1 KiB per connection the ratio is noise, not information.
    const ratio = (a: { node: number; keysmith: number }): string =>
      Math.abs(a.node) >= 1024 ? `${(a.keysmith / a.node).toFixed(2)}x` : '-';
    const n = settings.idleConnections;
    rows.push([
      `memory per idle mTLS conn (${n}): RSS`,
      'KiB (target < 64)',
      kib(memoryMedians.rss.node),
      kib(memoryMedians.rss.keysmith),
      ratio(memoryMedians.rss),
      '',
    ]);
    rows.push([
      `memory per idle mTLS conn (${n}): heapUsed`,
      'KiB',
      kib(memoryMedians.heap.node),
      kib(memoryMedians.heap.keysmith),
      ratio(memoryMedians.heap),
      '',
    ]);
    rows.push([
      `memory per idle mTLS conn (${n}): external+arrayBuffers`,
      'KiB',
      kib(memoryMedians.external.node),
      kib(memoryMedians.external.keysmith),
      ratio(memoryMedians.external),
      '',
    ]);
  }
  console.log('\nresults (per server-CPU-second; medians):');
  printTable(
    ['measurement', 'unit', 'node:tls', 'keysmith', 'keysmith/node:tls', 'server core busy node / keysmith'],
    rows,
    new Set([2, 3, 4]),
  );

  const notes: string[] = [];
  for (const m of results) {
    for (const impl of IMPLS) {
      const errors = m.rounds[impl].reduce((sum, x) => sum + x.serverErrors + x.clientErrors, 0);
      if (errors > 0)
        notes.push(
          `${m.id} on ${impl}: ${errors} failed connections (last client error: ${m.rounds[impl].map((x) => x.lastClientError).find((e) => e !== undefined) ?? '-'})`,
        );
      if (m.id === 'resumed' || m.id === 'resumed-fleet' || m.id === 'resumed-tls12') {
        const share = median(m.rounds[impl].map((x) => x.resumedShare));
        if (share < 0.95) notes.push(`${m.id} on ${impl}: only ${pct(share)} of the handshakes in the window resumed`);
      }
      if ((m.id === 'full' || m.id === 'full-fleet' || m.id === 'full-tls12') && m.rounds[impl].some((x) => x.resumedShare > 0))
        notes.push(`${m.id} on ${impl}: some handshakes resumed`);
    }
  }
  for (const m of results) {
    console.log(
      `  ${m.id.padEnd(9)} rounds: node:tls ${m.rounds.node.map((x) => fmt(x.perCpuSecond, 0)).join(' / ')}; keysmith ${m.rounds.keysmith.map((x) => fmt(x.perCpuSecond, 0)).join(' / ')}`,
    );
  }
  if (notes.length > 0) console.log(`\nnotes:\n${notes.map((n) => `  - ${n}`).join('\n')}`);
  console.log(`\ntook ${((Date.now() - started) / 1000).toFixed(0)} s; results in ${RESULTS_PATH}`);

  mkdirSync(join(REPO_ROOT, 'dist'), { recursive: true });
  writeFileSync(
    RESULTS_PATH,
    `${JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        openssl: process.versions.openssl,
        cpu: cpus()[0]?.model,
        cores: CORES,
        pinning: pinning.description,
        settings,
        sanity: sanityByImpl,
        metrics: results,
        memory: memory === undefined ? undefined : { medians: memoryMedians, rounds: memory },
        notes,
      },
      null,
      2,
    )}\n`,
  );
}

// ---------------------------------------------------------------- --profile

async function runProfile(metric: MetricId): Promise<void> {
  const pinning = setUpPinning();
  const fx = loadFixtures();
  const client = new Client(fx, settings.verifyServer);
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  mkdirSync(PROFILE_DIR, { recursive: true });
  const mode: ServerMode = isHandshakeMetric(metric) ? 'handshake' : metric === 'http' ? 'http' : 'bulk';
  const server = await ServerChild.start('keysmith', mode, pinning, [
    '--cpu-prof',
    `--cpu-prof-dir=${PROFILE_DIR}`,
    '--cpu-prof-interval=200',
  ]);
  let round: Round;
  try {
    round = await measureRound(metric, server, client, 1000, Math.max(4, settings.seconds * 2) * 1000);
  } finally {
    await server.exit();
  }
  const files = readdirSync(PROFILE_DIR)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => join(PROFILE_DIR, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  const file = files[0];
  if (file === undefined) throw new Error(`no .cpuprofile written to ${PROFILE_DIR}`);
  const summary = analyzeProfile(file, REPO_ROOT);
  console.log(
    `keysmith server, ${metric}: ${fmt(round.perCpuSecond, 0)} per server-CPU-s during the profiled window (profiling adds overhead)`,
  );
  console.log(`profile: ${file}  (busy ${fmt(summary.busyMs, 0)} ms sampled, warm-up included)\n`);
  const row = (e: (typeof summary.bySelf)[number]): string[] => [
    e.name,
    e.location,
    fmt(e.selfMs, 1),
    pct(e.selfShare),
    fmt(e.totalMs, 1),
    pct(e.totalShare),
  ];
  const headers = ['function', 'location', 'self ms', 'self %', 'total ms', 'total %'];
  console.log('top self time, whole process:');
  printTable(headers, summary.bySelf.slice(0, 25).map(row), new Set([2, 3, 4, 5]));
  const ours = summary.bySelf.filter((e) => e.location.startsWith('src/'));
  console.log('\ntop self time in src/ (our engine):');
  printTable(headers, ours.slice(0, 20).map(row), new Set([2, 3, 4, 5]));
  console.log('\ntop total (inclusive) time in src/:');
  printTable(
    headers,
    [...ours]
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, 15)
      .map(row),
    new Set([2, 3, 4, 5]),
  );
  console.log('\nsrc/ functions charged with their own time plus what they call outside src/ (node:crypto, Buffer, sockets):');
  printTable(
    ['function', 'location', 'charged ms', 'share', 'biggest callees outside src/'],
    summary.charged
      .slice(0, 20)
      .map((c) => [c.name, c.location, fmt(c.chargedMs, 1), pct(c.share), c.topCallees.map((t) => `${t.name} ${fmt(t.ms, 0)}`).join(', ')]),
    new Set([2, 3]),
  );
  console.log('\nself time per src/ file:');
  printTable(
    ['file', 'self ms', 'self %'],
    summary.byFile.slice(0, 15).map((f) => [f.file, fmt(f.selfMs, 1), pct(f.share)]),
    new Set([1, 2]),
  );
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const profileAt = args.indexOf('--profile');
  if (profileAt >= 0 && (args[profileAt + 1] === 'short-handler' || args[profileAt + 1] === 'short-fastify')) {
    await profileShortConnections(args[profileAt + 1] === 'short-fastify' ? 'fastify' : 'handler', setUpPinning().serverPrefix);
  } else if (profileAt >= 0) {
    const metric = (args[profileAt + 1] ?? 'full') as MetricId;
    if (!METRIC_IDS.includes(metric)) throw new Error(`--profile takes one of ${METRIC_IDS.join(', ')}`);
    await runProfile(metric);
  } else {
    await runBench();
  }
}

main()
  .catch((err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exitCode = 1;
  })
  .finally(() => {
    killChildren();
    // Idle keep-alive sockets or a stray timer must not keep the bench alive.
    setTimeout(() => process.exit(), 200).unref();
  });
