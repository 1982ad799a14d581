import type { AwaitableMethods } from '../../shared/awaitable.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import type { AcmeOrderRecord, CreateOrderOutcome, NewAcmeOrder } from '../../domain/acme.js';
import type { AcmeOrderRepository } from '../acme-order-repository.js';
import { createdOrder, ORDER_COLUMNS, toOrder, type OrderRow } from '../acme-rows.js';
import type { PostgresDatabase, SqlValue } from './database.js';

/**
 * ACME orders on PostgreSQL: the methods of the SQLite AcmeOrderRepository,
 * asynchronous. SQLite serialized every writer with IMMEDIATE transactions;
 * several nodes write here at once, so each check-then-write either is one
 * conditional UPDATE (PostgreSQL re-reads a row another transaction changed
 * before deciding whether it still matches) or runs after locking the rows
 * it decides on. Locks are taken in one order, orders before authorizations
 * before challenges, so transactions wait on each other instead of
 * deadlocking (a deadlock would still be retried); see
 * acme-authorization-repository.ts for the validation side.
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

export class PostgresAcmeOrderRepository implements AwaitableMethods<AcmeOrderRepository> {
  constructor(
    private readonly database: PostgresDatabase,
    private readonly clock: Clock = systemClock,
  ) {}

  /**
   * The order, its new authorizations and challenges, and its links, in one
   * statement (data-modifying CTEs: one round trip, atomic without BEGIN and
   * COMMIT; the foreign keys are checked at its end, so the children may name
   * parents it inserts). RFC 9773 §5 (one live order replaces a certificate):
   * an order that replaces one runs in a transaction that locks the replaced
   * certificate's row first, so two nodes placing such orders run one after
   * the other and the second sees the first's order.
   */
  async createOrder(order: NewAcmeOrder, now: number): Promise<CreateOrderOutcome> {
    const replacesSerial = order.replacesSerial;
    if (replacesSerial === null) {
      await this.database.run(INSERT_ORDER_SQL, insertOrderParams(order));
      return { ok: true, order: createdOrder(order) };
    }
    return this.database.transaction(async (tx): Promise<CreateOrderOutcome> => {
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

  async findOrder(id: string): Promise<AcmeOrderRecord | undefined> {
    const row = await this.database.row<OrderRowWithLinks>(`SELECT ${ORDER_SELECT} FROM acme_orders WHERE id = $1`, [id]);
    return row === undefined ? undefined : toOrder(row, row.authorizationIds);
  }

  async listOrderIds(accountId: string, limit: number): Promise<readonly string[]> {
    const rows = await this.database.rows<{ id: string }>(
      'SELECT id FROM acme_orders WHERE account_id = $1 ORDER BY created_at DESC, id LIMIT $2',
      [accountId, limit],
    );
    return rows.map((row) => row.id);
  }

  /**
   * ready -> processing in one conditional UPDATE: when two nodes race, the
   * second waits for the first's row lock, re-reads the row, finds it
   * processing and changes nothing, so exactly one finalize proceeds.
   */
  async beginFinalize(orderId: string): Promise<boolean> {
    const changed = await this.database.run(
      `UPDATE acme_orders SET status = 'processing', finalize_started_at = $1 WHERE id = $2 AND status = 'ready'`,
      [this.clock.now(), orderId],
    );
    return changed === 1;
  }

  async abortFinalize(orderId: string): Promise<void> {
    await this.database.run(`UPDATE acme_orders SET status = 'ready' WHERE id = $1 AND status = 'processing'`, [orderId]);
  }

  async completeFinalize(orderId: string, serial: string): Promise<AcmeOrderRecord> {
    const row = await this.database.row<OrderRowWithLinks>(
      `UPDATE acme_orders SET status = 'valid', certificate_serial = $1 WHERE id = $2 AND status = 'processing' RETURNING ${ORDER_SELECT}`,
      [serial, orderId],
    );
    if (row === undefined) throw new Error(`order ${orderId} was not processing when its certificate ${serial} was recorded`);
    return toOrder(row, row.authorizationIds);
  }

  /**
   * processing -> ready only for finalizations older than any real one
   * (FINALIZE_INTERRUPTED_AFTER_MS): other nodes share this database, and an
   * order one of them is finalizing right now must stay processing
   * (resetting it would let a retry issue a second certificate for it).
   */
  resetInterruptedFinalizations(): Promise<number> {
    return this.database.run(
      `UPDATE acme_orders SET status = 'ready'
        WHERE status = 'processing' AND (finalize_started_at IS NULL OR finalize_started_at < $1)`,
      [this.clock.now() - FINALIZE_INTERRUPTED_AFTER_MS],
    );
  }
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
