import { systemClock, type Clock } from '../../shared/clock.js';
import type { LedgerBackend } from '../backend.js';
import { PostgresAcmeRepository } from './acme-repository.js';
import type { PostgresDatabase } from './database.js';

/** The ledger on PostgreSQL: the same repositories as the SQLite Ledger, asynchronous. Made by openLedgerBackend. */
export class PostgresLedger implements LedgerBackend {
  readonly kind = 'postgres';
  /** ACME accounts, orders, authorizations, challenges and EAB keys (migrations/postgres/0004). */
  readonly acme: PostgresAcmeRepository;

  constructor(
    readonly database: PostgresDatabase,
    readonly schemaVersion: number,
    readonly clock: Clock = systemClock,
  ) {
    this.acme = new PostgresAcmeRepository(database, clock);
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  async close(): Promise<void> {
    await this.database.close();
  }
}
