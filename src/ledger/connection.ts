import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { DEFAULT_WAL_SIZE_LIMIT_BYTES } from './checkpoint.js';

export interface ConnectionSettings {
  readonly busyTimeoutMs: number;
  readonly readonly: boolean;
  /** journal_size_limit in bytes: a WAL file that grew (a long reader pinned it) is cut back when the log restarts. Default 64 MiB. */
  readonly walSizeLimitBytes?: number;
}

/** The ledger file and the two SQLite keeps beside it in WAL mode. */
export function databaseFiles(path: string): readonly string[] {
  return [path, `${path}-wal`, `${path}-shm`];
}

/**
 * Creates the ledger file empty with mode 0600 before SQLite opens it:
 * SQLite would create it 0644 (less the umask), and it gives the -wal and
 * -shm files it makes later the mode of the database file, so all three are
 * 0600 from their first byte. An empty file is a new database to SQLite.
 */
export function createPrivateDatabaseFile(path: string): void {
  if (path === ':memory:' || path === '' || existsSync(path)) return;
  // 'wx': never truncate a file another process created in between.
  try {
    closeSync(openSync(path, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw err;
  }
  chmodSync(path, 0o600);
}

/**
 * Tightens the ledger file, -wal and -shm to 0600 when group or others can
 * read them (a ledger made by an older version, or copied in), and says so:
 * they hold every certificate issued and the wrapped OCSP responder keys.
 */
export function tightenDatabaseFiles(path: string, warn: (message: string) => void): void {
  for (const file of databaseFiles(path)) {
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) === 0) continue;
    chmodSync(file, 0o600);
    warn(`${file} had mode ${mode.toString(8).padStart(4, '0')} (readable by group or others); set to 0600`);
  }
}

/**
 * Per-connection settings. WAL lets readers (OCSP, mTLS status checks) run
 * beside the writer; synchronous=NORMAL is the baseline, and writes that hand
 * out a certificate raise it to FULL for their own commit (`DurableWrites`).
 */
export function configureConnection(db: Database.Database, settings: ConnectionSettings): void {
  db.pragma(`busy_timeout = ${Math.trunc(settings.busyTimeoutMs)}`);
  // journal_mode is stored in the file; a read-only connection cannot set it.
  if (!settings.readonly) db.pragma('journal_mode = WAL');
  // Per connection: the writer that restarts the log truncates the file to this (SQLite's journal_size_limit).
  db.pragma(`journal_size_limit = ${Math.trunc(settings.walSizeLimitBytes ?? DEFAULT_WAL_SIZE_LIMIT_BYTES)}`);
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
}

/**
 * Runs write transactions whose commit must survive power loss. In WAL mode
 * synchronous=NORMAL syncs only at checkpoints; FULL syncs the WAL at this commit.
 */
export class DurableWrites {
  constructor(private readonly db: Database.Database) {}

  /** `transaction` is a better-sqlite3 transaction function; it runs IMMEDIATE so a writer never fails to upgrade its lock. */
  run<A extends unknown[], R>(transaction: Database.Transaction<(...args: A) => R>, ...args: A): R {
    // The pragma applies to the connection's next commit: an outer transaction would commit later, at NORMAL.
    if (this.db.inTransaction) throw new Error('a durable write must not run inside another transaction');
    // Not a prepared statement: SQLite applies this pragma while compiling it, so re-running a prepared one is unreliable.
    this.db.exec('PRAGMA synchronous = FULL');
    try {
      return transaction.immediate(...args);
    } finally {
      this.db.exec('PRAGMA synchronous = NORMAL');
    }
  }
}

/** Constraint failures become DomainError 'conflict' (STYLE §4); everything else is rethrown as is. */
export function toConflict(error: unknown, detail: (code: string) => string): unknown {
  if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_CONSTRAINT')) {
    return new DomainError('conflict', detail(error.code), { cause: error });
  }
  return error;
}
