import type { AwaitableMethods } from '../../shared/awaitable.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import type {
  AcmeAccountRecord,
  AcmeAuthorizationRecord,
  AcmeChallengeRecord,
  AcmeEabKeyPage,
  AcmeEabKeyQuery,
  AcmeEabKeyRecord,
  AcmeEabKeySummary,
  AcmeIdentifierRecord,
  AcmeOrderRecord,
  CreateOrderOutcome,
  NewAcmeAccount,
  NewAcmeOrder,
  ValidationRecord,
} from '../../shared/acme-records.js';
import type { AcmeRepository } from '../acme-repository.js';
import { checkEabKeyId, planEabList, REVOKE_EAB_SQL, revokeEabRefusal, SELECT_EAB_SUMMARY_SQL, toEabPage } from '../eab-keys.js';
import { numberNamedParameters } from '../sql-placeholders.js';
import * as accounts from './acme-accounts.js';
import * as orders from './acme-orders.js';
import type { PostgresDatabase } from './database.js';

/**
 * The ACME aggregate on PostgreSQL: the methods of the SQLite AcmeRepository,
 * with the same meaning, asynchronous. Every state change is one statement
 * or one transaction, correct with several nodes writing at once (see
 * acme-orders.ts for how each race is settled).
 */
export class PostgresAcmeRepository implements AwaitableMethods<AcmeRepository> {
  constructor(
    private readonly database: PostgresDatabase,
    private readonly clock: Clock = systemClock,
  ) {}

  // ------------------------------------------------------------ EAB keys

  createEabKey(key: AcmeEabKeyRecord): Promise<void> {
    return accounts.createEabKey(this.database, key);
  }

  findEabKey(keyId: string): Promise<AcmeEabKeyRecord | undefined> {
    return accounts.findEabKey(this.database, keyId);
  }

  /** As AcmeRepository.listEabKeys. */
  async listEabKeys(query: AcmeEabKeyQuery): Promise<AcmeEabKeyPage> {
    const plan = planEabList(query, 'postgres');
    const { text, values } = numberNamedParameters(plan.sql, plan.params);
    return toEabPage(await this.database.rows<AcmeEabKeySummary>(text, values), plan.limit);
  }

  /** As AcmeRepository.revokeEabKey; the UPDATE and a binding's UPDATE (which requires revoked_at IS NULL) serialise on the row. */
  async revokeEabKey(keyId: string, now: number): Promise<AcmeEabKeySummary> {
    checkEabKeyId(keyId);
    const revoke = numberNamedParameters<string | number>(REVOKE_EAB_SQL, { keyId, now });
    const revoked = await this.database.row<AcmeEabKeySummary>(revoke.text, revoke.values);
    if (revoked !== undefined) return revoked;
    const select = numberNamedParameters(SELECT_EAB_SUMMARY_SQL, { keyId });
    throw revokeEabRefusal(keyId, await this.database.row<AcmeEabKeySummary>(select.text, select.values));
  }

  // ------------------------------------------------------------ accounts

  createAccount(account: NewAcmeAccount): Promise<AcmeAccountRecord> {
    return accounts.createAccount(this.database, account);
  }

  findAccount(id: string): Promise<AcmeAccountRecord | undefined> {
    return accounts.findAccount(this.database, id);
  }

  findAccountByThumbprint(thumbprint: string): Promise<AcmeAccountRecord | undefined> {
    return accounts.findAccountByThumbprint(this.database, thumbprint);
  }

  updateAccountContact(id: string, contact: readonly string[]): Promise<AcmeAccountRecord> {
    return accounts.updateAccountContact(this.database, id, contact);
  }

  deactivateAccount(id: string): Promise<AcmeAccountRecord> {
    return accounts.deactivateAccount(this.database, id);
  }

  changeAccountKey(id: string, jwk: string, thumbprint: string): Promise<AcmeAccountRecord> {
    return accounts.changeAccountKey(this.database, id, jwk, thumbprint);
  }

  // ------------------------------------------------------------ orders, authorizations, challenges

  createOrder(order: NewAcmeOrder, now: number): Promise<CreateOrderOutcome> {
    return orders.createOrder(this.database, order, now);
  }

  findOrder(id: string): Promise<AcmeOrderRecord | undefined> {
    return orders.findOrder(this.database, id);
  }

  listOrderIds(accountId: string, limit: number): Promise<readonly string[]> {
    return orders.listOrderIds(this.database, accountId, limit);
  }

  findAuthorization(id: string): Promise<AcmeAuthorizationRecord | undefined> {
    return orders.findAuthorization(this.database, id);
  }

  findReusableAuthorization(
    accountId: string,
    identifier: AcmeIdentifierRecord,
    isWildcard: boolean,
    validUntilAtLeast: number,
  ): Promise<AcmeAuthorizationRecord | undefined> {
    return orders.findReusableAuthorization(this.database, accountId, identifier, isWildcard, validUntilAtLeast);
  }

  findChallenge(id: string): Promise<AcmeChallengeRecord | undefined> {
    return orders.findChallenge(this.database, id);
  }

  findChallengeAuthorization(challengeId: string): Promise<AcmeAuthorizationRecord | undefined> {
    return orders.findChallengeAuthorization(this.database, challengeId);
  }

  startChallenge(challengeId: string, now: number): Promise<boolean> {
    return orders.startChallenge(this.database, challengeId, now);
  }

  recordValidation(challengeId: string, outcome: ValidationRecord): Promise<number> {
    return orders.recordValidation(this.database, challengeId, outcome);
  }

  deactivateAuthorization(id: string): Promise<boolean> {
    return orders.deactivateAuthorization(this.database, id);
  }

  beginFinalize(orderId: string): Promise<boolean> {
    return orders.beginFinalize(this.database, orderId, this.clock.now());
  }

  abortFinalize(orderId: string): Promise<void> {
    return orders.abortFinalize(this.database, orderId);
  }

  /** Challenges left `processing` (by a stopped node, or being validated by a live one: validating again is harmless, the first outcome recorded wins). */
  listInterruptedChallenges(): Promise<readonly AcmeChallengeRecord[]> {
    return orders.listInterruptedChallenges(this.database);
  }

  /** Only finalizations older than any real one (FINALIZE_INTERRUPTED_AFTER_MS): the others may belong to live nodes. */
  resetInterruptedFinalizations(): Promise<number> {
    return orders.resetInterruptedFinalizations(this.database, this.clock.now() - orders.FINALIZE_INTERRUPTED_AFTER_MS);
  }

  completeFinalize(orderId: string, serial: string): Promise<AcmeOrderRecord> {
    return orders.completeFinalize(this.database, orderId, serial);
  }
}
