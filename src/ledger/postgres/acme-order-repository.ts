import { DomainError } from '../../shared/errors.js';
import type {
  AcmeAuthorizationRecord,
  AcmeChallengeRecord,
  AcmeIdentifierRecord,
  AcmeOrderRecord,
  CreateOrderOutcome,
  NewAcmeOrder,
  ValidationRecord,
} from '../../shared/acme-records.js';
import {
  AUTHORIZATION_COLUMNS,
  AUTHORIZATION_DEACTIVATED_PROBLEM,
  CHALLENGE_COLUMNS,
  createdOrder,
  ORDER_COLUMNS,
  toAuthorization,
  toChallenge,
  toOrder,
  type AuthorizationRow,
  type ChallengeRow,
  type OrderRow,
} from '../acme-rows.js';
import type { PostgresDatabase, SqlRunner, SqlValue } from './database.js';

/**
 * ACME orders, authorizations and challenges on PostgreSQL (the order half of
 * acme-repository.ts). SQLite serialized every writer with IMMEDIATE
 * transactions; several nodes write here at once, so each check-then-write
 * either is one conditional UPDATE (PostgreSQL re-reads a row another
 * transaction changed before deciding whether it still matches) or runs
 * after locking the rows it decides on. Locks are taken in one order,
 * orders before authorizations before challenges, so transactions wait on
 * each other instead of deadlocking (a deadlock would still be retried).
 */

/**
 * How long a finalize may take (sign, commit) before a starting node calls it
 * interrupted. Far above a real finalize (milliseconds; the statement timeout
 * is seconds), so an order a live node is still issuing for is never reset.
 */
export const FINALIZE_INTERRUPTED_AFTER_MS = 10 * 60_000;

/** An order's columns and its authorization ids in link order, in one statement. */
const ORDER_SELECT = `${ORDER_COLUMNS},
  ARRAY(SELECT l.authorization_id FROM acme_order_authorizations l WHERE l.order_id = acme_orders.id ORDER BY l.position) AS "authorizationIds"`;

type OrderRowWithLinks = OrderRow & { readonly authorizationIds: string[] };

/** An authorization's columns and its challenges (creation order: `seq`), in one statement, so both come from one snapshot. */
const AUTHORIZATION_SELECT = `${AUTHORIZATION_COLUMNS},
  (SELECT COALESCE(json_agg(c ORDER BY c.seq), '[]'::json)
     FROM (SELECT seq, ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE authorization_id = acme_authorizations.id) c) AS challenges`;

type AuthorizationRowWithChallenges = AuthorizationRow & { readonly challenges: unknown };

/** Locks the orders holding an authorization (by id, a stable order) before the authorization itself is changed. */
const LOCK_ORDERS_OF_AUTHORIZATION = `SELECT id FROM acme_orders
  WHERE id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = $1) ORDER BY id FOR NO KEY UPDATE`;

const ORDERS_INVALID = `UPDATE acme_orders SET status = 'invalid', error = $1
  WHERE status IN ('pending', 'ready') AND id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = $2)`;

/**
 * The order, its new authorizations and challenges, and its links, in one
 * statement (data-modifying CTEs: one round trip, atomic without BEGIN and
 * COMMIT; the foreign keys are checked at its end, so the children may name
 * parents it inserts). RFC 9773 §5 (one live order replaces a certificate):
 * an order that replaces one runs in a transaction that locks the replaced
 * certificate's row first, so two nodes placing such orders run one after
 * the other and the second sees the first's order.
 */
export async function createOrder(database: PostgresDatabase, order: NewAcmeOrder, now: number): Promise<CreateOrderOutcome> {
  const replacesSerial = order.replacesSerial;
  if (replacesSerial === null) {
    await database.run(INSERT_ORDER_SQL, insertOrderParams(order));
    return { ok: true, order: createdOrder(order) };
  }
  return database.transaction(async (tx): Promise<CreateOrderOutcome> => {
    await tx.run('SELECT serial FROM certificates WHERE serial = $1 FOR NO KEY UPDATE', [replacesSerial]);
    const live = await tx.row(
      `SELECT 1 FROM acme_orders WHERE replaces_serial = $1
          AND (status IN ('processing', 'valid') OR (status IN ('pending', 'ready') AND expires_at > $2)) LIMIT 1`,
      [replacesSerial, now],
    );
    if (live !== undefined) return { ok: false, reason: 'alreadyReplaced' };
    await tx.run(INSERT_ORDER_SQL, insertOrderParams(order));
    return { ok: true, order: createdOrder(order) };
  });
}

/**
 * Every row of a new order in one statement, whatever its size: the arrays
 * are unnested in order (WITH ORDINALITY); links are the reused
 * authorizations first, then the new ones (the positions SQLite gives them).
 * Data-modifying CTEs run to completion whether or not the final SELECT reads them.
 */
const INSERT_ORDER_SQL = `WITH new_order AS (
    INSERT INTO acme_orders (id, account_id, status, identifiers, not_before, not_after, expires_at, created_at, replaces, replaces_serial)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
  ), new_authorizations AS (
    INSERT INTO acme_authorizations (id, account_id, identifier_type, identifier_value, is_wildcard, status, expires_at, created_at)
    SELECT id, account_id, identifier_type, identifier_value, is_wildcard, 'pending', expires_at, created_at
      FROM unnest($11::text[], $12::text[], $13::text[], $14::text[], $15::int[], $16::bigint[], $17::bigint[])
           AS t (id, account_id, identifier_type, identifier_value, is_wildcard, expires_at, created_at)
  ), new_challenges AS (
    INSERT INTO acme_challenges (id, authorization_id, type, token)
    SELECT id, authorization_id, type, token
      FROM unnest($18::text[], $19::text[], $20::text[], $21::text[]) WITH ORDINALITY AS t (id, authorization_id, type, token, n)
     ORDER BY n
  ), links AS (
    INSERT INTO acme_order_authorizations (order_id, authorization_id, position)
    SELECT $1, authorization_id, (n - 1)::int FROM unnest($22::text[]) WITH ORDINALITY AS t (authorization_id, n)
  )
  SELECT 1`;

function insertOrderParams(order: NewAcmeOrder): SqlValue[] {
  const fresh = order.newAuthorizations;
  const challenges = fresh.flatMap((authz) => authz.challenges.map((challenge) => ({ ...challenge, authorizationId: authz.id })));
  return [
    order.id,
    order.accountId,
    order.status,
    JSON.stringify(order.identifiers),
    order.notBefore,
    order.notAfter,
    order.expiresAt,
    order.createdAt,
    order.replaces,
    order.replacesSerial,
    fresh.map((authz) => authz.id),
    fresh.map((authz) => authz.accountId),
    fresh.map((authz) => authz.identifier.type),
    fresh.map((authz) => authz.identifier.value),
    fresh.map((authz) => (authz.isWildcard ? 1 : 0)),
    fresh.map((authz) => authz.expiresAt),
    fresh.map((authz) => authz.createdAt),
    challenges.map((challenge) => challenge.id),
    challenges.map((challenge) => challenge.authorizationId),
    challenges.map((challenge) => challenge.type),
    challenges.map((challenge) => challenge.token),
    [...order.reusedAuthorizationIds, ...fresh.map((authz) => authz.id)],
  ];
}

export async function findOrder(db: SqlRunner, id: string): Promise<AcmeOrderRecord | undefined> {
  const row = await db.row<OrderRowWithLinks>(`SELECT ${ORDER_SELECT} FROM acme_orders WHERE id = $1`, [id]);
  return row === undefined ? undefined : toOrder(row, row.authorizationIds);
}

export async function listOrderIds(db: SqlRunner, accountId: string, limit: number): Promise<readonly string[]> {
  const rows = await db.rows<{ id: string }>('SELECT id FROM acme_orders WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT $2', [accountId, limit]);
  return rows.map((row) => row.id);
}

export async function findAuthorization(db: SqlRunner, id: string): Promise<AcmeAuthorizationRecord | undefined> {
  const row = await db.row<AuthorizationRowWithChallenges>(`SELECT ${AUTHORIZATION_SELECT} FROM acme_authorizations WHERE id = $1`, [id]);
  return row === undefined ? undefined : withChallenges(row);
}

export async function findReusableAuthorization(
  db: SqlRunner,
  accountId: string,
  identifier: AcmeIdentifierRecord,
  isWildcard: boolean,
  validUntilAtLeast: number,
): Promise<AcmeAuthorizationRecord | undefined> {
  const row = await db.row<AuthorizationRowWithChallenges>(
    `SELECT ${AUTHORIZATION_SELECT} FROM acme_authorizations
      WHERE account_id = $1 AND identifier_type = $2 AND identifier_value = $3 AND is_wildcard = $4
        AND status = 'valid' AND expires_at > $5
      ORDER BY expires_at DESC LIMIT 1`,
    [accountId, identifier.type, identifier.value, isWildcard ? 1 : 0, validUntilAtLeast],
  );
  return row === undefined ? undefined : withChallenges(row);
}

export async function findChallengeAuthorization(db: SqlRunner, challengeId: string): Promise<AcmeAuthorizationRecord | undefined> {
  const row = await db.row<AuthorizationRowWithChallenges>(
    `SELECT ${AUTHORIZATION_SELECT} FROM acme_authorizations WHERE id = (SELECT authorization_id FROM acme_challenges WHERE id = $1)`,
    [challengeId],
  );
  return row === undefined ? undefined : withChallenges(row);
}

export async function findChallenge(db: SqlRunner, id: string): Promise<AcmeChallengeRecord | undefined> {
  const row = await db.row<ChallengeRow>(`SELECT ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE id = $1`, [id]);
  return row === undefined ? undefined : toChallenge(row);
}

/**
 * pending -> processing while no other challenge of its authorization is
 * processing and the authorization is pending and unexpired. The
 * authorization row is locked first: the "no other challenge processing"
 * check is then made after any rival start committed, so one challenge per
 * authorization is validated at a time across nodes.
 */
export async function startChallenge(database: PostgresDatabase, challengeId: string, now: number): Promise<boolean> {
  return database.transaction(async (tx) => {
    const authz = await tx.row(
      `SELECT a.id FROM acme_authorizations a JOIN acme_challenges c ON c.authorization_id = a.id WHERE c.id = $1 FOR NO KEY UPDATE OF a`,
      [challengeId],
    );
    if (authz === undefined) return false;
    const started = await tx.run(
      `UPDATE acme_challenges SET status = 'processing'
        WHERE id = $1 AND status = 'pending'
          AND NOT EXISTS (SELECT 1 FROM acme_challenges other WHERE other.authorization_id = acme_challenges.authorization_id AND other.status = 'processing')
          AND EXISTS (SELECT 1 FROM acme_authorizations a WHERE a.id = acme_challenges.authorization_id AND a.status = 'pending' AND a.expires_at > $2)`,
      [challengeId, now],
    );
    return started === 1;
  });
}

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

/**
 * The challenge, its authorization and the orders holding it, in one
 * transaction of two statements (RFC 8555 §7.1.6). The orders are locked
 * first: two nodes validating two authorizations of one order then run one
 * after the other, and the second (its second statement starts after the
 * first committed) sees the first's authorization valid when it decides
 * whether the order is ready.
 */
/** Returns how many orders the failure made invalid (0 on success). */
export async function recordValidation(database: PostgresDatabase, challengeId: string, outcome: ValidationRecord): Promise<number> {
  return database.transaction(async (tx) => {
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
export async function deactivateAuthorization(database: PostgresDatabase, id: string): Promise<boolean> {
  return database.transaction(async (tx) => {
    await tx.run(LOCK_ORDERS_OF_AUTHORIZATION, [id]);
    const changed = await tx.run(`UPDATE acme_authorizations SET status = 'deactivated' WHERE id = $1 AND status IN ('pending', 'valid')`, [id]);
    if (changed === 0) return false;
    await tx.run(ORDERS_INVALID, [AUTHORIZATION_DEACTIVATED_PROBLEM, id]);
    return true;
  });
}

/**
 * ready -> processing in one conditional UPDATE: when two nodes race, the
 * second waits for the first's row lock, re-reads the row, finds it
 * processing and changes nothing, so exactly one finalize proceeds.
 */
export async function beginFinalize(db: SqlRunner, orderId: string, now: number): Promise<boolean> {
  const changed = await db.run(`UPDATE acme_orders SET status = 'processing', finalize_started_at = $1 WHERE id = $2 AND status = 'ready'`, [
    now,
    orderId,
  ]);
  return changed === 1;
}

export async function abortFinalize(db: SqlRunner, orderId: string): Promise<void> {
  await db.run(`UPDATE acme_orders SET status = 'ready' WHERE id = $1 AND status = 'processing'`, [orderId]);
}

export async function completeFinalize(db: SqlRunner, orderId: string, serial: string): Promise<AcmeOrderRecord> {
  const row = await db.row<OrderRowWithLinks>(
    `UPDATE acme_orders SET status = 'valid', certificate_serial = $1 WHERE id = $2 AND status = 'processing' RETURNING ${ORDER_SELECT}`,
    [serial, orderId],
  );
  if (row === undefined) throw new Error(`order ${orderId} was not processing when its certificate ${serial} was recorded`);
  return toOrder(row, row.authorizationIds);
}

export async function listInterruptedChallenges(db: SqlRunner): Promise<readonly AcmeChallengeRecord[]> {
  const rows = await db.rows<ChallengeRow>(`SELECT ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE status = 'processing' ORDER BY seq`);
  return rows.map(toChallenge);
}

/**
 * processing -> ready for finalizations that began before `startedBefore`:
 * other nodes share this database, and an order one of them is finalizing
 * right now must stay processing (resetting it would let a retry issue a
 * second certificate for it).
 */
export async function resetInterruptedFinalizations(db: SqlRunner, startedBefore: number): Promise<number> {
  return db.run(
    `UPDATE acme_orders SET status = 'ready'
      WHERE status = 'processing' AND (finalize_started_at IS NULL OR finalize_started_at < $1)`,
    [startedBefore],
  );
}

function withChallenges(row: AuthorizationRowWithChallenges): AcmeAuthorizationRecord {
  return toAuthorization(row, challengeRows(row.challenges).map(toChallenge));
}

/** The challenges json_agg built: checked field by field, as a row from the driver would be typed. */
function challengeRows(value: unknown): ChallengeRow[] {
  if (!Array.isArray(value)) throw new Error('ledger returned challenges that are not an array');
  return value.map((item: unknown): ChallengeRow => {
    if (typeof item !== 'object' || item === null) throw new Error('ledger returned a malformed challenge');
    const text = (name: string): string => {
      const field: unknown = Reflect.get(item, name);
      if (typeof field !== 'string') throw new Error(`ledger returned a challenge without ${name}`);
      return field;
    };
    const validatedAt: unknown = Reflect.get(item, 'validatedAt');
    const error: unknown = Reflect.get(item, 'error');
    if (validatedAt !== null && typeof validatedAt !== 'number') throw new Error('ledger returned a challenge with a malformed validatedAt');
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
