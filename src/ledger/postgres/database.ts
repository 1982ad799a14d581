import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { ConnectionOptions } from 'node:tls';
import { asUnavailable } from './unavailable.js';

/**
 * The PostgreSQL connection pool the ledger's repositories share, and the two
 * ways they use it: one statement on any pooled connection, or a transaction
 * on one connection. node-postgres (`pg`) is the driver.
 */

export type PostgresSslMode = 'disable' | 'require' | 'verify-full';

export interface PostgresOptions {
  /** postgres://user:password@host:port/database; its password is never logged. */
  readonly url: string;
  /** Connections this node keeps at most; default 10. */
  readonly poolSize?: number;
  /** statement_timeout for every statement, ms; default 5000. 0 turns it off. */
  readonly statementTimeoutMs?: number;
  /** TLS to the database; default from the URL's sslmode, else 'disable'. */
  readonly sslMode?: PostgresSslMode;
  /** PEM bundle that verifies the server for 'verify-full'; default the system store. */
  readonly sslCaFile?: string;
  /** How long to wait for a connection from the pool or the server, ms; default 5000. */
  readonly connectTimeoutMs?: number;
}

export const DEFAULT_POOL_SIZE = 10;
export const DEFAULT_STATEMENT_TIMEOUT_MS = 5000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

// BIGINT (OID 20) columns hold ms timestamps and counts, all below 2^53: numbers, as SQLite gives them.
// COUNT(*) is BIGINT too. A value past 2^53 is a bug upstream, so it fails loudly instead of rounding.
pg.types.setTypeParser(20, (text: string): number => {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`BIGINT ${text} does not fit a JavaScript number`);
  return value;
});

export type SqlValue = string | number | boolean | null | Buffer | Uint8Array | readonly string[] | readonly number[];

/** What a repository runs statements on: the pool, or one transaction's connection. */
export interface SqlRunner {
  /** Every row of a query. */
  rows<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]>;
  /** The first row, or undefined. */
  row<R>(sql: string, params?: readonly SqlValue[]): Promise<R | undefined>;
  /** A statement's affected row count. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

/** One statement; a lost or refused connection becomes DomainError('unavailable') here, once, for every repository (HTTP 503). */
async function query(target: Queryable, sql: string, params: readonly SqlValue[]): Promise<pg.QueryResult> {
  try {
    return await target.query(sql, [...params]);
  } catch (error) {
    throw asUnavailable(error);
  }
}

function runnerOver(target: Queryable): SqlRunner {
  return {
    async rows<R>(sql: string, params: readonly SqlValue[] = []): Promise<R[]> {
      return (await query(target, sql, params)).rows as R[];
    },
    async row<R>(sql: string, params: readonly SqlValue[] = []): Promise<R | undefined> {
      return (await query(target, sql, params)).rows[0] as R | undefined;
    },
    async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
      return (await query(target, sql, params)).rowCount ?? 0;
    },
  };
}

/** SQLSTATE classes a transaction is retried on: serialization_failure and deadlock_detected. */
const RETRYABLE = new Set(['40001', '40P01']);
const MAX_TRANSACTION_ATTEMPTS = 3;

export function sqlState(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string') return error.code;
  return undefined;
}

export class PostgresDatabase implements SqlRunner {
  private readonly pool: pg.Pool;
  private readonly runner: SqlRunner;
  /** The URL without its password, for messages. */
  readonly location: string;

  constructor(readonly options: PostgresOptions) {
    this.pool = new pg.Pool({
      connectionString: withoutSslParameters(options.url),
      max: options.poolSize ?? DEFAULT_POOL_SIZE,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      statement_timeout: options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
      // statement_timeout is enforced by the server: a server that is frozen or cut off by the network never sends
      // it. The client gives up a second later ('Query read timeout', an unavailable error: HTTP 503 instead of a hang).
      ...clientReadTimeout(options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS),
      // TCP keepalive finds a connection whose server vanished without a FIN.
      keepAlive: true,
      application_name: 'keysmith',
      ...sslSettings(options),
    });
    // An idle pooled connection that the server drops (restart, failover) must not crash the process;
    // the pool discards it and the next query opens a fresh one.
    this.pool.on('error', () => undefined);
    this.runner = runnerOver(this.pool);
    this.location = redactUrl(options.url);
  }

  rows<R>(sql: string, params?: readonly SqlValue[]): Promise<R[]> {
    return this.runner.rows<R>(sql, params);
  }

  row<R>(sql: string, params?: readonly SqlValue[]): Promise<R | undefined> {
    return this.runner.row<R>(sql, params);
  }

  run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return this.runner.run(sql, params);
  }

  /**
   * Runs `work` in one transaction on one connection: committed when it
   * resolves, rolled back when it throws. READ COMMITTED unless asked; a
   * serialization failure or deadlock retries the whole transaction (up to 3 tries),
   * so `work` must not have effects outside the database.
   */
  async transaction<T>(work: (tx: SqlRunner) => Promise<T>, isolation: 'read committed' | 'serializable' = 'read committed'): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connect();
      let broken = false;
      // The pool watches only idle connections: one lost while checked out emits 'error' on the client, and an
      // unheard 'error' would end the process. The statement in flight rejects as well; that is what the caller sees.
      const lost = (): void => {
        broken = true;
      };
      client.on('error', lost);
      try {
        await query(client, `BEGIN ISOLATION LEVEL ${isolation === 'serializable' ? 'SERIALIZABLE' : 'READ COMMITTED'}`, []);
        const result = await work(runnerOver(client));
        await query(client, 'COMMIT', []);
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        const state = sqlState(error);
        if (state !== undefined && RETRYABLE.has(state) && attempt < MAX_TRANSACTION_ATTEMPTS) continue;
        throw error;
      } finally {
        client.off('error', lost);
        client.release(broken);
      }
    }
  }

  private async connect(): Promise<pg.PoolClient> {
    try {
      return await this.pool.connect();
    } catch (error) {
      throw asUnavailable(error);
    }
  }

  /** A connection of its own, outside the pool's count (LISTEN, advisory locks held for a while); the caller ends it. */
  async dedicatedClient(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: withoutSslParameters(this.options.url),
      connectionTimeoutMillis: this.options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      application_name: 'keysmith',
      ...sslSettings(this.options),
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  /** True when the server answers SELECT 1 within the connect timeout; never throws (health checks). */
  async ping(): Promise<boolean> {
    try {
      const found = await this.row<{ one: number }>('SELECT 1 AS one');
      return found?.one === 1;
    } catch {
      return false;
    }
  }

  get totalConnections(): number {
    return this.pool.totalCount;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Client-side read timeout past the server's statement_timeout; none when the statement timeout is off. */
function clientReadTimeout(statementTimeoutMs: number): { query_timeout?: number } {
  return statementTimeoutMs > 0 ? { query_timeout: statementTimeoutMs + 1_000 } : {};
}

function sslSettings(options: PostgresOptions): { ssl?: ConnectionOptions | boolean } {
  const mode = options.sslMode ?? sslModeFromUrl(options.url);
  if (mode === 'disable') return {};
  if (mode === 'require') return { ssl: { rejectUnauthorized: false } };
  const ca = options.sslCaFile === undefined ? undefined : readFileSync(options.sslCaFile, 'utf8');
  return { ssl: { rejectUnauthorized: true, ...(ca === undefined ? {} : { ca }) } };
}

function sslModeFromUrl(url: string): PostgresSslMode {
  const mode = safeUrl(url)?.searchParams.get('sslmode');
  if (mode === 'require') return 'require';
  if (mode === 'verify-full' || mode === 'verify-ca') return 'verify-full';
  return 'disable';
}

/** pg would let the URL's ssl parameters override `ssl`: the settings above are the only source. */
function withoutSslParameters(url: string): string {
  const parsed = safeUrl(url);
  if (parsed === undefined) return url;
  for (const name of ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'ssl']) parsed.searchParams.delete(name);
  return parsed.toString();
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** postgres://user@host:port/db: the URL as it may appear in logs and errors. */
export function redactUrl(url: string): string {
  const parsed = safeUrl(url);
  if (parsed === undefined) return '(unparsable database URL)';
  parsed.password = '';
  parsed.search = '';
  return parsed.toString();
}
