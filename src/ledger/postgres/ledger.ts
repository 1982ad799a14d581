import { systemClock, type Clock } from '../../shared/clock.js';
import type { LedgerBackend } from '../backend.js';
import type { PostgresDatabase } from './database.js';
import { PostgresEntryRepository } from './entry-repository.js';
import { PostgresJoinTokenRepository } from './join-token-repository.js';

/** The ledger on PostgreSQL: the same repositories as the SQLite Ledger, asynchronous. Made by openLedgerBackend. */
export class PostgresLedger implements LedgerBackend {
  readonly kind = 'postgres';
  /** SVID registration entries (migrations/postgres/0003). */
  readonly entries: PostgresEntryRepository;
  /** One-time join tokens, stored as hashes (migrations/postgres/0003). */
  readonly joinTokens: PostgresJoinTokenRepository;

  constructor(
    readonly database: PostgresDatabase,
    readonly schemaVersion: number,
    readonly clock: Clock = systemClock,
  ) {
    this.entries = new PostgresEntryRepository(database);
    this.joinTokens = new PostgresJoinTokenRepository(database);
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  async close(): Promise<void> {
    await this.database.close();
  }
}
