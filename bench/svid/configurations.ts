/**
 * What the SVID bench measures side by side in one run: keysmith on SQLite
 * (one node), on PostgreSQL (one node), and two nodes on one PostgreSQL
 * behind HAProxy in TCP mode. Each is started here, and reports the CPU of
 * every process that serves it: the nodes, the PostgreSQL processes (the
 * postmaster, its backends and workers), HAProxy.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBenchServer, type BenchServer } from '../common/server-process.js';
import { startHaproxy, type BenchHaproxy } from './haproxy.js';
import type { BenchDatabase, BenchPostgres } from './postgres.js';
import { mainThreadCpuSeconds, postgresCpuSeconds, processesCpuSeconds } from './proc-cpu.js';
import { isServerMessage, type ParentMessage, type ServerMessage } from './protocol.js';

export type Server = BenchServer<ServerMessage, ParentMessage>;
export type ConfigurationName = 'sqlite' | 'sqlite-inline' | 'sqlite-1worker' | 'postgres' | 'cluster';
/** sqlite-inline and sqlite-1worker are A/B peers of sqlite, measured only when named (BENCH_BACKENDS=sqlite,sqlite-inline). */
export const ALL_CONFIGURATIONS: readonly ConfigurationName[] = ['sqlite', 'sqlite-inline', 'sqlite-1worker', 'postgres', 'cluster'];
export const DEFAULT_CONFIGURATIONS: readonly ConfigurationName[] = ['sqlite', 'postgres', 'cluster'];
export const CONFIGURATION_LABELS: Readonly<Record<ConfigurationName, string>> = {
  sqlite: 'one node, SQLite',
  'sqlite-inline': 'one node, SQLite, crypto on the event loop',
  'sqlite-1worker': 'one node, SQLite, one crypto worker',
  postgres: 'one node, PostgreSQL',
  cluster: 'two nodes + HAProxy, PostgreSQL',
};

/** Cumulative CPU seconds of a configuration's processes. */
export interface CpuSample {
  readonly nodes: number;
  /** Each node's main thread (its event loop), in node order. */
  readonly eventLoops: readonly number[];
  readonly postgres: number;
  readonly haproxy: number;
}

export interface Configuration {
  readonly name: ConfigurationName;
  readonly nodes: readonly Server[];
  /** The first node's hand-over (CA bundle, the bench client's and the admin's identities). */
  readonly ready: Server['ready'];
  /** Where the load connects: the node, or HAProxy. */
  readonly port: number;
  readonly database: BenchDatabase | undefined;
  cpu(): CpuSample;
  stop(): Promise<void>;
}

function startNode(prefix: readonly string[], env: Readonly<Record<string, string>>): Promise<Server> {
  return startBenchServer(fileURLToPath(new URL('./server.js', import.meta.url)), prefix, isServerMessage, 120_000, env);
}

async function stopNode(node: Server): Promise<void> {
  node.tell({ type: 'stop' });
  await Promise.race([new Promise((resolve) => node.child.once('exit', resolve)), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  if (node.child.exitCode === null && node.child.pid !== undefined) node.child.kill('SIGKILL');
}

/**
 * Starts one configuration. `prefix` pins the node processes (BENCH_PIN);
 * PostgreSQL and HAProxy are never pinned: on 2 cores there is no honest
 * core to give them, so the cluster rows are meant to be read unpinned.
 */
export async function startConfiguration(
  name: ConfigurationName,
  prefix: readonly string[],
  postgres: BenchPostgres | undefined,
): Promise<Configuration> {
  const isSqlite = name === 'sqlite' || name === 'sqlite-inline' || name === 'sqlite-1worker';
  const database = isSqlite ? undefined : await postgresFor(postgres).createDatabase(name === 'postgres' ? 'one' : 'two');
  // sqlite-inline: no crypto workers (cryptoWorkers 0), CSR checks and signatures from the event loop as before the pool.
  const workers = name === 'sqlite-inline' ? '0' : name === 'sqlite-1worker' ? '1' : (process.env['BENCH_CRYPTO_WORKERS'] ?? '');
  const env = {
    ...(database === undefined ? {} : { BENCH_NODE_DATABASE_URL: database.url }),
    ...(workers === '' ? {} : { BENCH_NODE_CRYPTO_WORKERS: workers }),
  };
  const first = await startNode(prefix, env);
  const nodes: Server[] = [first];
  const scratch = mkdtempSync(join(tmpdir(), 'keysmith-bench-cluster-'));
  let haproxy: BenchHaproxy | undefined;
  const stop = async (): Promise<void> => {
    await haproxy?.stop();
    for (const node of nodes) await stopNode(node);
    rmSync(scratch, { recursive: true, force: true });
  };
  try {
    if (name === 'cluster') {
      // The second node joins as an operator would: same database URL, a copy of the first node's ca/ (README, "Clustering").
      const secondDir = join(scratch, 'node2');
      mkdirSync(join(secondDir, 'data'), { recursive: true, mode: 0o700 });
      cpSync(join(first.ready.dataDir, 'ca'), join(secondDir, 'data', 'ca'), { recursive: true });
      nodes.push(await startNode(prefix, { ...env, BENCH_NODE_DIR: secondDir }));
      haproxy = await startHaproxy(
        scratch,
        nodes.map((node) => node.ready.port),
        first.ready.bundlePem,
        [],
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const nodePids = nodes.map((node) => node.child.pid ?? 0);
  const postmaster = database === undefined ? undefined : postgres?.postmasterPid;
  const haproxyPid = haproxy?.pid;
  return {
    name,
    nodes,
    ready: first.ready,
    port: haproxy?.port ?? first.ready.port,
    database,
    cpu: () => ({
      nodes: processesCpuSeconds(nodePids),
      eventLoops: mainThreadCpuSeconds(nodePids),
      postgres: postmaster === undefined ? 0 : postgresCpuSeconds(postmaster),
      haproxy: haproxyPid === undefined ? 0 : processesCpuSeconds([haproxyPid]),
    }),
    stop,
  };
}

function postgresFor(postgres: BenchPostgres | undefined): BenchPostgres {
  if (postgres === undefined) throw new Error('a PostgreSQL configuration needs the bench PostgreSQL (BenchPostgres.start)');
  return postgres;
}
