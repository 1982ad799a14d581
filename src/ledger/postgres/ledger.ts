import { systemClock, type Clock } from '../../shared/clock.js';
import type { LedgerBackend } from '../backend.js';
import { PostgresCrlNumberRepository } from './crl-number-repository.js';
import { PostgresClusterCheckRepository } from './cluster-check-repository.js';
import { PostgresAcmeLedger } from './acme-ledger.js';
import { PostgresCertificateRepository } from './certificate-repository.js';
import type { PostgresDatabase } from './database.js';
import { PostgresEntryRepository } from './entry-repository.js';
import { PostgresJoinTokenRepository } from './join-token-repository.js';
import { PostgresOcspResponderRepository } from './ocsp-responder-repository.js';
import { PostgresAlertOutbox } from './alert-outbox.js';
import { PostgresLeases } from './leases.js';
import { PostgresNonceRepository } from './nonce-repository.js';
import { PostgresRetention } from './retention.js';

/** The ledger on PostgreSQL: the same repositories as the SQLite Ledger, asynchronous. Made by openLedgerBackend. */
export class PostgresLedger implements LedgerBackend {
  readonly kind = 'postgres';
  /** SVID registration entries (migrations/postgres/0003). */
  readonly entries: PostgresEntryRepository;
  /** One-time join tokens, stored as hashes (migrations/postgres/0003). */
  readonly joinTokens: PostgresJoinTokenRepository;
  /** The CRL number: the `crl_number` sequence (migrations/postgres/0007). */
  readonly crlNumbers: PostgresCrlNumberRepository;
  /** Shared OCSP responder keys (migrations/postgres/0007). */
  readonly ocspResponders: PostgresOcspResponderRepository;
  /** The cluster secret's check value (migrations/postgres/0007). */
  readonly clusterCheck: PostgresClusterCheckRepository;
  /** The expiry-alert outbox (migrations/postgres/0002). */
  readonly alerts: PostgresAlertOutbox;
  /** Named leases: one node at a time does what a lease guards (alert runs, the next OCSP responder). */
  readonly leases: PostgresLeases;
  /** Spent ACME nonces (migrations/postgres/0007). */
  readonly nonces: PostgresNonceRepository;
  /** ACME EAB keys, accounts, orders and authorizations with their challenges, a repository each (migrations/postgres/0004). */
  readonly acme: PostgresAcmeLedger;
  readonly certificates: PostgresCertificateRepository;
  /** Retention batches (src/ledger/retention-sql.ts, migrations/postgres/0009). */
  readonly retention: PostgresRetention;
  private isClosed = false;

  constructor(
    readonly database: PostgresDatabase,
    readonly schemaVersion: number,
    readonly clock: Clock = systemClock,
  ) {
    this.entries = new PostgresEntryRepository(database);
    this.joinTokens = new PostgresJoinTokenRepository(database);
    this.crlNumbers = new PostgresCrlNumberRepository(database);
    this.clusterCheck = new PostgresClusterCheckRepository(database);
    this.alerts = new PostgresAlertOutbox(database);
    this.leases = new PostgresLeases(database);
    this.ocspResponders = new PostgresOcspResponderRepository(database, this.leases);
    this.nonces = new PostgresNonceRepository(database);
    this.acme = new PostgresAcmeLedger(database, clock);
    this.certificates = new PostgresCertificateRepository(database, clock);
    this.retention = new PostgresRetention(database);
  }

  ping(): Promise<boolean> {
    return this.database.ping();
  }

  /** Ends the pool; idempotent, as the SQLite Ledger's close is. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.database.close();
  }
}
