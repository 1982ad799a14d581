import type { AwaitableMethods } from '../../shared/awaitable.js';
import { DomainError } from '../../shared/errors.js';
import type { AcmeAuthorizationRecord, AcmeChallengeRecord, AcmeIdentifierRecord, ValidationRecord } from '../../domain/acme.js';
import type { AcmeAuthorizationRepository } from '../acme-authorization-repository.js';
import * as acmeRows from '../acme-rows.js';
import type { PostgresDatabase } from './database.js';

/**
 * ACME authorizations and their challenges on PostgreSQL: the methods of the
 * SQLite AcmeAuthorizationRepository, asynchronous. Several nodes validate
 * at once, so a validation's outcome locks the orders holding the
 * authorization before the authorization itself (the lock order of every
 * ACME writer: orders, authorizations, challenges), and the passed and
 * failed outcomes are each one statement.
 */

/** An authorization's columns and its challenges (creation order: `seq`), in one statement, so both come from one snapshot. */
const AUTHORIZATION_SELECT = `${acmeRows.AUTHORIZATION_COLUMNS},
  (SELECT COALESCE(json_agg(c ORDER BY c.seq), '[]'::json)
     FROM (SELECT seq, ${acmeRows.CHALLENGE_COLUMNS} FROM acme_challenges WHERE authorization_id = acme_authorizations.id) c) AS challenges`;

type AuthorizationRowWithChallenges = acmeRows.AuthorizationRow & { readonly challenges: unknown };

/** Locks the orders holding an authorization (by id, a stable order) before the authorization itself is changed. */
const LOCK_ORDERS_OF_AUTHORIZATION = `SELECT id FROM acme_orders
  WHERE id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = $1) ORDER BY id FOR NO KEY UPDATE`;

const ORDERS_INVALID = `UPDATE acme_orders SET status = 'invalid', error = $1
  WHERE status IN ('pending', 'ready') AND id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = $2)`;

export class PostgresAcmeAuthorizationRepository implements AwaitableMethods<AcmeAuthorizationRepository> {
  constructor(private readonly database: PostgresDatabase) {}

  async findAuthorization(id: string): Promise<AcmeAuthorizationRecord | undefined> {
    const row = await this.database.row<AuthorizationRowWithChallenges>(
      `SELECT ${AUTHORIZATION_SELECT} FROM acme_authorizations WHERE id = $1`,
      [id],
    );
    return row === undefined ? undefined : withChallenges(row);
  }

  async findReusableAuthorization(
    accountId: string,
    identifier: AcmeIdentifierRecord,
    isWildcard: boolean,
    validUntilAtLeast: number,
  ): Promise<AcmeAuthorizationRecord | undefined> {
    const row = await this.database.row<AuthorizationRowWithChallenges>(
      `SELECT ${AUTHORIZATION_SELECT} FROM acme_authorizations
        WHERE account_id = $1 AND identifier_type = $2 AND identifier_value = $3 AND is_wildcard = $4
          AND status = 'valid' AND expires_at > $5
        ORDER BY expires_at DESC LIMIT 1`,
      [accountId, identifier.type, identifier.value, isWildcard ? 1 : 0, validUntilAtLeast],
    );
    return row === undefined ? undefined : withChallenges(row);
  }

  async findChallengeAuthorization(challengeId: string): Promise<AcmeAuthorizationRecord | undefined> {
    const row = await this.database.row<AuthorizationRowWithChallenges>(
      `SELECT ${AUTHORIZATION_SELECT} FROM acme_authorizations WHERE id = (SELECT authorization_id FROM acme_challenges WHERE id = $1)`,
      [challengeId],
    );
    return row === undefined ? undefined : withChallenges(row);
  }

  async findChallenge(id: string): Promise<AcmeChallengeRecord | undefined> {
    const row = await this.database.row<acmeRows.ChallengeRow>(`SELECT ${acmeRows.CHALLENGE_COLUMNS} FROM acme_challenges WHERE id = $1`, [
      id,
    ]);
    return row === undefined ? undefined : acmeRows.toChallenge(row);
  }

  /**
   * pending -> processing while no other challenge of its authorization is
   * processing and the authorization is pending and unexpired. The
   * authorization row is locked first: the "no other challenge processing"
   * check is then made after any rival start committed, so one challenge per
   * authorization is validated at a time across nodes.
   */
  startChallenge(challengeId: string, now: number): Promise<boolean> {
    return this.database.transaction(async (tx) => {
      const authz = await tx.row(
        `SELECT a.id FROM acme_authorizations a JOIN acme_challenges c ON c.authorization_id = a.id WHERE c.id = $1 FOR NO KEY UPDATE OF a`,
        [challengeId],
      );
      if (authz === undefined) return false;
      const started = await tx.run(START_CHALLENGE, [challengeId, now]);
      return started === 1;
    });
  }

  /**
   * The challenge, its authorization and the orders holding it, in one
   * transaction of two statements (RFC 8555 §7.1.6). The orders are locked
   * first: two nodes validating two authorizations of one order then run one
   * after the other, and the second (its second statement starts after the
   * first committed) sees the first's authorization valid when it decides
   * whether the order is ready. Returns how many orders the failure made
   * invalid (0 on success).
   */
  recordValidation(challengeId: string, outcome: ValidationRecord): Promise<number> {
    return this.database.transaction(async (tx) => {
      const locked = await tx.row<{ authorizationId: string }>(LOCK_FOR_VALIDATION, [challengeId]);
      if (locked === undefined) throw new DomainError('notFound', `no challenge ${challengeId}`);
      const authzId = locked.authorizationId;
      if (outcome.ok) {
        await tx.run(RECORD_PASSED, [outcome.validatedAt, challengeId, outcome.authorizationExpiresAt, authzId]);
        return 0;
      }
      const recorded = await tx.row<{ invalidated: number }>(RECORD_FAILED, [JSON.stringify(outcome.error), challengeId, authzId]);
      return recorded?.invalidated ?? 0;
    });
  }

  /** RFC 8555 §7.5.2, in one transaction, locking as recordValidation does. */
  deactivateAuthorization(id: string): Promise<boolean> {
    return this.database.transaction(async (tx) => {
      await tx.run(LOCK_ORDERS_OF_AUTHORIZATION, [id]);
      const changed = await tx.run(
        `UPDATE acme_authorizations SET status = 'deactivated' WHERE id = $1 AND status IN ('pending', 'valid')`,
        [id],
      );
      if (changed === 0) return false;
      await tx.run(ORDERS_INVALID, [acmeRows.AUTHORIZATION_DEACTIVATED_PROBLEM, id]);
      return true;
    });
  }

  /** Challenges left `processing` (by a stopped node, or being validated by a live one: validating again is harmless, the first outcome recorded wins). */
  async listInterruptedChallenges(): Promise<readonly AcmeChallengeRecord[]> {
    const rows = await this.database.rows<acmeRows.ChallengeRow>(
      `SELECT ${acmeRows.CHALLENGE_COLUMNS} FROM acme_challenges WHERE status = 'processing' ORDER BY seq`,
    );
    return rows.map(acmeRows.toChallenge);
  }
}

const START_CHALLENGE = `UPDATE acme_challenges SET status = 'processing'
  WHERE id = $1 AND status = 'pending'
    AND NOT EXISTS (SELECT 1 FROM acme_challenges other WHERE other.authorization_id = acme_challenges.authorization_id AND other.status = 'processing')
    AND EXISTS (SELECT 1 FROM acme_authorizations a WHERE a.id = acme_challenges.authorization_id AND a.status = 'pending' AND a.expires_at > $2)`;

/**
 * The challenge's authorization, locked after the orders holding it (the
 * lock order of every writer here), in one statement: the orders' lock is
 * an uncorrelated subquery of the authorization's scan, so PostgreSQL runs
 * it (and takes those locks) before the authorization's row is locked.
 * No row: no such challenge.
 */
const LOCK_FOR_VALIDATION = `WITH challenge AS MATERIALIZED (
    SELECT authorization_id FROM acme_challenges WHERE id = $1
  ), locked_orders AS MATERIALIZED (
    SELECT id FROM acme_orders
     WHERE id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = (SELECT authorization_id FROM challenge))
     ORDER BY id FOR NO KEY UPDATE
  )
  SELECT a.id AS "authorizationId" FROM acme_authorizations a
   WHERE a.id = (SELECT authorization_id FROM challenge) AND (SELECT count(*) FROM locked_orders) >= 0
   FOR NO KEY UPDATE OF a`;

/**
 * A passed validation in one statement: the challenge (only from
 * processing: else nothing changes), its authorization, and the pending
 * orders holding it whose every authorization is now valid. The statement
 * sees the rows as they were before it, so the authorization it made valid
 * counts as valid there explicitly. $1 validatedAt, $2 challenge, $3 the
 * authorization's new expiry, $4 the authorization.
 */
const RECORD_PASSED = `WITH challenge AS (
    UPDATE acme_challenges SET status = 'valid', validated_at = $1, error = NULL WHERE id = $2 AND status = 'processing' RETURNING authorization_id
  ), made_valid AS (
    UPDATE acme_authorizations SET status = 'valid', expires_at = $3
     WHERE id IN (SELECT authorization_id FROM challenge) AND status = 'pending' RETURNING id
  ), made_ready AS (
    UPDATE acme_orders SET status = 'ready'
     WHERE status = 'pending' AND EXISTS (SELECT 1 FROM challenge)
       AND id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = $4)
       AND NOT EXISTS (SELECT 1 FROM acme_order_authorizations l JOIN acme_authorizations a ON a.id = l.authorization_id
                        WHERE l.order_id = acme_orders.id AND a.status <> 'valid' AND NOT (a.id = $4 AND EXISTS (SELECT 1 FROM made_valid)))
    RETURNING id
  )
  SELECT (SELECT count(*) FROM made_ready)::int AS "ready"`;

/**
 * A failed validation in one statement (RFC 8555 §7.1.6: a failed challenge
 * fails its authorization and the orders that need it), only when the
 * challenge was processing. $1 the stored problem, $2 challenge, $3 the
 * authorization. Answers how many orders it made invalid.
 */
const RECORD_FAILED = `WITH challenge AS (
    UPDATE acme_challenges SET status = 'invalid', error = $1 WHERE id = $2 AND status = 'processing' RETURNING authorization_id
  ), made_invalid AS (
    UPDATE acme_authorizations SET status = 'invalid' WHERE id IN (SELECT authorization_id FROM challenge) AND status = 'pending' RETURNING id
  ), orders_failed AS (
    UPDATE acme_orders SET status = 'invalid', error = $1
     WHERE status IN ('pending', 'ready') AND EXISTS (SELECT 1 FROM challenge)
       AND id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = $3)
    RETURNING id
  )
  SELECT (SELECT count(*) FROM orders_failed)::int AS "invalidated"`;

function withChallenges(row: AuthorizationRowWithChallenges): AcmeAuthorizationRecord {
  return acmeRows.toAuthorization(row, challengeRows(row.challenges).map(acmeRows.toChallenge));
}

/** The challenges json_agg built: checked field by field, as a row from the driver would be typed. */
function challengeRows(value: unknown): acmeRows.ChallengeRow[] {
  if (!Array.isArray(value)) throw new Error('ledger returned challenges that are not an array');
  return value.map((item: unknown): acmeRows.ChallengeRow => {
    if (typeof item !== 'object' || item === null) throw new Error('ledger returned a malformed challenge');
    const text = (name: string): string => {
      const field: unknown = Reflect.get(item, name);
      if (typeof field !== 'string') throw new Error(`ledger returned a challenge without ${name}`);
      return field;
    };
    const validatedAt: unknown = Reflect.get(item, 'validatedAt');
    const error: unknown = Reflect.get(item, 'error');
    if (validatedAt !== null && typeof validatedAt !== 'number')
      throw new Error('ledger returned a challenge with a malformed validatedAt');
    if (error !== null && typeof error !== 'string') throw new Error('ledger returned a challenge with a malformed error');
    return {
      id: text('id'),
      authorizationId: text('authorizationId'),
      type: text('type'),
      token: text('token'),
      status: text('status'),
      validatedAt,
      error,
    };
  });
}
