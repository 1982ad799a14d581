import { DomainError } from '../../shared/errors.js';
import type { AlertChannel, EnqueuedAlert, MessageItem, NewAlertMessage, PendingMessage, WaitingDelivery } from '../../domain/alerts.js';
import { checkTime } from '../certificate-rows.js';
import type { AlertOutboxRepository } from '../alert-outbox.js';
import { expiringStatements } from '../alert-expiring-sql.js';
import * as alertRows from '../alert-rows.js';
import { stoppedRenewingParams } from '../attention.js';
import { checkPageLimit } from '../paging.js';
import type { AwaitableMethods } from '../../shared/awaitable.js';
import {
  ASSIGN_DELIVERY,
  INSERT_ALERT,
  INSERT_DELIVERIES,
  INSERT_MESSAGE,
  INSERT_RUN,
  SELECT_ALERT_PAGE,
  SELECT_DELIVERY_STATES,
  SELECT_DUE,
  SELECT_ITEMS,
  SELECT_LAST_FINISHED_START,
  SELECT_NEXT_ATTEMPT,
  SELECT_WAITING,
  UPDATE_FAILURE,
  UPDATE_RUN_FINISHED,
  UPDATE_SENT,
} from './alert-outbox-sql.js';
import { describeViolation, toPostgresConflict } from './constraint.js';
import type { PostgresDatabase, SqlRunner, SqlValue } from './database.js';
import { numberNamedParameters } from '../sql-placeholders.js';

const EXPIRING = expiringStatements('postgres');
/** The detection parameters' types (sql-placeholders.ts says why each needs one). */
const EXPIRING_TYPES = {
  now: 'bigint',
  horizon: 'bigint',
  withinMs: 'bigint',
  dayFloor: 'bigint',
  longFloor: 'bigint',
  profiles: 'text[]',
} as const;

interface IdRow {
  readonly id: number;
}

/**
 * The alert outbox on PostgreSQL: the SQLite AlertOutboxRepository's methods
 * and guarantees, asynchronous, for several keysmith nodes on one database.
 *
 * What makes a cron tick run on one node only is the UNIQUE slot of
 * alert_runs (INSERT ... ON CONFLICT (slot) DO NOTHING: the second claim gets
 * no id), whatever the lease does; what makes an alert enqueue once is the
 * UNIQUE (serial, threshold_ms) of alerts: a node whose detection missed
 * another's uncommitted insert waits for it and then inserts nothing. Each
 * method is one transaction (READ COMMITTED; a deadlock retries it), durable
 * as the server's synchronous_commit makes commits (README: keysmith assumes on).
 */
export class PostgresAlertOutbox implements AwaitableMethods<AlertOutboxRepository> {
  constructor(private readonly db: PostgresDatabase) {}

  /** The run's id, or null when the slot was already claimed or (catch-up) a run finished since `unlessFinishedSince`. */
  async startRun(request: alertRows.StartRunRequest): Promise<number | null> {
    alertRows.checkStartRun(request);
    try {
      return await this.db.transaction(async (tx) => {
        if (request.unlessFinishedSince !== undefined) {
          const last = await lastFinishedStart(tx);
          if (last !== null && last >= request.unlessFinishedSince) return null;
        }
        const inserted = await tx.row<IdRow>(INSERT_RUN, [request.reason, request.slot ?? null, request.holder, request.now]);
        return inserted?.id ?? null;
      });
    } catch (error) {
      if (request.slot !== undefined && toPostgresConflict(error, () => 'slot taken') instanceof DomainError) return null;
      throw error;
    }
  }

  async finishRun(runId: number, now: number, enqueued: number): Promise<void> {
    checkTime(now, 'now');
    await this.db.run(UPDATE_RUN_FINISHED, [now, enqueued, runId]);
  }

  lastFinishedRunStart(): Promise<number | null> {
    return lastFinishedStart(this.db);
  }

  /** Detection and enqueue in one transaction; returns only what is new (see the class comment for two nodes at once). */
  async enqueueExpiring(request: alertRows.EnqueueRequest): Promise<EnqueuedAlert[]> {
    alertRows.checkEnqueueRequest(request);
    const channels = request.targets.map((target) => target.channel);
    const recipients = request.targets.map((target) => target.recipient);
    return this.db.transaction(async (tx) => {
      const enqueued: EnqueuedAlert[] = [];
      for (const threshold of alertRows.tightestFirst(request.thresholds)) {
        for (const row of await expiringRows(tx, request.now, threshold)) {
          const key = alertRows.checkedAlertKey(request, row.serial, threshold.withinMs);
          const inserted = await tx.row<IdRow>(INSERT_ALERT, [row.serial, threshold.withinMs, key, request.runId, request.now]);
          if (inserted === undefined) continue;
          if (channels.length > 0) await tx.run(INSERT_DELIVERIES, [inserted.id, channels, recipients]);
          enqueued.push(alertRows.toEnqueuedAlert(row, inserted.id, threshold.withinMs, key, request.now));
        }
      }
      return enqueued;
    });
  }

  async waitingDeliveries(query: alertRows.WaitingQuery): Promise<WaitingDelivery[]> {
    const rows = await this.db.rows<alertRows.WaitingRow>(SELECT_WAITING, [query.perRecipient, query.limit]);
    return rows.map(alertRows.toWaitingDelivery);
  }

  /** Puts waiting deliveries into messages, due at once; all or nothing. A delivery another node already put in a message refuses the batch. */
  async createMessages(runId: number, now: number, messages: readonly NewAlertMessage[]): Promise<number[]> {
    checkTime(now, 'now');
    if (messages.length === 0) return [];
    try {
      return await this.db.transaction(async (tx) => {
        const ids: number[] = [];
        for (const message of messages) {
          const inserted = await tx.row<IdRow>(INSERT_MESSAGE, [
            message.channel,
            message.recipient,
            message.kind,
            message.idempotencyKey,
            runId,
            now,
          ]);
          if (inserted === undefined) throw new Error('alert message insert returned no id');
          for (const alertId of message.alertIds) {
            // A delivery already in a message means the plan is stale: roll the whole batch back.
            if ((await tx.run(ASSIGN_DELIVERY, [inserted.id, alertId, message.channel, message.recipient])) !== 1) {
              throw new DomainError('conflict', `alert ${alertId} has no waiting ${message.channel} delivery to ${message.recipient}`);
            }
          }
          ids.push(inserted.id);
        }
        return ids;
      });
    } catch (error) {
      throw toPostgresConflict(error, (violation) => `alert messages break a ledger constraint (${describeViolation(violation)})`);
    }
  }

  /** Pending messages due by `now`, oldest due first; only `channel`'s when given. */
  async dueMessages(now: number, limit: number, channel?: AlertChannel): Promise<PendingMessage[]> {
    const rows = await this.db.rows<alertRows.PendingRow>(SELECT_DUE, [now, limit, channel ?? null]);
    return rows.map(alertRows.toPendingMessage);
  }

  async nextAttemptAt(): Promise<number | null> {
    const row = await this.db.row<{ nextAttemptAt: number | null }>(SELECT_NEXT_ATTEMPT);
    return row?.nextAttemptAt ?? null;
  }

  async messageItems(messageId: number): Promise<MessageItem[]> {
    const rows = await this.db.rows<alertRows.ItemRow>(SELECT_ITEMS, [messageId]);
    return rows.map(alertRows.toMessageItem);
  }

  /** Only a pending message becomes sent: a failed one stays failed. */
  async markSent(messageId: number, now: number): Promise<void> {
    checkTime(now, 'now');
    await this.db.run(UPDATE_SENT, [now, messageId]);
  }

  /** Counts a failed attempt; `nextAttemptAt` null gives up (status failed). */
  async recordFailure(messageId: number, error: string, nextAttemptAt: number | null): Promise<void> {
    if (nextAttemptAt !== null) checkTime(nextAttemptAt, 'nextAttemptAt');
    await this.db.run(UPDATE_FAILURE, [messageId, alertRows.trimError(error), nextAttemptAt]);
  }

  /** Alerts newest first with their deliveries; `status` filters on the alert's overall status. */
  /** How many deliveries wait for a message and how many messages are pending or failed (metrics, read at each scrape). */
  async outboxDepth(): Promise<alertRows.OutboxDepth> {
    return alertRows.toOutboxDepth(await this.db.row<alertRows.OutboxDepth>(alertRows.SELECT_OUTBOX_DEPTH));
  }

  async list(query: alertRows.AlertQuery = {}): Promise<alertRows.AlertPage> {
    const take = checkPageLimit(query.limit);
    const { before, status, serial, fetch } = alertRows.alertPageBounds(query, take);
    const rows = await this.db.rows<alertRows.PageRow>(SELECT_ALERT_PAGE, [before, status, fetch, serial]);
    const ids = rows.slice(0, take).map((r) => r.id);
    const states = ids.length === 0 ? [] : await this.db.rows<alertRows.DeliveryStateRow>(SELECT_DELIVERY_STATES, [ids]);
    return alertRows.toAlertPage(rows, take, states);
  }
}

async function lastFinishedStart(runner: SqlRunner): Promise<number | null> {
  const row = await runner.row<{ startedAt: number | null }>(SELECT_LAST_FINISHED_START);
  return row?.startedAt ?? null;
}

/** The candidates of one threshold, in (notAfter, serial) order: one statement per part of its scope. */
async function expiringRows(tx: SqlRunner, now: number, threshold: alertRows.ExpiryThresholdSpec): Promise<alertRows.AlertedRow[]> {
  const base = { now, horizon: now + threshold.withinMs, withinMs: threshold.withinMs };
  const { profiles } = threshold;
  const query = (
    sql: string,
    params: Readonly<Record<string, string | number | readonly string[] | null>>,
  ): Promise<alertRows.AlertedRow[]> => {
    const bound = numberNamedParameters<SqlValue>(sql, params, EXPIRING_TYPES);
    return tx.rows<alertRows.AlertedRow>(bound.text, bound.values);
  };
  const rows = await query(EXPIRING.others, { ...base, profiles: profiles === null ? null : [...profiles] });
  if (profiles === null) rows.push(...(await query(EXPIRING.stoppedSvids, { ...base, ...stoppedRenewingParams(now) })));
  else if (profiles.includes('svid')) rows.push(...(await query(EXPIRING.allSvids, base)));
  return rows.sort(alertRows.byNotAfterThenSerial);
}
