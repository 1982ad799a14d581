import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { checkTime } from './certificate-rows.js';
import { expiringStatements } from './alert-expiring-sql.js';
import {
  ALERTED_COLUMNS,
  alertPageBounds,
  byNotAfterThenSerial,
  checkedAlertKey,
  checkEnqueueRequest,
  checkStartRun,
  tightestFirst,
  toAlertPage,
  toEnqueuedAlert,
  toMessageItem,
  toPendingMessage,
  toWaitingDelivery,
  trimError,
  type AlertedRow,
  type AlertPage,
  type AlertQuery,
  type DeliveryStateRow,
  type EnqueueRequest,
  type ExpiryThresholdSpec,
  type ItemRow,
  type OutboxDepth,
  SELECT_OUTBOX_DEPTH,
  toOutboxDepth,
  type PageRow,
  type PendingRow,
  type StartRunRequest,
  type WaitingQuery,
  type WaitingRow,
} from './alert-rows.js';
import type { AlertChannel, EnqueuedAlert, MessageItem, NewAlertMessage, PendingMessage, WaitingDelivery } from '../domain/alerts.js';
import { stoppedRenewingParams } from './attention.js';
import {
  SELECT_ALERT_PAGE,
  SELECT_DELIVERY_STATES,
  SELECT_WAITING,
  type ExpiringOthersParams,
  type ExpiringParams,
  type ExpiringStoppedParams,
  type FailureParams,
  type InsertAlertParams,
  type InsertMessageParams,
  type InsertRunParams,
} from './alert-outbox-sql.js';
import { DurableWrites, toConflict } from './connection.js';
import { checkPageLimit } from './paging.js';

const EXPIRING = expiringStatements('sqlite');
/** The detection statements on SQLite (alert-expiring-sql.ts has the rules); exported for the query-plan tests. */
export const SELECT_EXPIRING_OTHERS = EXPIRING.others;
export const SELECT_EXPIRING_STOPPED_SVIDS = EXPIRING.stoppedSvids;
export const SELECT_EXPIRING_ALL_SVIDS = EXPIRING.allSvids;

/** A value made on first use; statements are lazy so a ledger at an older schema version still constructs. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/**
 * The alert outbox (alert_runs, alerts, alert_deliveries, alert_messages).
 * Writes that decide what is or was sent are durable (synchronous=FULL):
 * an enqueue or a "sent" mark lost to a power cut would resend or forget.
 */
export class AlertOutboxRepository {
  private readonly durable: DurableWrites;

  private readonly selectOutboxDepth = lazy(() => this.db.prepare<[], OutboxDepth>(SELECT_OUTBOX_DEPTH));
  private readonly selectExpiringOthers = lazy(() => this.db.prepare<[ExpiringOthersParams], AlertedRow>(SELECT_EXPIRING_OTHERS));
  private readonly selectExpiringStoppedSvids = lazy(() =>
    this.db.prepare<[ExpiringStoppedParams], AlertedRow>(SELECT_EXPIRING_STOPPED_SVIDS),
  );
  private readonly selectExpiringAllSvids = lazy(() => this.db.prepare<[ExpiringParams], AlertedRow>(SELECT_EXPIRING_ALL_SVIDS));
  private readonly insertAlert = lazy(() =>
    this.db
      .prepare<[InsertAlertParams], number>(
        `INSERT INTO alerts (serial, threshold_ms, idempotency_key, run_id, enqueued_at)
         VALUES (:serial, :thresholdMs, :key, :runId, :now)
         ON CONFLICT DO NOTHING RETURNING id`,
      )
      .pluck(),
  );
  private readonly insertDelivery = lazy(() =>
    this.db.prepare<[number, string, string]>(
      'INSERT INTO alert_deliveries (alert_id, channel, recipient) VALUES (?, ?, ?) ON CONFLICT DO NOTHING',
    ),
  );
  private readonly selectLastFinishedStart = lazy(() =>
    this.db.prepare<[], number | null>('SELECT max(started_at) FROM alert_runs WHERE finished_at IS NOT NULL').pluck(),
  );
  private readonly selectSlotTaken = lazy(() => this.db.prepare<[number], number>('SELECT 1 FROM alert_runs WHERE slot = ?').pluck());
  private readonly insertRun = lazy(() =>
    this.db
      .prepare<[InsertRunParams], number>(
        `INSERT INTO alert_runs (reason, slot, holder, started_at) VALUES (:reason, :slot, :holder, :now) RETURNING id`,
      )
      .pluck(),
  );
  private readonly updateRunFinished = lazy(() =>
    this.db.prepare<[number, number, number]>('UPDATE alert_runs SET finished_at = ?, enqueued = ? WHERE id = ? AND finished_at IS NULL'),
  );
  private readonly selectWaiting = lazy(() => this.db.prepare<[{ perRecipient: number; limit: number }], WaitingRow>(SELECT_WAITING));
  private readonly insertMessage = lazy(() =>
    this.db
      .prepare<[InsertMessageParams], number>(
        `INSERT INTO alert_messages (channel, recipient, kind, idempotency_key, run_id, next_attempt_at, created_at)
         VALUES (:channel, :recipient, :kind, :key, :runId, :now, :now) RETURNING id`,
      )
      .pluck(),
  );
  private readonly assignDelivery = lazy(() =>
    this.db.prepare<[number, number, string, string]>(
      `UPDATE alert_deliveries SET message_id = ?
        WHERE alert_id = ? AND channel = ? AND recipient = ? AND message_id IS NULL`,
    ),
  );
  // The channel test filters rows of the partial due index (pending messages only: a run's caps bound them).
  private readonly selectDue = lazy(() =>
    this.db.prepare<[{ now: number; limit: number; channel: string | null }], PendingRow>(
      `SELECT id, channel, recipient, kind, idempotency_key AS idempotencyKey, attempts
         FROM alert_messages
        WHERE status = 'pending' AND next_attempt_at <= :now AND (:channel IS NULL OR channel = :channel)
        ORDER BY next_attempt_at, id
        LIMIT :limit`,
    ),
  );
  private readonly selectNextAttempt = lazy(() =>
    this.db.prepare<[], number | null>("SELECT min(next_attempt_at) FROM alert_messages WHERE status = 'pending'").pluck(),
  );
  private readonly selectItems = lazy(() =>
    this.db.prepare<[number], ItemRow>(
      `SELECT a.id AS alertId, a.threshold_ms AS thresholdMs, a.idempotency_key AS idempotencyKey, ${ALERTED_COLUMNS}
         FROM alert_deliveries d
         JOIN alerts a ON a.id = d.alert_id
         JOIN certificates c ON c.serial = a.serial
        WHERE d.message_id = ?
        ORDER BY c.not_after, a.id`,
    ),
  );
  private readonly updateSent = lazy(() =>
    this.db.prepare<[number, number]>(
      `UPDATE alert_messages SET status = 'sent', sent_at = ?, attempts = attempts + 1, next_attempt_at = NULL
        WHERE id = ? AND status = 'pending'`,
    ),
  );
  private readonly updateFailure = lazy(() =>
    this.db.prepare<[FailureParams]>(
      `UPDATE alert_messages
          SET attempts = attempts + 1, last_error = :error, next_attempt_at = :next,
              status = CASE WHEN :next IS NULL THEN 'failed' ELSE 'pending' END
        WHERE id = :id AND status = 'pending'`,
    ),
  );
  private readonly selectPage = lazy(() =>
    this.db.prepare<[{ before: number | null; status: string | null; serial: string | null; take: number }], PageRow>(SELECT_ALERT_PAGE),
  );
  private readonly selectDeliveryStates = lazy(() => this.db.prepare<[{ ids: string }], DeliveryStateRow>(SELECT_DELIVERY_STATES));

  private readonly startRunTransaction: Database.Transaction<(request: StartRunRequest) => number | null>;
  private readonly enqueueTransaction: Database.Transaction<(request: EnqueueRequest) => EnqueuedAlert[]>;
  private readonly createMessagesTransaction: Database.Transaction<
    (runId: number, now: number, messages: readonly NewAlertMessage[]) => number[]
  >;

  constructor(private readonly db: Database.Database) {
    this.durable = new DurableWrites(db);

    this.startRunTransaction = db.transaction((request: StartRunRequest): number | null => {
      if (request.unlessFinishedSince !== undefined) {
        const last = this.selectLastFinishedStart().get() ?? null;
        if (last !== null && last >= request.unlessFinishedSince) return null;
      }
      if (request.slot !== undefined && this.selectSlotTaken().get(request.slot) !== undefined) return null;
      const id = this.insertRun().get({ reason: request.reason, slot: request.slot ?? null, holder: request.holder, now: request.now });
      if (id === undefined) throw new Error('alert run insert returned no id');
      return id;
    });

    this.enqueueTransaction = db.transaction((request: EnqueueRequest): EnqueuedAlert[] => {
      const enqueued: EnqueuedAlert[] = [];
      for (const threshold of tightestFirst(request.thresholds)) {
        for (const row of this.expiringRows(request.now, threshold)) {
          const key = checkedAlertKey(request, row.serial, threshold.withinMs);
          const id = this.insertAlert().get({
            serial: row.serial,
            thresholdMs: threshold.withinMs,
            key,
            runId: request.runId,
            now: request.now,
          });
          if (id === undefined) continue;
          for (const target of request.targets) this.insertDelivery().run(id, target.channel, target.recipient);
          enqueued.push(toEnqueuedAlert(row, id, threshold.withinMs, key, request.now));
        }
      }
      return enqueued;
    });

    this.createMessagesTransaction = db.transaction((runId: number, now: number, messages: readonly NewAlertMessage[]): number[] => {
      const ids: number[] = [];
      for (const message of messages) {
        const id = this.insertMessage().get({
          channel: message.channel,
          recipient: message.recipient,
          kind: message.kind,
          key: message.idempotencyKey,
          runId,
          now,
        });
        if (id === undefined) throw new Error('alert message insert returned no id');
        for (const alertId of message.alertIds) {
          // A delivery already in a message means the plan is stale: roll the whole batch back.
          if (this.assignDelivery().run(id, alertId, message.channel, message.recipient).changes !== 1) {
            throw new DomainError('conflict', `alert ${alertId} has no waiting ${message.channel} delivery to ${message.recipient}`);
          }
        }
        ids.push(id);
      }
      return ids;
    });
  }

  /**
   * Records the start of a run and returns its id, or null when it must not
   * run: the scheduled slot was already claimed, or (catch-up) a run finished
   * recently enough. Durable: the slot claim is what stops a second process.
   */
  startRun(request: StartRunRequest): number | null {
    checkStartRun(request);
    try {
      return this.durable.run(this.startRunTransaction, request);
    } catch (error) {
      // Two processes racing for one slot without a lease: the second simply does not run.
      const conflict = toConflict(error, () => 'slot taken');
      if (conflict instanceof DomainError && request.slot !== undefined) return null;
      throw error;
    }
  }

  /** Marks the run's detection and message forming as committed. */
  finishRun(runId: number, now: number, enqueued: number): void {
    checkTime(now, 'now');
    this.updateRunFinished().run(now, enqueued, runId);
  }

  /** When the last finished run started, or null before the first. */
  lastFinishedRunStart(): number | null {
    return this.selectLastFinishedStart().get() ?? null;
  }

  /**
   * Detection and enqueue in one durable transaction: what is found is written
   * as one alert per (certificate, threshold), with one waiting delivery per
   * target. The unique key on (serial, threshold) makes a second enqueue a no-op.
   */
  enqueueExpiring(request: EnqueueRequest): EnqueuedAlert[] {
    checkEnqueueRequest(request);
    return this.durable.run(this.enqueueTransaction, request);
  }

  /** Deliveries held back so far, most urgent first, capped per recipient and in all. */
  waitingDeliveries(query: WaitingQuery): WaitingDelivery[] {
    return this.selectWaiting().all({ perRecipient: query.perRecipient, limit: query.limit }).map(toWaitingDelivery);
  }

  /** Puts waiting deliveries into messages, due at once; all or nothing, durable. Returns the message ids. */
  createMessages(runId: number, now: number, messages: readonly NewAlertMessage[]): number[] {
    checkTime(now, 'now');
    if (messages.length === 0) return [];
    try {
      return this.durable.run(this.createMessagesTransaction, runId, now, messages);
    } catch (error) {
      throw toConflict(error, (code) => `alert messages break a ledger constraint (${code})`);
    }
  }

  /** Pending messages due by `now`, oldest due first; only `channel`'s when given (each channel is its own delivery lane). */
  dueMessages(now: number, limit: number, channel?: AlertChannel): PendingMessage[] {
    return this.selectDue()
      .all({ now, limit, channel: channel ?? null })
      .map(toPendingMessage);
  }

  /** When the earliest pending message is due, or null when none is pending. */
  nextAttemptAt(): number | null {
    return this.selectNextAttempt().get() ?? null;
  }

  /** The certificates a message reports on, most urgent first. */
  messageItems(messageId: number): MessageItem[] {
    return this.selectItems().all(messageId).map(toMessageItem);
  }

  /** Durable: a lost "sent" would only resend (with the same key), but a lost mark repeats work on every start. */
  markSent(messageId: number, now: number): void {
    checkTime(now, 'now');
    this.durable.run(this.db.transaction(() => this.updateSent().run(now, messageId)));
  }

  /** Counts a failed attempt; `nextAttemptAt` null gives up (status failed). */
  recordFailure(messageId: number, error: string, nextAttemptAt: number | null): void {
    if (nextAttemptAt !== null) checkTime(nextAttemptAt, 'nextAttemptAt');
    const params: FailureParams = { id: messageId, error: trimError(error), next: nextAttemptAt };
    this.durable.run(this.db.transaction(() => this.updateFailure().run(params)));
  }

  /** Alerts newest first with their deliveries; `status` filters on the alert's overall status. */
  list(query: AlertQuery = {}): AlertPage {
    const take = checkPageLimit(query.limit);
    const { before, status, serial, fetch } = alertPageBounds(query, take);
    const rows = this.selectPage().all({ before, status, serial, take: fetch });
    const ids = rows.slice(0, take).map((r) => r.id);
    const states = ids.length === 0 ? [] : this.selectDeliveryStates().all({ ids: JSON.stringify(ids) });
    return toAlertPage(rows, take, states);
  }

  /** How many deliveries wait for a message and how many messages are pending or failed (metrics, read at each scrape). */
  outboxDepth(): OutboxDepth {
    return toOutboxDepth(this.selectOutboxDepth().get());
  }

  /** The candidates of one threshold, in (notAfter, serial) order: one statement per part of its scope. */
  private expiringRows(now: number, threshold: ExpiryThresholdSpec): AlertedRow[] {
    const base = { now, horizon: now + threshold.withinMs, withinMs: threshold.withinMs };
    const { profiles } = threshold;
    const rows = this.selectExpiringOthers().all({ ...base, profiles: profiles === null ? null : JSON.stringify(profiles) });
    if (profiles === null) rows.push(...this.selectExpiringStoppedSvids().all({ ...base, ...stoppedRenewingParams(now) }));
    else if (profiles.includes('svid')) rows.push(...this.selectExpiringAllSvids().all(base));
    return rows.sort(byNotAfterThenSerial);
  }
}
