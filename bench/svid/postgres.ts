/**
 * The SVID bench's PostgreSQL: a throw-away cluster (scripts/pg-cluster.mjs,
 * fsync on, synchronous_commit on: what keysmith assumes) or, with
 * BENCH_DATABASE_URL, an existing server the bench may create databases on.
 * Each configuration gets a fresh database, dropped at the end. Also what the
 * bench reads of the server: WAL position, COMMIT records in a WAL range
 * (pg_waldump), the ledger's size per row, and the postmaster's pid for CPU.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { parentOf } from './proc-cpu.js';

/** What scripts/pg-cluster.mjs's startCluster returns (the parts used here). */
interface PgCluster {
  readonly url: string;
  readonly dataDir: string;
  readonly bin: string;
  stop(): void;
}

interface PgClusterModule {
  startCluster(): Promise<PgCluster>;
  findServerBinaries(): string | undefined;
}

// From dist/bench/svid/ back to the repository's scripts/ (an .mjs file tsc does not see).
const PG_CLUSTER_SCRIPT = new URL('../../../scripts/pg-cluster.mjs', import.meta.url).href;

export interface BenchDatabase {
  readonly name: string;
  readonly url: string;
}

/** A point in the WAL stream. */
export interface WalPoint {
  readonly lsn: string;
}

export interface RowStorage {
  readonly rows: number;
  readonly bytes: number;
  /** Connections the nodes held to this database at the end of the run (pools filled by the load, plus dedicated ones). */
  readonly connections: number;
}

export class BenchPostgres {
  private readonly databases: BenchDatabase[] = [];

  private constructor(
    readonly adminUrl: string,
    readonly description: string,
    readonly postmasterPid: number | undefined,
    /** Where pg_waldump reads the WAL from (undefined: not this host's, or not readable). */
    readonly walDir: string | undefined,
    readonly waldump: string | undefined,
    readonly settings: string,
    readonly stopServer: () => void,
    /** One connection kept for WAL positions: a new one per window would add a backend's start to the window's CPU. */
    readonly monitor: pg.Client,
  ) {}

  static async start(): Promise<BenchPostgres> {
    const module = (await import(PG_CLUSTER_SCRIPT)) as PgClusterModule;
    const existing = process.env['BENCH_DATABASE_URL'];
    const cluster = existing === undefined || existing === '' ? await module.startCluster() : undefined;
    const adminUrl = cluster?.url ?? existing ?? '';
    try {
      const facts = await withClient(adminUrl, async (client) => {
        const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
        // The backend's parent is the postmaster; asked while this backend still lives.
        const postmasterPid = backend === undefined ? undefined : parentOf(backend);
        const settings = await client.query<{ name: string; setting: string }>(
          `SELECT name, setting FROM pg_settings WHERE name IN ('server_version', 'fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers', 'commit_delay') ORDER BY name`,
        );
        const dataDir = await client.query<{ data_directory: string }>('SHOW data_directory').then(
          (r) => r.rows[0]?.data_directory,
          () => undefined,
        );
        return { postmasterPid, settings: settings.rows.map((r) => `${r.name}=${r.setting}`).join(' '), dataDir };
      });
      const postmasterPid = facts.postmasterPid;
      const walDir = facts.dataDir === undefined ? undefined : join(facts.dataDir, 'pg_wal');
      const bin = cluster?.bin ?? module.findServerBinaries();
      const waldump = bin === undefined ? undefined : join(bin, 'pg_waldump');
      const description =
        cluster === undefined
          ? 'an existing server (BENCH_DATABASE_URL)'
          : 'a throw-away cluster in a temporary directory on the VM disk (scripts/pg-cluster.mjs)';
      const monitor = new pg.Client({ connectionString: adminUrl });
      await monitor.connect();
      return new BenchPostgres(
        adminUrl,
        description,
        postmasterPid,
        walDir !== undefined && existsSync(walDir) ? walDir : undefined,
        waldump !== undefined && existsSync(waldump) ? waldump : undefined,
        facts.settings,
        () => cluster?.stop(),
        monitor,
      );
    } catch (err) {
      cluster?.stop();
      throw err;
    }
  }

  /** A fresh, empty database for one configuration. */
  async createDatabase(label: string): Promise<BenchDatabase> {
    const name = `keysmith_bench_${label}_${process.pid}_${randomBytes(3).toString('hex')}`;
    await withClient(this.adminUrl, (client) => client.query(`CREATE DATABASE ${name}`));
    const url = new URL(this.adminUrl);
    url.pathname = `/${name}`;
    const database = { name, url: url.toString() };
    this.databases.push(database);
    return database;
  }

  async walPoint(): Promise<WalPoint> {
    return { lsn: (await this.monitor.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]?.lsn ?? '0/0' };
  }

  /** Connections to a database now (the nodes' pools and dedicated connections). */
  async connections(database: BenchDatabase): Promise<number> {
    const row = (
      await this.monitor.query<{ n: string }>('SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = $1', [database.name])
    ).rows[0];
    return Number(row?.n ?? 0);
  }

  async walBytes(from: WalPoint, to: WalPoint): Promise<number> {
    return Number(
      (await this.monitor.query<{ d: string }>('SELECT pg_wal_lsn_diff($1, $2)::text AS d', [to.lsn, from.lsn])).rows[0]?.d ?? 0,
    );
  }

  /**
   * COMMIT records in the WAL between two points (pg_waldump --stats): write
   * transactions only; a read-only one writes none. Undefined when the WAL is
   * not readable here (BENCH_DATABASE_URL on another host).
   */
  commitRecords(from: WalPoint, to: WalPoint): number | undefined {
    if (this.walDir === undefined || this.waldump === undefined) return undefined;
    const result = spawnSync(this.waldump, ['--stats=record', '-p', this.walDir, '-s', from.lsn, '-e', to.lsn], { encoding: 'utf8' });
    // Stats are printed before a complaint about the end of the WAL, if any.
    const match = /^Transaction\/COMMIT\s+(\d+)/m.exec(result.stdout);
    return match?.[1] === undefined ? (result.stdout.includes('Transaction/') ? 0 : undefined) : Number(match[1]);
  }

  /** certificates + certificate_names + spiffe_latest (tables, indexes, TOAST) after VACUUM, and the certificates rows. */
  async rowStorage(database: BenchDatabase): Promise<RowStorage> {
    return withClient(database.url, async (client) => {
      await client.query('VACUUM (ANALYZE) certificates, certificate_names, spiffe_latest');
      const row = (
        await client.query<{ rows: string; bytes: string; connections: string }>(
          `SELECT (SELECT count(*) FROM certificates)::text AS rows,
                  (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid())::text AS connections,
                  (pg_total_relation_size('certificates') + pg_total_relation_size('certificate_names') + pg_total_relation_size('spiffe_latest'))::text AS bytes`,
        )
      ).rows[0];
      return { rows: Number(row?.rows ?? 0), bytes: Number(row?.bytes ?? 0), connections: Number(row?.connections ?? 0) };
    });
  }

  /** Drops every database it created, then stops the throw-away cluster (an existing server stays up). */
  async stop(): Promise<void> {
    try {
      await this.monitor.end();
      for (const database of this.databases.splice(0)) {
        await withClient(this.adminUrl, (client) => client.query(`DROP DATABASE IF EXISTS ${database.name} WITH (FORCE)`));
      }
    } finally {
      this.stopServer();
    }
  }
}

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
