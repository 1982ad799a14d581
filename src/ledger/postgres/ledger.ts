import { systemClock, type Clock } from '../../shared/clock.js';
import type { LedgerBackend } from '../backend.js';
import { PostgresAlertOutbox } from './alert-outbox.js';
import type { PostgresDatabase } from './database.js';
import { PostgresLeases } from './leases.js';

/** The ledger on PostgreSQL: the same repositories as the SQLite Ledger, asynchronous. Made by openLedgerBackend. */
export class PostgresLedger implements LedgerBackend {
  readonly kind = 'postgres';
  /** The expiry-alert outbox (migrations/postgres/0002). */
  readonly alerts: PostgresAlertOutbox;
  /** Named leases: one node at a time does what a lease guards (alert runs). */
  readonly leases: PostgresLeases;

  constructor(
    readonly database: PostgresDatabase,
    readonly schemaVersion: number,
    readonly clock: Clock = systemClock,
  ) {
    this.alerts = new PostgresAlertOutbox(database);
    this.leases = new PostgresLeases(database);
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  async close(): Promise<void> {
    await this.database.close();
  }
}
