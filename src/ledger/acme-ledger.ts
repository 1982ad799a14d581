import type Database from 'better-sqlite3';
import type { AwaitableMethods } from '../shared/awaitable.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { AcmeAccountRepository } from './acme-account-repository.js';
import { AcmeAuthorizationRepository } from './acme-authorization-repository.js';
import { AcmeEabKeyRepository } from './acme-eab-key-repository.js';
import { AcmeOrderRepository } from './acme-order-repository.js';

/**
 * The ACME tables (migrations/0004), one repository per aggregate, as
 * `ledger.acme` gives them and src/acme's AcmeStore port receives them:
 * EAB keys, accounts, orders (with finalize), authorizations (with their
 * challenges and validation outcomes). A write that crosses aggregates
 * (deactivating an account, a failed validation failing its orders) belongs
 * to the aggregate whose change causes it and is one transaction there.
 */
export interface AcmeLedgerPorts {
  readonly eabKeys: AwaitableMethods<AcmeEabKeyRepository>;
  readonly accounts: AwaitableMethods<AcmeAccountRepository>;
  readonly orders: AwaitableMethods<AcmeOrderRepository>;
  readonly authorizations: AwaitableMethods<AcmeAuthorizationRepository>;
}

/** The SQLite ACME repositories: synchronous, each write one IMMEDIATE transaction. */
export class AcmeLedger implements AcmeLedgerPorts {
  readonly eabKeys: AcmeEabKeyRepository;
  readonly accounts: AcmeAccountRepository;
  readonly orders: AcmeOrderRepository;
  readonly authorizations: AcmeAuthorizationRepository;

  constructor(db: Database.Database, clock: Clock = systemClock) {
    this.eabKeys = new AcmeEabKeyRepository(db);
    this.accounts = new AcmeAccountRepository(db);
    this.orders = new AcmeOrderRepository(db, clock);
    this.authorizations = new AcmeAuthorizationRepository(db);
  }
}
