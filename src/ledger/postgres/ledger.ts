import { systemClock, type Clock } from '../../shared/clock.js';
import type { LedgerBackend } from '../backend.js';
import { PostgresCertificateRepository } from './certificate-repository.js';
import type { PostgresDatabase } from './database.js';

/** The ledger on PostgreSQL: the same repositories as the SQLite Ledger, asynchronous. Made by openLedgerBackend. */
export class PostgresLedger implements LedgerBackend {
  readonly kind = 'postgres';
  readonly certificates: PostgresCertificateRepository;
  #isClosed = false;

  constructor(
    readonly database: PostgresDatabase,
    readonly schemaVersion: number,
    readonly clock: Clock = systemClock,
  ) {
    this.certificates = new PostgresCertificateRepository(database, clock);
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  /** Ends the pool; idempotent, as the SQLite Ledger's close is. */
  async close(): Promise<void> {
    if (this.#isClosed) return;
    this.#isClosed = true;
    await this.database.close();
  }
}
