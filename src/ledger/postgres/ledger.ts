import { systemClock, type Clock } from '../../shared/clock.js';
import type { LedgerBackend } from '../backend.js';
import type { PostgresDatabase } from './database.js';
import { PostgresNonceRepository } from './nonce-repository.js';

/** The ledger on PostgreSQL: the same repositories as the SQLite Ledger, asynchronous. Made by openLedgerBackend. */
export class PostgresLedger implements LedgerBackend {
  readonly kind = 'postgres';
  /** Spent ACME nonces (migrations/postgres/0007). */
  readonly nonces: PostgresNonceRepository;

  constructor(
    readonly database: PostgresDatabase,
    readonly schemaVersion: number,
    readonly clock: Clock = systemClock,
  ) {
    this.nonces = new PostgresNonceRepository(database);
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  async close(): Promise<void> {
    await this.database.close();
  }
}
