import type Database from 'better-sqlite3';
import type { AcmeOrderRecord, CreateOrderOutcome, NewAcmeOrder } from '../domain/acme.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { createdOrder, ORDER_COLUMNS, toOrder, type OrderRow } from './acme-rows.js';

/**
 * ACME orders (RFC 8555 §7.4, migrations/0004): creation with the new
 * authorizations and challenges it needs, reads, and the finalize states
 * (ready -> processing -> valid). Every write is one IMMEDIATE transaction or
 * one conditional UPDATE; certificates are written by the Authority, not here.
 */
export class AcmeOrderRepository {
  private preparedStatements: OrderStatements | undefined;
  private readonly createOrderTx: Database.Transaction<(order: NewAcmeOrder, now: number) => CreateOrderOutcome>;

  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock = systemClock,
  ) {
    this.createOrderTx = db.transaction((order: NewAcmeOrder, now: number): CreateOrderOutcome => {
      const statements = this.statements;
      // RFC 9773 §5: one live order replaces a certificate.
      if (order.replacesSerial !== null && statements.liveReplacement.get(order.replacesSerial, now) !== undefined) {
        return { ok: false, reason: 'alreadyReplaced' };
      }
      statements.insertOrder.run({
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
      for (const id of order.reusedAuthorizationIds) statements.linkAuthorization.run(order.id, id, position++);
      for (const authz of order.newAuthorizations) {
        statements.insertAuthorization.run(
          authz.id,
          authz.accountId,
          authz.identifier.type,
          authz.identifier.value,
          authz.isWildcard ? 1 : 0,
          authz.expiresAt,
          authz.createdAt,
        );
        for (const challenge of authz.challenges) statements.insertChallenge.run(challenge.id, authz.id, challenge.type, challenge.token);
        statements.linkAuthorization.run(order.id, authz.id, position++);
      }
      return { ok: true, order: createdOrder(order) };
    });
  }

  /** Prepared on first use, so a ledger opened at an older schema version (before 0004) still opens. */
  private get statements(): OrderStatements {
    return (this.preparedStatements ??= prepareOrderStatements(this.db));
  }

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

  beginFinalize(orderId: string): boolean {
    return this.statements.orderProcessing.run(this.clock.now(), orderId).changes === 1;
  }

  abortFinalize(orderId: string): void {
    this.statements.orderTransition.run('ready', orderId, 'processing');
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
}

function prepareOrderStatements(db: Database.Database) {
  return {
    insertOrder: db.prepare<[OrderInsert]>(
      `INSERT INTO acme_orders (id, account_id, status, identifiers, not_before, not_after, expires_at, created_at, replaces, replaces_serial)
       VALUES (:id, :accountId, :status, :identifiers, :notBefore, :notAfter, :expiresAt, :createdAt, :replaces, :replacesSerial)`,
    ),
    liveReplacement: db
      .prepare<[string, number], number>(
        `SELECT 1 FROM acme_orders WHERE replaces_serial = ?
          AND (status IN ('processing', 'valid') OR (status IN ('pending', 'ready') AND expires_at > ?)) LIMIT 1`,
      )
      .pluck(),
    selectOrder: db.prepare<[string], OrderRow>(`SELECT ${ORDER_COLUMNS} FROM acme_orders WHERE id = ?`),
    selectOrderAuthorizations: db
      .prepare<[string], string>('SELECT authorization_id FROM acme_order_authorizations WHERE order_id = ? ORDER BY position')
      .pluck(),
    listOrderIds: db
      .prepare<[string, number], string>('SELECT id FROM acme_orders WHERE account_id = ? ORDER BY created_at DESC, id LIMIT ?')
      .pluck(),
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
    ordersProcessingToReady: db.prepare<[]>(`UPDATE acme_orders SET status = 'ready' WHERE status = 'processing'`),
    orderTransition: db.prepare<[string, string, string]>('UPDATE acme_orders SET status = ? WHERE id = ? AND status = ?'),
    // migrations/0007: when the finalize began, so a cluster tells a stalled one from one still running (postgres/acme-order-repository.ts).
    orderProcessing: db.prepare<[number, string]>(
      `UPDATE acme_orders SET status = 'processing', finalize_started_at = ? WHERE id = ? AND status = 'ready'`,
    ),
    orderValid: db.prepare<[string, string]>(
      `UPDATE acme_orders SET status = 'valid', certificate_serial = ? WHERE id = ? AND status = 'processing'`,
    ),
  } as const;
}

type OrderStatements = ReturnType<typeof prepareOrderStatements>;

/** A new order's row: its outcome columns start empty. */
type OrderInsert = Omit<OrderRow, 'error' | 'certificateSerial'>;
