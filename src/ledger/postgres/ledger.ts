import { systemClock, type Clock } from '../../shared/clock.js';
import type { LedgerBackend } from '../backend.js';
import { PostgresCrlNumberRepository } from './crl-number-repository.js';
import type { PostgresDatabase } from './database.js';
import { PostgresOcspResponderRepository } from './ocsp-responder-repository.js';

/** The ledger on PostgreSQL: the same repositories as the SQLite Ledger, asynchronous. Made by openLedgerBackend. */
export class PostgresLedger implements LedgerBackend {
  readonly kind = 'postgres';
  /** The CRL number: the `crl_number` sequence (migrations/postgres/0007). */
  readonly crlNumbers: PostgresCrlNumberRepository;
  /** Shared OCSP responder keys (migrations/postgres/0007). */
  readonly ocspResponders: PostgresOcspResponderRepository;

  constructor(
    readonly database: PostgresDatabase,
    readonly schemaVersion: number,
    readonly clock: Clock = systemClock,
  ) {
    this.crlNumbers = new PostgresCrlNumberRepository(database);
    this.ocspResponders = new PostgresOcspResponderRepository(database);
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  async close(): Promise<void> {
    await this.database.close();
  }
}
