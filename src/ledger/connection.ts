import Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { DEFAULT_WAL_SIZE_LIMIT_BYTES } from './checkpoint.js';

export interface ConnectionSettings {
  readonly busyTimeoutMs: number;
  readonly readonly: boolean;
  /** journal_size_limit in bytes: a WAL file that grew (a long reader pinned it) is cut back when the log restarts. Default 64 MiB. */
  readonly walSizeLimitBytes?: number;
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
