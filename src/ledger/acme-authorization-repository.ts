import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
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
} from '../shared/acme-records.js';
import { systemClock, type Clock } from '../shared/clock.js';
import {
  ACCOUNT_COLUMNS,
  ACCOUNT_DEACTIVATED_PROBLEM,
  AUTHORIZATION_COLUMNS,
  AUTHORIZATION_DEACTIVATED_PROBLEM,
  CHALLENGE_COLUMNS,
  createdOrder,
  EAB_COLUMNS,
  ORDER_COLUMNS,
  toAccount,
  toAuthorization,
  toChallenge,
  toEabKey,
  toOrder,
  type AccountRow,
  type AuthorizationRow,
  type ChallengeRow,
  type EabRow,
  type OrderRow,
} from './acme-rows.js';
import { toConflict } from './connection.js';
import { checkEabKeyId, planEabList, REVOKE_EAB_SQL, revokeEabRefusal, SELECT_EAB_SUMMARY_SQL, toEabPage } from './eab-keys.js';

/**
 * The ACME aggregate (migrations/0004), fitting src/acme's AcmeStore port.
 * Every write is one IMMEDIATE transaction, so a state change is whole or
 * absent; certificates are written by the Authority, not here.
 */
export class AcmeRepository {
  private preparedStatements: Statements | undefined;
  private readonly createAccountTx: Database.Transaction<(account: NewAcmeAccount) => void>;
  private readonly createOrderTx: Database.Transaction<(order: NewAcmeOrder, now: number) => CreateOrderOutcome>;
  private readonly recordValidationTx: Database.Transaction<(challengeId: string, outcome: ValidationRecord) => number>;
  private readonly deactivateAuthorizationTx: Database.Transaction<(id: string) => boolean>;
  private readonly deactivateAccountTx: Database.Transaction<(id: string) => void>;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock = systemClock,
  ) {

    this.createAccountTx = db.transaction((account: NewAcmeAccount): void => {
      this.statements.insertAccount.run(
        account.id,
        account.keyThumbprint,
        account.jwk,
        JSON.stringify(account.contact),
        account.eabKeyId,
        account.createdAt,
      );
      if (account.eabKeyId !== null) {
        if (this.statements.selectEab.get(account.eabKeyId) === undefined) throw new DomainError('notFound', 'unknown EAB key');
        const bound = this.statements.bindEab.run(account.id, account.createdAt, account.eabKeyId);
        if (bound.changes !== 1) throw new DomainError('conflict', 'the EAB key is already bound to an account');
      }
    });

    this.createOrderTx = db.transaction((order: NewAcmeOrder, now: number): CreateOrderOutcome => {
      if (order.replacesSerial !== null && this.statements.liveReplacement.get(order.replacesSerial, now) !== undefined) {
        return { ok: false, reason: 'alreadyReplaced' };
      }
      this.statements.insertOrder.run({
        id: order.id,
        accountId: order.accountId,
        status: order.status,
        identifiers: JSON.stringify(order.identifiers),
        notBefore: order.notBefore,
        notAfter: order.notAfter,
        expiresAt: order.expiresAt,
        createdAt: order.createdAt,
        replaces: order.replaces,
        replacesSerial: order.replacesSerial,
      });
      let position = 0;
      for (const id of order.reusedAuthorizationIds) this.statements.linkAuthorization.run(order.id, id, position++);
      for (const authz of order.newAuthorizations) {
        this.statements.insertAuthorization.run(
          authz.id,
          authz.accountId,
          authz.identifier.type,
          authz.identifier.value,
          authz.isWildcard ? 1 : 0,
          authz.expiresAt,
          authz.createdAt,
        );
        for (const challenge of authz.challenges) this.statements.insertChallenge.run(challenge.id, authz.id, challenge.type, challenge.token);
        this.statements.linkAuthorization.run(order.id, authz.id, position++);
      }
      return { ok: true, order: createdOrder(order) };
    });

    this.recordValidationTx = db.transaction((challengeId: string, outcome: ValidationRecord): number => {
      const challenge = this.statements.selectChallenge.get(challengeId);
      if (challenge === undefined) throw new DomainError('notFound', `no challenge ${challengeId}`);
      const authzId = challenge.authorizationId;
      if (outcome.ok) {
        if (this.statements.challengeValid.run(outcome.validatedAt, challengeId).changes !== 1) return 0;
        this.statements.authorizationValid.run(outcome.authorizationExpiresAt, authzId);
        this.statements.ordersReady.run(authzId);
        return 0;
      }
      const error = JSON.stringify(outcome.error);
      if (this.statements.challengeInvalid.run(error, challengeId).changes !== 1) return 0;
      // RFC 8555 §7.1.6: a failed challenge fails its authorization and the orders that need it.
      this.statements.authorizationStatus.run('invalid', authzId, 'pending');
      return this.statements.ordersInvalid.run(error, authzId).changes;
    });

    this.deactivateAuthorizationTx = db.transaction((id: string): boolean => {
      const changed =
        this.statements.authorizationStatus.run('deactivated', id, 'pending').changes +
        this.statements.authorizationStatus.run('deactivated', id, 'valid').changes;
      if (changed === 0) return false;
      this.statements.ordersInvalid.run(AUTHORIZATION_DEACTIVATED_PROBLEM, id);
      return true;
    });

    this.deactivateAccountTx = db.transaction((id: string): void => {
      if (this.statements.updateAccountStatus.run('deactivated', id).changes !== 1) throw new DomainError('notFound', `no ACME account ${id}`);
      this.statements.invalidateAccountOrders.run(ACCOUNT_DEACTIVATED_PROBLEM, id);
      this.statements.deactivateAccountAuthorizations.run(id);
    });
  }

  private get statements(): Statements {
    return (this.preparedStatements ??= prepareStatements(this.db));
  }

  // ------------------------------------------------------------ EAB keys

  createEabKey(key: AcmeEabKeyRecord): void {
    try {
      this.statements.insertEab.run(key.keyId, Buffer.from(key.hmacKey), key.createdAt, key.createdBy);
    } catch (error) {
      throw toConflict(error, () => `EAB key ${key.keyId} exists`);
    }
  }

  findEabKey(keyId: string): AcmeEabKeyRecord | undefined {
    const row = this.statements.selectEab.get(keyId);
    return row === undefined ? undefined : toEabKey(row);
  }

  /** One page of EAB keys in creation order, without their HMAC keys (eab-keys.ts). */
  listEabKeys(query: AcmeEabKeyQuery): AcmeEabKeyPage {
    const plan = planEabList(query, 'sqlite');
    return toEabPage(this.db.prepare<[EabParams], AcmeEabKeySummary>(plan.sql).all(plan.params), plan.limit);
  }

  /** Revokes a key: it binds no new account. 'notFound' for an unknown id, 'conflict' when already revoked. */
  revokeEabKey(keyId: string, now: number): AcmeEabKeySummary {
    checkEabKeyId(keyId);
    const revoked = this.db.prepare<[EabParams], AcmeEabKeySummary>(REVOKE_EAB_SQL).get({ keyId, now });
    if (revoked !== undefined) return revoked;
    throw revokeEabRefusal(keyId, this.db.prepare<[EabParams], AcmeEabKeySummary>(SELECT_EAB_SUMMARY_SQL).get({ keyId }));
  }

  // ------------------------------------------------------------ accounts

  createAccount(account: NewAcmeAccount): AcmeAccountRecord {
    try {
      this.createAccountTx.immediate(account);
    } catch (error) {
      throw toConflict(error, () => 'an account with this key exists');
    }
    return this.mustFindAccount(account.id);
  }

  findAccount(id: string): AcmeAccountRecord | undefined {
    const row = this.statements.selectAccount.get(id);
    return row === undefined ? undefined : toAccount(row);
  }

  findAccountByThumbprint(thumbprint: string): AcmeAccountRecord | undefined {
    const row = this.statements.selectAccountByThumbprint.get(thumbprint);
    return row === undefined ? undefined : toAccount(row);
  }

  updateAccountContact(id: string, contact: readonly string[]): AcmeAccountRecord {
    if (this.statements.updateContact.run(JSON.stringify(contact), id).changes !== 1) throw new DomainError('notFound', `no ACME account ${id}`);
    return this.mustFindAccount(id);
  }

  deactivateAccount(id: string): AcmeAccountRecord {
    this.deactivateAccountTx.immediate(id);
    return this.mustFindAccount(id);
  }

  changeAccountKey(id: string, jwk: string, thumbprint: string): AcmeAccountRecord {
    try {
      if (this.statements.updateKey.run(jwk, thumbprint, id).changes !== 1) throw new DomainError('notFound', `no ACME account ${id}`);
    } catch (error) {
      throw toConflict(error, () => 'another account holds this key');
    }
    return this.mustFindAccount(id);
  }

  // ------------------------------------------------------------ orders, authorizations, challenges

  createOrder(order: NewAcmeOrder, now: number): CreateOrderOutcome {
    return this.createOrderTx.immediate(order, now);
  }

  findOrder(id: string): AcmeOrderRecord | undefined {
    const row = this.statements.selectOrder.get(id);
    return row === undefined ? undefined : toOrder(row, this.statements.selectOrderAuthorizations.all(id));
  }

  listOrderIds(accountId: string, limit: number): readonly string[] {
    return this.statements.listOrderIds.all(accountId, limit);
  }

  findAuthorization(id: string): AcmeAuthorizationRecord | undefined {
    const row = this.statements.selectAuthorization.get(id);
    return row === undefined ? undefined : this.withChallenges(row);
  }

  findReusableAuthorization(
    accountId: string,
    identifier: AcmeIdentifierRecord,
    isWildcard: boolean,
    validUntilAtLeast: number,
  ): AcmeAuthorizationRecord | undefined {
    const row = this.statements.selectReusable.get(accountId, identifier.type, identifier.value, isWildcard ? 1 : 0, validUntilAtLeast);
    return row === undefined ? undefined : this.withChallenges(row);
  }

  findChallenge(id: string): AcmeChallengeRecord | undefined {
    const row = this.statements.selectChallenge.get(id);
    return row === undefined ? undefined : toChallenge(row);
  }

  findChallengeAuthorization(challengeId: string): AcmeAuthorizationRecord | undefined {
    const row = this.statements.selectChallengeAuthorization.get(challengeId);
    return row === undefined ? undefined : this.withChallenges(row);
  }

  startChallenge(challengeId: string, now: number): boolean {
    return this.statements.startChallenge.run(challengeId, now).changes === 1;
  }

  /** Returns how many orders the failure made invalid (0 on success). */
  recordValidation(challengeId: string, outcome: ValidationRecord): number {
    return this.recordValidationTx.immediate(challengeId, outcome);
  }

  deactivateAuthorization(id: string): boolean {
    return this.deactivateAuthorizationTx.immediate(id);
  }

  beginFinalize(orderId: string): boolean {
    return this.statements.orderProcessing.run(this.clock.now(), orderId).changes === 1;
  }

  abortFinalize(orderId: string): void {
    this.statements.orderTransition.run('ready', orderId, 'processing');
  }

  /** Challenges left `processing` by a process that stopped mid-validation. */
  listInterruptedChallenges(): readonly AcmeChallengeRecord[] {
    return this.statements.selectProcessingChallenges.all().map(toChallenge);
  }

  /**
   * Orders left `processing` by a process that stopped mid-finalize go back to
   * `ready`: their finalize was never answered, so nothing was handed out.
   * One process owns a SQLite ledger, so at its start every processing order
   * is such a one (PostgreSQL, shared by live nodes, tells them apart by age).
   */
  resetInterruptedFinalizations(): number {
    return this.statements.ordersProcessingToReady.run().changes;
  }

  completeFinalize(orderId: string, serial: string): AcmeOrderRecord {
    if (this.statements.orderValid.run(serial, orderId).changes !== 1) {
      throw new Error(`order ${orderId} was not processing when its certificate ${serial} was recorded`);
    }
    const order = this.findOrder(orderId);
    if (order === undefined) throw new Error(`order ${orderId} vanished`);
    return order;
  }

  private withChallenges(row: AuthorizationRow): AcmeAuthorizationRecord {
    return toAuthorization(row, this.statements.selectChallengesOf.all(row.id).map(toChallenge));
  }

  private mustFindAccount(id: string): AcmeAccountRecord {
    const account = this.findAccount(id);
    if (account === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
    return account;
  }
}

type EabParams = Record<string, string | number>;

/** Prepared on first use, so a ledger opened at an older schema version (before 0004) still opens. */
function prepareStatements(db: Database.Database) {
  return {
    insertEab: db.prepare<[string, Buffer, number, string]>(
      'INSERT INTO acme_eab_keys (key_id, hmac_key, created_at, created_by) VALUES (?, ?, ?, ?)',
    ),
    selectEab: db.prepare<[string], EabRow>(`SELECT ${EAB_COLUMNS} FROM acme_eab_keys WHERE key_id = ?`),
    bindEab: db.prepare<[string, number, string]>(
      'UPDATE acme_eab_keys SET bound_account = ?, bound_at = ? WHERE key_id = ? AND bound_account IS NULL AND revoked_at IS NULL',
    ),
    insertAccount: db.prepare<[string, string, string, string, string | null, number]>(
      `INSERT INTO acme_accounts (id, key_thumbprint, jwk, status, contact, eab_key_id, created_at)
       VALUES (?, ?, ?, 'valid', ?, ?, ?)`,
    ),
    selectAccount: db.prepare<[string], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = ?`),
    selectAccountByThumbprint: db.prepare<[string], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM acme_accounts WHERE key_thumbprint = ?`),
    updateContact: db.prepare<[string, string]>('UPDATE acme_accounts SET contact = ? WHERE id = ?'),
    updateAccountStatus: db.prepare<[string, string]>('UPDATE acme_accounts SET status = ? WHERE id = ?'),
    updateKey: db.prepare<[string, string, string]>('UPDATE acme_accounts SET jwk = ?, key_thumbprint = ? WHERE id = ?'),
    invalidateAccountOrders: db.prepare<[string, string]>(
      `UPDATE acme_orders SET status = 'invalid', error = ? WHERE account_id = ? AND status IN ('pending', 'ready')`,
    ),
    deactivateAccountAuthorizations: db.prepare<[string]>(
      `UPDATE acme_authorizations SET status = 'deactivated' WHERE account_id = ? AND status IN ('pending', 'valid')`,
    ),

    insertOrder: db.prepare<[OrderInsert]>(
      `INSERT INTO acme_orders (id, account_id, status, identifiers, not_before, not_after, expires_at, created_at, replaces, replaces_serial)
       VALUES (:id, :accountId, :status, :identifiers, :notBefore, :notAfter, :expiresAt, :createdAt, :replaces, :replacesSerial)`,
    ),
    liveReplacement: db.prepare<[string, number], number>(
      `SELECT 1 FROM acme_orders WHERE replaces_serial = ?
          AND (status IN ('processing', 'valid') OR (status IN ('pending', 'ready') AND expires_at > ?)) LIMIT 1`,
    ).pluck(),
    selectOrder: db.prepare<[string], OrderRow>(`SELECT ${ORDER_COLUMNS} FROM acme_orders WHERE id = ?`),
    selectOrderAuthorizations: db.prepare<[string], string>(
      'SELECT authorization_id FROM acme_order_authorizations WHERE order_id = ? ORDER BY position',
    ).pluck(),
    listOrderIds: db.prepare<[string, number], string>(
      'SELECT id FROM acme_orders WHERE account_id = ? ORDER BY created_at DESC, id LIMIT ?',
    ).pluck(),
    linkAuthorization: db.prepare<[string, string, number]>(
      'INSERT INTO acme_order_authorizations (order_id, authorization_id, position) VALUES (?, ?, ?)',
    ),
    insertAuthorization: db.prepare<[string, string, string, string, number, number, number]>(
      `INSERT INTO acme_authorizations (id, account_id, identifier_type, identifier_value, is_wildcard, status, expires_at, created_at)
       VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
    ),
    insertChallenge: db.prepare<[string, string, string, string]>(
      `INSERT INTO acme_challenges (id, authorization_id, type, token) VALUES (?, ?, ?, ?)`,
    ),
    selectAuthorization: db.prepare<[string], AuthorizationRow>(`SELECT ${AUTHORIZATION_COLUMNS} FROM acme_authorizations WHERE id = ?`),
    selectChallengesOf: db.prepare<[string], ChallengeRow>(
      `SELECT ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE authorization_id = ? ORDER BY rowid`,
    ),
    selectReusable: db.prepare<[string, string, string, number, number], AuthorizationRow>(
      `SELECT ${AUTHORIZATION_COLUMNS} FROM acme_authorizations
        WHERE account_id = ? AND identifier_type = ? AND identifier_value = ? AND is_wildcard = ?
          AND status = 'valid' AND expires_at > ?
        ORDER BY expires_at DESC LIMIT 1`,
    ),
    selectChallenge: db.prepare<[string], ChallengeRow>(`SELECT ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE id = ?`),
    selectChallengeAuthorization: db.prepare<[string], AuthorizationRow>(
      `SELECT ${AUTHORIZATION_COLUMNS} FROM acme_authorizations WHERE id = (SELECT authorization_id FROM acme_challenges WHERE id = ?)`,
    ),
    selectProcessingChallenges: db.prepare<[], ChallengeRow>(`SELECT ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE status = 'processing' ORDER BY rowid`),
    ordersProcessingToReady: db.prepare<[]>(`UPDATE acme_orders SET status = 'ready' WHERE status = 'processing'`),
    startChallenge: db.prepare<[string, number]>(
      `UPDATE acme_challenges SET status = 'processing'
        WHERE id = ? AND status = 'pending'
          AND NOT EXISTS (SELECT 1 FROM acme_challenges other WHERE other.authorization_id = acme_challenges.authorization_id AND other.status = 'processing')
          AND EXISTS (SELECT 1 FROM acme_authorizations a WHERE a.id = acme_challenges.authorization_id AND a.status = 'pending' AND a.expires_at > ?)`,
    ),
    challengeValid: db.prepare<[number, string]>(
      `UPDATE acme_challenges SET status = 'valid', validated_at = ?, error = NULL WHERE id = ? AND status = 'processing'`,
    ),
    challengeInvalid: db.prepare<[string, string]>(
      `UPDATE acme_challenges SET status = 'invalid', error = ? WHERE id = ? AND status = 'processing'`,
    ),
    authorizationValid: db.prepare<[number, string]>(
      `UPDATE acme_authorizations SET status = 'valid', expires_at = ? WHERE id = ? AND status = 'pending'`,
    ),
    authorizationStatus: db.prepare<[string, string, string]>(
      `UPDATE acme_authorizations SET status = ? WHERE id = ? AND status = ?`,
    ),
    // Pending orders holding this authorization whose every authorization is now valid.
    ordersReady: db.prepare<[string]>(
      `UPDATE acme_orders SET status = 'ready'
        WHERE status = 'pending'
          AND id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = ?)
          AND NOT EXISTS (SELECT 1 FROM acme_order_authorizations l JOIN acme_authorizations a ON a.id = l.authorization_id
                           WHERE l.order_id = acme_orders.id AND a.status <> 'valid')`,
    ),
    ordersInvalid: db.prepare<[string, string]>(
      `UPDATE acme_orders SET status = 'invalid', error = ?
        WHERE status IN ('pending', 'ready') AND id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = ?)`,
    ),
    orderTransition: db.prepare<[string, string, string]>('UPDATE acme_orders SET status = ? WHERE id = ? AND status = ?'),
    // migrations/0007: when the finalize began, so a cluster tells a stalled one from one still running (postgres/acme-orders.ts).
    orderProcessing: db.prepare<[number, string]>(
      `UPDATE acme_orders SET status = 'processing', finalize_started_at = ? WHERE id = ? AND status = 'ready'`,
    ),
    orderValid: db.prepare<[string, string]>(
      `UPDATE acme_orders SET status = 'valid', certificate_serial = ? WHERE id = ? AND status = 'processing'`,
    ),
  } as const;
}

type Statements = ReturnType<typeof prepareStatements>;

/** A new order's row: its outcome columns start empty. */
type OrderInsert = Omit<OrderRow, 'error' | 'certificateSerial'>;
