import pg from 'pg';
import { runProcess } from '../helpers/processes.js';

/**
 * The cluster test's own PostgreSQL: a throw-away cluster from
 * scripts/pg-cluster.mjs (initdb in a temporary directory, loopback only),
 * with one database for the keysmith nodes. Its own, not the shared one
 * KEYSMITH_TEST_DATABASE_URL names, because the outage scenario stops and
 * starts the server (pg_ctl), which no other test may see.
 */

/** What scripts/pg-cluster.mjs's startCluster returns. */
interface PgCluster {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  readonly dataDir: string;
  readonly bin: string;
  /** The system user PostgreSQL runs as when the tests run as root (CI), else undefined. */
  readonly asUser: string | undefined;
  stop(): void;
}

interface PgClusterModule {
  startCluster(): Promise<PgCluster>;
}

// From dist/test/cluster/ back to the repository's scripts/ (an .mjs file tsc does not see).
const PG_CLUSTER_SCRIPT = new URL('../../../scripts/pg-cluster.mjs', import.meta.url).href;
const DATABASE = 'keysmith';

export class ThrowAwayPostgres {
  private constructor(
    private readonly cluster: PgCluster,
    /** postgres://... of the database the nodes share. */
    readonly url: string,
  ) {}

  static async start(): Promise<ThrowAwayPostgres> {
    const module = (await import(PG_CLUSTER_SCRIPT)) as PgClusterModule;
    const cluster = await module.startCluster();
    try {
      const admin = new pg.Client({ connectionString: cluster.url });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE ${DATABASE}`);
      } finally {
        await admin.end();
      }
    } catch (err) {
      cluster.stop();
      throw err;
    }
    const url = new URL(cluster.url);
    url.pathname = `/${DATABASE}`;
    return new ThrowAwayPostgres(cluster, url.toString());
  }

  /** Rows of one query on the nodes' database, on a connection of its own (none is kept across an outage). */
  async query<R extends pg.QueryResultRow>(sql: string, params: readonly unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url, connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    await client.connect();
    try {
      return (await client.query<R>(sql, [...params])).rows;
    } finally {
      await client.end();
    }
  }

  /** Stops the server (fast shutdown: open sessions are ended, as when a database host goes away). */
  async pause(): Promise<void> {
    await this.pgCtl(['-D', this.cluster.dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
  }

  /** Starts it again on the same port and data. */
  async resume(): Promise<void> {
    await this.pgCtl(['-D', this.cluster.dataDir, '-l', `${this.cluster.dir}/server.log`, '-w', '-t', '60', 'start']);
  }

  /** Stops it for good and removes its directory. */
  stop(): void {
    this.cluster.stop();
  }

  private async pgCtl(args: readonly string[]): Promise<void> {
    const pgCtl = `${this.cluster.bin}/pg_ctl`;
    const [command, argv] =
      this.cluster.asUser === undefined ? [pgCtl, args] : ['runuser', ['-u', this.cluster.asUser, '--', pgCtl, ...args]];
    const result = await runProcess(command, argv, { timeoutMs: 70_000, lifetimeMs: 80_000 });
    if (result.code !== 0) throw new Error(`pg_ctl ${args.join(' ')} failed (${String(result.code)}): ${result.stderr}${result.stdout}`);
  }
}
