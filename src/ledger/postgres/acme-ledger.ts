import { systemClock, type Clock } from '../../shared/clock.js';
import type { AcmeLedgerPorts } from '../acme-ledger.js';
import { PostgresAcmeAccountRepository } from './acme-account-repository.js';
import { PostgresAcmeAuthorizationRepository } from './acme-authorization-repository.js';
import { PostgresAcmeEabKeyRepository } from './acme-eab-key-repository.js';
import { PostgresAcmeOrderRepository } from './acme-order-repository.js';
import type { PostgresDatabase } from './database.js';

/**
 * The ACME repositories on PostgreSQL, one per aggregate as on SQLite
 * (acme-ledger.ts), with the same meaning, asynchronous. Every state change
 * is one statement or one transaction, correct with several nodes writing
 * at once (each repository says how its races are settled).
 */
export class PostgresAcmeLedger implements AcmeLedgerPorts {
  readonly eabKeys: PostgresAcmeEabKeyRepository;
  readonly accounts: PostgresAcmeAccountRepository;
  readonly orders: PostgresAcmeOrderRepository;
  readonly authorizations: PostgresAcmeAuthorizationRepository;

  constructor(database: PostgresDatabase, clock: Clock = systemClock) {
    this.eabKeys = new PostgresAcmeEabKeyRepository(database);
    this.accounts = new PostgresAcmeAccountRepository(database);
    this.orders = new PostgresAcmeOrderRepository(database, clock);
    this.authorizations = new PostgresAcmeAuthorizationRepository(database);
  }
}
