/**
 * Short connections: what a connection costs when each is a different
 * workload doing one request (full mTLS handshake with its own client
 * certificate, one GET answered through the HTTP stack, close). keysmith's
 * engine against node:https, each server in a child pinned to CPU 0, the
 * load (node:tls clients, BENCH_FLEET distinct certificates cycling) on CPU 1.
 *
 *   node dist/bench/tls/short.js                      # both stacks, node:https beside keysmith
 *   BENCH_ONLY=short node dist/bench/tls/run.js       # the same, from the TLS bench
 *   node dist/bench/tls/short.js --profile [handler|fastify]
 *
 * Stacks: handler (one node:http request listener) and fastify (the
 * production app from buildApp: request-context, mtls-peer's certificate
 * lookup, access policy, request metrics, info logging into a sink). The
 * figure is server CPU per connection (process.cpuUsage of the server over
 * the window / requests answered), the median of BENCH_ROUNDS rounds.
 * Environment: BENCH_SECONDS (2), BENCH_ROUNDS (3), BENCH_FLEET (1000
 * certificates), BENCH_SHORT_CONCURRENCY (16 connect loops), BENCH_SHORT_STACKS
 * (comma list of handler, fastify).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createSecureContext, type SecureContext } from 'node:tls';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { askChildToExit } from '../common/child-exit.js';
import { envNumber } from '../common/env.js';
import { ResponseReader } from '../common/http-responses.js';
import { analyzeProfile } from './cpuprofile.js';
import { isChildMessage, loadFixtures, REPO_ROOT, type ChildMessage, type ParentMessage, type WindowStats } from './protocol.js';
import { issueFleet, type FleetIdentity } from './short-certs.js';
import type { ShortImpl, ShortStack } from './short-server.js';

const SERVER_JS = fileURLToPath(new URL('./short-server.js', import.meta.url));
const PROFILE_DIR = join(REPO_ROOT, 'dist', 'bench-profile-short');
const STACKS: readonly ShortStack[] = ['handler', 'fastify'];
/**
 * Servers measured side by side: node:https, keysmith, and with
 * BENCH_SHORT_BASELINE=<another build's dist/> that build's keysmith too
 * (a before/after in one run; its short-server.js serves it).
 */
type Contender = ShortImpl | 'baseline';
const BASELINE_DIST = process.env['BENCH_SHORT_BASELINE'] ?? '';
const CONTENDERS: readonly Contender[] = BASELINE_DIST === '' ? ['node', 'keysmith'] : ['node', 'baseline', 'keysmith'];
/** A hang guard on IPC replies and on each connection; not a timed assertion. */
const GUARD_MS = 15_000;
const MAX_ITERATIONS = 10_000_000;

const settings = {
  seconds: envNumber('BENCH_SECONDS', 2, 0.2, 600),
  rounds: Math.round(envNumber('BENCH_ROUNDS', 3, 1, 50)),
  fleet: Math.round(envNumber('BENCH_FLEET', 1000, 1, 100_000)),
  concurrency: Math.round(envNumber('BENCH_SHORT_CONCURRENCY', 16, 1, 256)),
  stacks: (process.env['BENCH_SHORT_STACKS'] ?? STACKS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is ShortStack => STACKS.some((known) => known === s)),
};

const PATHS: Readonly<Record<ShortStack, string>> = { handler: '/', fastify: '/healthz' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---------------------------------------------------------------- server child

class ShortServer {
  private readonly waiters: { type: ChildMessage['type']; resolve: (m: ChildMessage) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;
  port = 0;

  private constructor(readonly proc: ChildProcess) {
    proc.on('message', (message: unknown) => {
      if (!isChildMessage(message)) return;
      if (message.type === 'fatal') return this.fail(new Error(`server crashed: ${message.message}`));
      const index = this.waiters.findIndex((w) => w.type === message.type);
      if (index >= 0) this.waiters.splice(index, 1)[0]?.resolve(message);
    });
    proc.on('exit', (code, signal) => this.fail(new Error(`server exited (code ${code ?? 'none'}, signal ${signal ?? 'none'})`)));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const w of this.waiters.splice(0)) w.reject(err);
  }

  static async start(contender: Contender, stack: ShortStack, serverPrefix: readonly string[], profilePath?: string): Promise<ShortServer> {
    const script = contender === 'baseline' ? join(BASELINE_DIST, 'bench', 'tls', 'short-server.js') : SERVER_JS;
    const impl: ShortImpl = contender === 'node' ? 'node' : 'keysmith';
    const argv = [...serverPrefix, process.execPath, script, impl, stack, String(settings.fleet)];
    const env = profilePath === undefined ? process.env : { ...process.env, BENCH_SHORT_PROFILE: profilePath };
    const proc = spawn(argv[0] ?? process.execPath, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], cwd: REPO_ROOT, env });
    const server = new ShortServer(proc);
    server.port = (await server.request(undefined, 'ready')).port;
    return server;
  }

  request<T extends ChildMessage['type']>(message: ParentMessage | undefined, reply: T): Promise<Extract<ChildMessage, { type: T }>> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const answer = new Promise<Extract<ChildMessage, { type: T }>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server: no '${reply}' reply within ${GUARD_MS} ms`)), GUARD_MS);
      const settle = (m: ChildMessage): void => {
        clearTimeout(timer);
        resolve(m as Extract<ChildMessage, { type: T }>);
      };
      this.waiters.push({ type: reply, resolve: settle, reject: (e) => (clearTimeout(timer), reject(e)) });
    });
    if (message !== undefined) this.proc.send(message);
    return answer;
  }

  /** Asks the child to exit (so --cpu-prof writes its profile); kills it by PID if it does not. */
  exit(): Promise<void> {
    return askChildToExit(this.proc);
  }
}

// ---------------------------------------------------------------- load

interface LoadStats {
  connections: number;
  errors: number;
  lastError: string | undefined;
}

/** The fleet as client contexts, built once: PEM parsing per connect would be the client's main cost. */
async function fleetContexts(): Promise<SecureContext[]> {
  const fx = loadFixtures();
  const fleet = await cachedFleet(settings.fleet);
  // Trusting another CA: the chain check fails early and node skips its costly identity check (see load.ts); the server's work is the same.
  return fleet.map((id) =>
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
}

/** The fleet, issued once per size and kept under dist/ (1,000 key pairs and signatures take a while). */
async function cachedFleet(size: number): Promise<FleetIdentity[]> {
  const path = join(REPO_ROOT, 'dist', `bench-short-fleet-${size}.json`);
  if (existsSync(path)) return JSON.parse(readFileSync(path, 'utf8')) as FleetIdentity[];
  const fleet = await issueFleet(size);
  mkdirSync(join(REPO_ROOT, 'dist'), { recursive: true });
  writeFileSync(path, JSON.stringify(fleet));
  return fleet;
}

/** One short connection: handshake with `context`, one GET (Connection: close), read the answer, see the server close. */
function shortConnection(port: number, context: SecureContext, path: string, stats: LoadStats): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', secureContext: context, rejectUnauthorized: false });
    const reader = new ResponseReader();
    let status = 0;
    const fail = (why: string): void => {
      stats.errors++;
      stats.lastError = why;
    };
    const guard = setTimeout(() => {
      fail('connection did not close in time');
      socket.destroy();
    }, GUARD_MS);
    socket.once('secureConnect', () => socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      for (const response of reader.push(chunk)) status = response.status;
    });
    socket.on('error', (err) => fail(err.message));
    socket.once('close', () => {
      clearTimeout(guard);
      if (status === 200) stats.connections++;
      else if (stats.lastError === undefined || status !== 0) fail(`answered ${status}`);
      resolve();
    });
  });
}

function startLoad(port: number, contexts: readonly SecureContext[], path: string): { stats: LoadStats; stop: () => Promise<void> } {
  const stats: LoadStats = { connections: 0, errors: 0, lastError: undefined };
  let running = true;
  let next = 0;
  const loop = async (): Promise<void> => {
    for (let i = 0; i < MAX_ITERATIONS && running; i++) {
      const context = contexts[next++ % contexts.length];
      if (context === undefined) return;
      await shortConnection(port, context, path, stats);
    }
  };
  const loops = Array.from({ length: settings.concurrency }, () => loop());
  return {
    stats,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/**
 * Connects with every certificate of the fleet once before anything is
 * measured: the figures are a fleet's steady state (each workload has been
 * seen before, as when a fleet reconnects), the same for both servers.
 */
async function warmFleet(server: ShortServer, contexts: readonly SecureContext[], stack: ShortStack, isMeasured = true): Promise<number> {
  // The first pass is measured too: each certificate seen for the first time (nothing cached for it).
  // Not while profiling: the server profiles exactly one start-stop window, the one after this.
  if (isMeasured) await server.request({ type: 'start' }, 'started');
  const load = startLoad(server.port, contexts, PATHS[stack]);
  const deadline = performance.now() + 4 * GUARD_MS;
  while (load.stats.connections + load.stats.errors < contexts.length && performance.now() < deadline) await sleep(100);
  await load.stop();
  if (load.stats.errors > 0)
    process.stderr.write(`  short/${stack} warm-up: ${load.stats.errors} failed connections (${load.stats.lastError ?? ''})\n`);
  if (!isMeasured) return 0;
  const stats = (await server.request({ type: 'stop' }, 'stats')).stats;
  return stats.requests > 0 ? stats.cpuUs / stats.requests : 0;
}

interface ShortRound {
  readonly usPerConnection: number;
  readonly connections: number;
  readonly busy: number;
  readonly errors: number;
  readonly lastError: string | undefined;
}

async function measureRound(
  server: ShortServer,
  contexts: readonly SecureContext[],
  stack: ShortStack,
  warmMs: number,
  windowMs: number,
): Promise<ShortRound> {
  const load = startLoad(server.port, contexts, PATHS[stack]);
  let stats: WindowStats;
  try {
    await sleep(warmMs);
    await server.request({ type: 'start' }, 'started');
    await sleep(windowMs);
    stats = (await server.request({ type: 'stop' }, 'stats')).stats;
  } finally {
    await load.stop();
  }
  return {
    usPerConnection: stats.requests > 0 ? stats.cpuUs / stats.requests : 0,
    connections: stats.requests,
    busy: stats.wallMs > 0 ? stats.cpuUs / 1000 / stats.wallMs : 0,
    errors: stats.errors + load.stats.errors,
    lastError: load.stats.lastError,
  };
}

// ---------------------------------------------------------------- bench and profile

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? 0 : sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

export interface ShortResult {
  readonly stack: ShortStack;
  /** Server CPU per connection, µs, median of the rounds. */
  readonly usPerConnection: Partial<Record<Contender, number>>;
  /** keysmith's CPU per connection over node:https's (lower is better; the floor is 0.6). */
  readonly ratio: number;
  readonly rounds: Partial<Record<Contender, ShortRound[]>>;
  /** Server CPU per connection over the first pass, each certificate new to the server (one measurement). */
  readonly firstPass: Partial<Record<Contender, number>>;
}

/** Runs the short-connection rows and prints them; `serverPrefix` pins the server (taskset -c 0). */
export async function runShortConnections(serverPrefix: readonly string[]): Promise<ShortResult[]> {
  const contexts = await fleetContexts();
  const windowMs = settings.seconds * 1000;
  const results: ShortResult[] = [];
  for (const stack of settings.stacks) {
    const servers = new Map<Contender, ShortServer>();
    try {
      for (const impl of CONTENDERS) servers.set(impl, await ShortServer.start(impl, stack, serverPrefix));
      const firstPass: Partial<Record<Contender, number>> = {};
      for (const [impl, server] of servers) {
        firstPass[impl] = await warmFleet(server, contexts, stack);
        process.stderr.write(
          `  short/${stack} ${impl}: first pass over the ${contexts.length} certificates ${(firstPass[impl] ?? 0).toFixed(0)} µs per conn\n`,
        );
      }
      const rounds: Partial<Record<Contender, ShortRound[]>> = {};
      for (let r = 0; r < settings.rounds; r++) {
        for (const impl of r % 2 === 0 ? CONTENDERS : [...CONTENDERS].reverse()) {
          const server = servers.get(impl);
          if (server === undefined) continue;
          const round = await measureRound(server, contexts, stack, 500, windowMs);
          (rounds[impl] ??= []).push(round);
          process.stderr.write(
            `  short/${stack.padEnd(7)} round ${r + 1}/${settings.rounds} ${impl.padEnd(8)} ${round.usPerConnection.toFixed(0).padStart(6)} µs per conn, ${round.connections} conns, server busy ${Math.round(round.busy * 100)}%` +
              `${round.errors > 0 ? `, ${round.errors} errors (${round.lastError ?? ''})` : ''}\n`,
          );
        }
      }
      const us: Partial<Record<Contender, number>> = {};
      for (const impl of CONTENDERS) us[impl] = median((rounds[impl] ?? []).map((x) => x.usPerConnection));
      const node = us.node ?? 0;
      results.push({ stack, usPerConnection: us, ratio: node > 0 ? (us.keysmith ?? 0) / node : 0, rounds, firstPass });
    } finally {
      for (const server of servers.values()) await server.exit();
    }
  }
  console.log(
    `\nshort connections (${settings.fleet} client certificates cycling, ${settings.concurrency} connect loops; server CPU per connection, medians):`,
  );
  const hasBaseline = CONTENDERS.includes('baseline');
  console.log(
    `| stack | node:https µs/conn |${hasBaseline ? ' baseline µs/conn | baseline/node:https |' : ''} keysmith µs/conn | keysmith/node:https (floor ≤ 0.60) | conns/server-CPU-s node / keysmith |`,
  );
  console.log(`|---|--:|${hasBaseline ? '--:|--:|' : ''}--:|--:|--:|`);
  for (const r of results) {
    const us = (impl: Contender): number => r.usPerConnection[impl] ?? 0;
    const perSecond = (value: number): string => (value > 0 ? (1e6 / value).toFixed(0) : '-');
    const baseline = hasBaseline
      ? ` ${us('baseline').toFixed(0)} | ${us('node') > 0 ? (us('baseline') / us('node')).toFixed(2) : '-'}x |`
      : '';
    console.log(
      `| ${r.stack} | ${us('node').toFixed(0)} |${baseline} ${us('keysmith').toFixed(0)} | ${r.ratio.toFixed(2)}x | ${perSecond(us('node'))} / ${perSecond(us('keysmith'))} |`,
    );
  }
  console.log('first pass (each certificate new to the server; one measurement, before the rounds):');
  for (const r of results) {
    const first = (impl: Contender): number => r.firstPass[impl] ?? 0;
    const ratio = first('node') > 0 ? (first('keysmith') / first('node')).toFixed(2) : '-';
    console.log(
      `  ${r.stack}: ${CONTENDERS.map((impl) => `${impl} ${first(impl).toFixed(0)} µs`).join(', ')}; keysmith/node:https ${ratio}x`,
    );
  }
  return results;
}

/** The keysmith server under node --cpu-prof for one window; prints where its time went. */
export async function profileShortConnections(stack: ShortStack, serverPrefix: readonly string[]): Promise<void> {
  const contexts = await fleetContexts();
  rmSync(PROFILE_DIR, { recursive: true, force: true });
  mkdirSync(PROFILE_DIR, { recursive: true });
  const file = join(PROFILE_DIR, `short-${stack}.cpuprofile`);
  const server = await ShortServer.start('keysmith', stack, serverPrefix, file);
  let round: ShortRound;
  try {
    await warmFleet(server, contexts, stack, false);
    round = await measureRound(server, contexts, stack, 500, Math.max(4, settings.seconds * 2) * 1000);
    // The child writes the profile after it answered 'stop'; wait for it.
    const deadline = performance.now() + GUARD_MS;
    while (!existsSync(file) && performance.now() < deadline) await sleep(50);
  } finally {
    await server.exit();
  }
  if (!existsSync(file)) throw new Error(`no profile written to ${file}`);
  const summary = analyzeProfile(file, REPO_ROOT);
  console.log(
    `keysmith short/${stack}: ${round.usPerConnection.toFixed(0)} µs server CPU per connection while profiled (profiling adds overhead)`,
  );
  console.log(`profile of the measured window only: ${file} (busy ${summary.busyMs.toFixed(0)} ms sampled)\n`);
  console.log('| function | location | self ms | self % | total % |\n|---|---|--:|--:|--:|');
  for (const e of summary.bySelf.slice(0, 40))
    console.log(
      `| ${e.name} | ${e.location} | ${e.selfMs.toFixed(1)} | ${(e.selfShare * 100).toFixed(1)} | ${(e.totalShare * 100).toFixed(1)} |`,
    );
  console.log('\nself time per src/ file:\n| file | self ms | self % |\n|---|--:|--:|');
  for (const f of summary.byFile.slice(0, 20)) console.log(`| ${f.file} | ${f.selfMs.toFixed(1)} | ${(f.share * 100).toFixed(1)} |`);
}

// ---------------------------------------------------------------- standalone

/** Server on CPU 0, this process (the load) on CPU 1, when taskset exists and there are two cores. */
export function pinShortBench(): string[] {
  if (spawnSync('taskset', ['-V'], { stdio: 'ignore' }).status !== 0) return [];
  spawnSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  return ['taskset', '-c', '0'];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const profileAt = args.indexOf('--profile');
  const prefix = pinShortBench();
  if (profileAt >= 0) {
    const stack = args[profileAt + 1] ?? 'handler';
    if (!STACKS.some((s) => s === stack)) throw new Error(`--profile takes one of ${STACKS.join(', ')}`);
    await profileShortConnections(stack as ShortStack, prefix);
  } else {
    await runShortConnections(prefix);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main()
    .catch((err: unknown) => {
      console.error(err instanceof Error ? (err.stack ?? err.message) : err);
      process.exitCode = 1;
    })
    .finally(() => setTimeout(() => process.exit(), 200).unref());
}
