import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { isProfileName, checkTime } from './certificate-rows.js';
import {
  ALERTED_COLUMNS,
  checkChannel,
  decodeAlertCursor,
  isAlertStatus,
  isMessageKind,
  toAlertedCertificate,
  type AlertDeliveryState,
  type AlertedRow,
  type AlertPage,
  type AlertQuery,
  type AlertStatus,
  type AlertSummary,
  type EnqueuedAlert,
  type EnqueueRequest,
  type ExpiryThresholdSpec,
  type MessageItem,
  type NewAlertMessage,
  type PendingMessage,
  type StartRunRequest,
  type WaitingDelivery,
  type WaitingQuery,
} from './alert-rows.js';
import type { AlertChannel } from '../shared/alert-records.js';
import { stoppedRenewingParams, STOPPED_RENEWING_SERIALS_LONGER_THAN, type StoppedRenewingParams } from './attention.js';
import { DurableWrites, toConflict } from './connection.js';
import { checkPageLimit } from './paging.js';

/**
 * Expiring-certificate detection: valid, notAfter in (now, horizon], whole
 * lifetime (notAfter - issuedAt: notBefore is backdated a minute for clock
 * skew) longer than the threshold, not yet alerted at this threshold or a
 * tighter one, and without a successor. A successor is another valid
 * certificate of the same identity, issued no earlier, that lives past the
 * horizon; the identity is the SPIFFE ID when there is one, else the set of
 * DNS/IP names, else (for the CA's own certificates) subject and profile.
 *
 * Which certificates a threshold looks at (src/alerts/select-expiring.ts,
 * `isInScope`): with no profile list, what needs a person (every profile but
 * svid, plus SVIDs that stopped renewing: attention.ts); with a list, those
 * profiles, all of their certificates. Each part is its own statement over
 * its own index: certificates_attention_by_not_after for the non-SVIDs (a few
 * % of rows), spiffe_latest for the SVIDs that stopped renewing, and
 * certificates_valid_by_not_after only when a list names svid. The range
 * terms are spelled out literally so the planner can use the partial
 * indexes; each candidate's successor check then uses the SPIFFE ID, name and
 * subject indexes.
 */
const EXPIRING_RULES = `
     c.status = 'valid' AND c.not_after > :now AND c.not_after <= :horizon
     AND c.not_after - c.issued_at > :withinMs
     AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.serial = c.serial AND a.threshold_ms <= :withinMs)
     AND NOT EXISTS (
       SELECT 1 FROM certificates s
        WHERE c.spiffe_id IS NOT NULL AND s.spiffe_id = c.spiffe_id
          AND s.serial <> c.serial AND s.issued_at >= c.issued_at
          AND s.status = 'valid' AND s.not_after > :horizon)
     AND NOT EXISTS (
       SELECT 1
         -- CROSS JOIN fixes the loop order: c's own names first, then who else carries each
         FROM certificate_names cn
         CROSS JOIN certificate_names sn ON sn.type = cn.type AND sn.value = cn.value AND sn.serial <> cn.serial
         CROSS JOIN certificates s ON s.serial = sn.serial
        WHERE c.spiffe_id IS NULL AND cn.serial = c.serial AND cn.type IN ('dns', 'ip')
          AND s.spiffe_id IS NULL AND s.issued_at >= c.issued_at
          AND s.status = 'valid' AND s.not_after > :horizon
          -- same set: as many names, and none of c's missing from s
          AND (SELECT count(*) FROM certificate_names x WHERE x.serial = s.serial AND x.type IN ('dns', 'ip'))
            = (SELECT count(*) FROM certificate_names y WHERE y.serial = c.serial AND y.type IN ('dns', 'ip'))
          AND NOT EXISTS (
            SELECT 1 FROM certificate_names y
             WHERE y.serial = c.serial AND y.type IN ('dns', 'ip')
               AND NOT EXISTS (SELECT 1 FROM certificate_names x WHERE x.serial = s.serial AND x.type = y.type AND x.value = y.value)))
     AND NOT EXISTS (
       SELECT 1 FROM certificates s
        WHERE c.spiffe_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM certificate_names y WHERE y.serial = c.serial AND y.type IN ('dns', 'ip'))
          AND s.subject = c.subject AND s.profile = c.profile AND s.spiffe_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM certificate_names x WHERE x.serial = s.serial AND x.type IN ('dns', 'ip'))
          AND s.serial <> c.serial AND s.issued_at >= c.issued_at
          AND s.status = 'valid' AND s.not_after > :horizon)`;

/** Profiles other than svid: all of them (:profiles NULL) or those listed. */
export const SELECT_EXPIRING_OTHERS = `
  SELECT ${ALERTED_COLUMNS}
    FROM certificates c
   WHERE c.profile <> 'svid' AND (:profiles IS NULL OR c.profile IN (SELECT value FROM json_each(:profiles)))
     AND ${EXPIRING_RULES}
   ORDER BY c.not_after, c.serial`;

/** SVIDs that stopped renewing (the default scope). */
export const SELECT_EXPIRING_STOPPED_SVIDS = `
  SELECT ${ALERTED_COLUMNS}
    FROM certificates c
   WHERE c.profile = 'svid' AND c.serial IN (${STOPPED_RENEWING_SERIALS_LONGER_THAN})
     AND ${EXPIRING_RULES}
   ORDER BY c.not_after, c.serial`;

/** Every SVID (a threshold whose profile list names svid). */
export const SELECT_EXPIRING_ALL_SVIDS = `
  SELECT ${ALERTED_COLUMNS}
    FROM certificates c
   WHERE c.profile = 'svid'
     AND ${EXPIRING_RULES}
   ORDER BY c.not_after, c.serial`;

const SELECT_WAITING = `
  SELECT alertId, channel, recipient, idempotencyKey, notAfter FROM (
    SELECT d.alert_id AS alertId, d.channel, d.recipient, a.idempotency_key AS idempotencyKey, c.not_after AS notAfter,
           row_number() OVER (PARTITION BY d.channel, d.recipient ORDER BY c.not_after, d.alert_id) AS place
      FROM alert_deliveries d
      JOIN alerts a ON a.id = d.alert_id
      JOIN certificates c ON c.serial = a.serial
     WHERE d.message_id IS NULL)
   WHERE place <= :perRecipient
   ORDER BY notAfter, alertId, channel, recipient
   LIMIT :limit`;

const SELECT_ALERT_PAGE = `
  SELECT a.id, a.threshold_ms AS thresholdMs, a.idempotency_key AS idempotencyKey, a.enqueued_at AS enqueuedAt,
         ${ALERTED_COLUMNS},
         CASE WHEN max(m.status = 'failed') = 1 THEN 'failed'
              WHEN max(d.alert_id IS NOT NULL AND (m.id IS NULL OR m.status = 'pending')) = 1 THEN 'pending'
              ELSE 'sent' END AS alertStatus
    FROM alerts a
    JOIN certificates c ON c.serial = a.serial
    LEFT JOIN alert_deliveries d ON d.alert_id = a.id
    LEFT JOIN alert_messages m ON m.id = d.message_id
   WHERE (:before IS NULL OR a.id < :before)
   GROUP BY a.id
  HAVING :status IS NULL OR alertStatus = :status
   ORDER BY a.id DESC
   LIMIT :take`;

const SELECT_DELIVERY_STATES = `
  SELECT d.alert_id AS alertId, d.channel, d.recipient, m.status, m.attempts, m.last_error AS lastError,
         m.next_attempt_at AS nextAttemptAt, m.sent_at AS sentAt, m.idempotency_key AS messageKey
    FROM alert_deliveries d
    LEFT JOIN alert_messages m ON m.id = d.message_id
   WHERE d.alert_id IN (SELECT value FROM json_each(:ids))
   ORDER BY d.alert_id, d.channel, d.recipient`;

interface ExpiringParams {
  readonly now: number;
  readonly horizon: number;
  readonly withinMs: number;
}

interface ExpiringOthersParams extends ExpiringParams {
  readonly profiles: string | null;
}

type ExpiringStoppedParams = ExpiringParams & StoppedRenewingParams;

interface InsertAlertParams {
  readonly serial: string;
  readonly thresholdMs: number;
  readonly key: string;
  readonly runId: number;
  readonly now: number;
}

interface InsertRunParams {
  readonly reason: string;
  readonly slot: number | null;
  readonly holder: string;
  readonly now: number;
}

interface InsertMessageParams {
  readonly channel: string;
  readonly recipient: string;
  readonly kind: string;
  readonly key: string;
  readonly runId: number;
  readonly now: number;
}

interface FailureParams {
  readonly id: number;
  readonly error: string;
  readonly next: number | null;
}

interface WaitingRow {
  readonly alertId: number;
  readonly channel: string;
  readonly recipient: string;
  readonly idempotencyKey: string;
  readonly notAfter: number;
}

interface PendingRow {
  readonly id: number;
  readonly channel: string;
  readonly recipient: string;
  readonly kind: string;
  readonly idempotencyKey: string;
  readonly attempts: number;
}

interface ItemRow extends AlertedRow {
  readonly alertId: number;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
}

interface PageRow extends AlertedRow {
  readonly id: number;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
  readonly enqueuedAt: number;
  readonly alertStatus: string;
}

interface DeliveryStateRow {
  readonly alertId: number;
  readonly channel: string;
  readonly recipient: string;
  readonly status: string | null;
  readonly attempts: number | null;
  readonly lastError: string | null;
  readonly nextAttemptAt: number | null;
  readonly sentAt: number | null;
  readonly messageKey: string | null;
}

/** A value made on first use; statements are lazy so a ledger at an older schema version still constructs. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

/** Long error texts (an HTML error page) are cut; the log has the rest. */
const MAX_ERROR_CHARS = 500;
const MAX_KEY_CHARS = 200;

/**
 * The alert outbox (alert_runs, alerts, alert_deliveries, alert_messages).
 * Writes that decide what is or was sent are durable (synchronous=FULL):
 * an enqueue or a "sent" mark lost to a power cut would resend or forget.
 */
export class AlertOutboxRepository {
  private readonly durable: DurableWrites;

  private readonly selectExpiringOthers = lazy(() => this.db.prepare<[ExpiringOthersParams], AlertedRow>(SELECT_EXPIRING_OTHERS));
  private readonly selectExpiringStoppedSvids = lazy(() => this.db.prepare<[ExpiringStoppedParams], AlertedRow>(SELECT_EXPIRING_STOPPED_SVIDS));
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
  private readonly selectSlotTaken = lazy(() =>
    this.db.prepare<[number], number>('SELECT 1 FROM alert_runs WHERE slot = ?').pluck(),
  );
  private readonly insertRun = lazy(() =>
    this.db
      .prepare<[InsertRunParams], number>(
        `INSERT INTO alert_runs (reason, slot, holder, started_at) VALUES (:reason, :slot, :holder, :now) RETURNING id`,
      )
      .pluck(),
  );
  private readonly updateRunFinished = lazy(() =>
    this.db.prepare<[number, number, number]>(
      'UPDATE alert_runs SET finished_at = ?, enqueued = ? WHERE id = ? AND finished_at IS NULL',
    ),
  );
  private readonly selectWaiting = lazy(() =>
    this.db.prepare<[{ perRecipient: number; limit: number }], WaitingRow>(SELECT_WAITING),
  );
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
    this.db.prepare<[{ before: number | null; status: string | null; take: number }], PageRow>(SELECT_ALERT_PAGE),
  );
  private readonly selectDeliveryStates = lazy(() =>
    this.db.prepare<[{ ids: string }], DeliveryStateRow>(SELECT_DELIVERY_STATES),
  );

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
      // Tightest first: a certificate found at 7d is then no longer new at 30d in the same run.
      const thresholds = [...request.thresholds].sort((a, b) => a.withinMs - b.withinMs);
      for (const threshold of thresholds) {
        const rows = this.expiringRows(request.now, threshold);
        for (const row of rows) {
          const key = request.keyFor(row.serial, threshold.withinMs);
          if (key.length === 0 || key.length > MAX_KEY_CHARS) throw new DomainError('malformed', `idempotency key for ${row.serial} is empty or too long`);
          const id = this.insertAlert().get({ serial: row.serial, thresholdMs: threshold.withinMs, key, runId: request.runId, now: request.now });
          if (id === undefined) continue;
          for (const target of request.targets) this.insertDelivery().run(id, target.channel, target.recipient);
          enqueued.push({ ...toAlertedCertificate(row), id, thresholdMs: threshold.withinMs, idempotencyKey: key, enqueuedAt: request.now });
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
    checkTime(request.now, 'now');
    if (request.holder === '') throw new DomainError('malformed', 'a run has a holder');
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
    checkTime(request.now, 'now');
    for (const threshold of request.thresholds) {
      if (!Number.isSafeInteger(threshold.withinMs) || threshold.withinMs <= 0) {
        throw new DomainError('malformed', 'a threshold is a positive number of milliseconds');
      }
      if (threshold.profiles !== null && !threshold.profiles.every((p) => isProfileName(p))) {
        throw new DomainError('malformed', 'a threshold names known profiles');
      }
    }
    return this.durable.run(this.enqueueTransaction, request);
  }

  /** Deliveries held back so far, most urgent first, capped per recipient and in all. */
  waitingDeliveries(query: WaitingQuery): WaitingDelivery[] {
    return this.selectWaiting()
      .all({ perRecipient: query.perRecipient, limit: query.limit })
      .map((row) => ({ ...row, channel: checkChannel(row.channel, `alert ${row.alertId}`) }));
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

  /** Pending messages whose next attempt is due, oldest due first. */
  /** Pending messages due by `now`, oldest due first; only `channel`'s when given (each channel is its own delivery lane). */
  dueMessages(now: number, limit: number, channel?: AlertChannel): PendingMessage[] {
    return this.selectDue()
      .all({ now, limit, channel: channel ?? null })
      .map((row) => {
        if (!isMessageKind(row.kind)) throw new Error(`alert message ${row.id}: unknown stored kind '${row.kind}'`);
        return { ...row, channel: checkChannel(row.channel, `alert message ${row.id}`), kind: row.kind };
      });
  }

  /** When the earliest pending message is due, or null when none is pending. */
  nextAttemptAt(): number | null {
    return this.selectNextAttempt().get() ?? null;
  }

  /** The certificates a message reports on, most urgent first. */
  messageItems(messageId: number): MessageItem[] {
    return this.selectItems()
      .all(messageId)
      .map((row) => ({ ...toAlertedCertificate(row), alertId: row.alertId, thresholdMs: row.thresholdMs, idempotencyKey: row.idempotencyKey }));
  }

  /** Durable: a lost "sent" would only resend (with the same key), but a lost mark repeats work on every start. */
  markSent(messageId: number, now: number): void {
    checkTime(now, 'now');
    this.durable.run(this.db.transaction(() => this.updateSent().run(now, messageId)));
  }

  /** Counts a failed attempt; `nextAttemptAt` null gives up (status failed). */
  recordFailure(messageId: number, error: string, nextAttemptAt: number | null): void {
    if (nextAttemptAt !== null) checkTime(nextAttemptAt, 'nextAttemptAt');
    const params: FailureParams = { id: messageId, error: error.slice(0, MAX_ERROR_CHARS), next: nextAttemptAt };
    this.durable.run(this.db.transaction(() => this.updateFailure().run(params)));
  }

  /** Alerts newest first with their deliveries; `status` filters on the alert's overall status. */
  list(query: AlertQuery = {}): AlertPage {
    const take = checkPageLimit(query.limit);
    const before = query.cursor === undefined ? null : decodeAlertCursor(query.cursor);
    if (query.status !== undefined && !isAlertStatus(query.status)) throw new DomainError('malformed', 'status is pending, sent or failed');
    const rows = this.selectPage().all({ before, status: query.status ?? null, take: take + 1 });
    const page = rows.slice(0, take);
    const states = new Map<number, AlertDeliveryState[]>();
    if (page.length > 0) {
      for (const row of this.selectDeliveryStates().all({ ids: JSON.stringify(page.map((r) => r.id)) })) {
        const list = states.get(row.alertId) ?? [];
        list.push(toDeliveryState(row));
        states.set(row.alertId, list);
      }
    }
    const items = page.map((row): AlertSummary => {
      const deliveries = states.get(row.id) ?? [];
      const status = row.alertStatus;
      if (!isAlertStatus(status)) throw new Error(`alert ${row.id}: computed status '${status}'`);
      const unsent = deliveries.filter((d) => d.status !== 'sent' && d.lastError !== null);
      return {
        id: row.id,
        serial: row.serial,
        thresholdMs: row.thresholdMs,
        idempotencyKey: row.idempotencyKey,
        enqueuedAt: row.enqueuedAt,
        certificate: toAlertedCertificate(row),
        status,
        attempts: deliveries.reduce((max, d) => Math.max(max, d.attempts), 0),
        lastError: unsent[0]?.lastError ?? deliveries.find((d) => d.lastError !== null)?.lastError ?? null,
        deliveries,
      };
    });
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > take && last !== undefined ? String(last.id) : null };
  }

  /** The candidates of one threshold, in (notAfter, serial) order: one statement per part of its scope. */
  private expiringRows(now: number, threshold: ExpiryThresholdSpec): AlertedRow[] {
    const base = { now, horizon: now + threshold.withinMs, withinMs: threshold.withinMs };
    const { profiles } = threshold;
    const rows = this.selectExpiringOthers().all({ ...base, profiles: profiles === null ? null : JSON.stringify(profiles) });
    if (profiles === null) rows.push(...this.selectExpiringStoppedSvids().all({ ...base, ...stoppedRenewingParams(now) }));
    else if (profiles.includes('svid')) rows.push(...this.selectExpiringAllSvids().all(base));
    return rows.sort((a, b) => a.notAfter - b.notAfter || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  }
}

function toDeliveryState(row: DeliveryStateRow): AlertDeliveryState {
  const status: AlertStatus = row.status === null ? 'pending' : checkStatus(row.status, row.alertId);
  return {
    channel: checkChannel(row.channel, `alert ${row.alertId}`),
    recipient: row.recipient,
    status,
    attempts: row.attempts ?? 0,
    lastError: row.lastError,
    nextAttemptAt: row.nextAttemptAt,
    sentAt: row.sentAt,
    messageKey: row.messageKey,
  };
}

function checkStatus(value: string, alertId: number): AlertStatus {
  if (!isAlertStatus(value)) throw new Error(`alert ${alertId}: unknown stored message status '${value}'`);
  return value;
}
