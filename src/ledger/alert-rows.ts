import type { SubjectAltName } from '../domain/certificates.js';
import { DomainError } from '../shared/errors.js';
import { checkSerial, checkTime, isProfileName } from './certificate-rows.js';
import type {
  AlertChannel,
  AlertedCertificate,
  AlertMessageKind,
  AlertRunReason,
  AlertStatus,
  DeliveryTarget,
  EnqueuedAlert,
  ExpiryThreshold,
  MessageItem,
  PendingMessage,
  WaitingDelivery,
} from '../domain/alerts.js';
import { badCursor } from './paging.js';

/**
 * The vocabulary of the alert outbox (migrations/0002_alerts.sql), the
 * checks of what is written and the translation of what is read: shared by
 * the SQLite (alert-outbox.ts) and PostgreSQL (postgres/alert-outbox.ts)
 * outboxes, whose statements return rows of the shapes below. The shapes
 * src/alerts also uses live in src/domain/alerts.ts.
 */

export const ALERT_STATUSES: readonly AlertStatus[] = ['pending', 'sent', 'failed'];

/** Kept under the ledger's name for its callers. */
export type ExpiryThresholdSpec = ExpiryThreshold;

export interface StartRunRequest {
  readonly reason: AlertRunReason;
  /** The cron slot (ms) of a scheduled run; a second claim of the same slot is refused. */
  readonly slot?: number;
  readonly holder: string;
  readonly now: number;
  /** Catch-up: start only when no run has finished at or after this time. */
  readonly unlessFinishedSince?: number;
}

export interface EnqueueRequest {
  readonly runId: number;
  readonly now: number;
  /** Processed from the tightest up: a certificate already alerted at a tighter one is not alerted at a wider one. */
  readonly thresholds: readonly ExpiryThresholdSpec[];
  readonly targets: readonly DeliveryTarget[];
  readonly keyFor: (serial: string, thresholdMs: number) => string;
}

export interface WaitingQuery {
  /** At most this many per (channel, recipient). */
  readonly perRecipient: number;
  /** At most this many in all. */
  readonly limit: number;
}

export interface AlertDeliveryState {
  readonly channel: AlertChannel;
  readonly recipient: string;
  /** 'pending' also while held back by a cap (no message yet). */
  readonly status: AlertStatus;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: number | null;
  readonly sentAt: number | null;
  /** The message's key: the alert's own, or a digest's. Null while held back. */
  readonly messageKey: string | null;
}

export interface AlertSummary {
  readonly id: number;
  readonly serial: string;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
  readonly enqueuedAt: number;
  readonly certificate: AlertedCertificate;
  /** failed if any delivery failed, else pending if any is pending, else sent (also when only logged). */
  readonly status: AlertStatus;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly deliveries: readonly AlertDeliveryState[];
}

export interface AlertQuery {
  readonly status?: AlertStatus;
  /** Only alerts about this certificate (lowercase hex): its alert history. */
  readonly serial?: string;
  /** 1..500, default 100. */
  readonly limit?: number;
  readonly cursor?: string;
}

export interface AlertPage {
  readonly items: readonly AlertSummary[];
  readonly nextCursor: string | null;
}

/** The outbox by state (the metric keysmith_alert_outbox_depth): deliveries not yet in a message, pending and failed messages. */
export interface OutboxDepth {
  readonly waiting: number;
  readonly pending: number;
  readonly failed: number;
}

/**
 * One statement on both backends (CAST: PostgreSQL's count is a bigint, which
 * node-postgres hands over as a string). The partial indexes
 * alert_deliveries_waiting and alert_messages_due answer the first two;
 * failed messages are few (one per message given up).
 */
export const SELECT_OUTBOX_DEPTH = `
  SELECT CAST((SELECT count(*) FROM alert_deliveries WHERE message_id IS NULL) AS INTEGER) AS waiting,
         CAST((SELECT count(*) FROM alert_messages WHERE status = 'pending') AS INTEGER) AS pending,
         CAST((SELECT count(*) FROM alert_messages WHERE status = 'failed') AS INTEGER) AS failed`;

export function toOutboxDepth(row: OutboxDepth | undefined): OutboxDepth {
  if (row === undefined) throw new Error('the outbox depth query returned no row');
  return { waiting: Number(row.waiting), pending: Number(row.pending), failed: Number(row.failed) };
}

/** Columns of a certificate as alerts report it; `c` is the certificates alias. Quoted aliases: PostgreSQL folds bare ones to lower case. */
export const ALERTED_COLUMNS = `
  c.serial, c.subject, c.spiffe_id AS "spiffeId", c.sans, c.profile, c.requester,
  c.not_before AS "notBefore", c.not_after AS "notAfter"`;

export interface AlertedRow {
  readonly serial: string;
  readonly subject: string;
  readonly spiffeId: string | null;
  readonly sans: string;
  readonly profile: string;
  readonly requester: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

function namesOfType(sans: string, type: SubjectAltName['type'], serial: string): string[] {
  const parsed: unknown = JSON.parse(sans);
  if (!Array.isArray(parsed)) throw new Error(`certificate ${serial}: sans is not a JSON array`);
  const names: string[] = [];
  for (const entry of parsed as unknown[]) {
    if (typeof entry === 'object' && entry !== null && 'type' in entry && 'value' in entry) {
      if (entry.type === type && typeof entry.value === 'string') names.push(entry.value);
    }
  }
  return names;
}

export function toAlertedCertificate(row: AlertedRow): AlertedCertificate {
  if (!isProfileName(row.profile)) throw new Error(`certificate ${row.serial}: unknown stored profile '${row.profile}'`);
  return {
    serial: row.serial,
    subject: row.subject,
    spiffeId: row.spiffeId,
    dnsNames: namesOfType(row.sans, 'dns', row.serial),
    ipAddresses: namesOfType(row.sans, 'ip', row.serial),
    profile: row.profile,
    requester: row.requester,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
  };
}

export function isAlertChannel(value: string): value is AlertChannel {
  return value === 'webhook' || value === 'mail';
}

export function isAlertStatus(value: string): value is AlertStatus {
  return value === 'pending' || value === 'sent' || value === 'failed';
}

export function isMessageKind(value: string): value is AlertMessageKind {
  return value === 'single' || value === 'digest';
}

export function checkChannel(value: string, where: string): AlertChannel {
  if (!isAlertChannel(value)) throw new Error(`${where}: unknown stored channel '${value}'`);
  return value;
}

/** Alerts are listed newest first; the cursor is the id of the last one served. */
export function decodeAlertCursor(cursor: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(cursor)) throw badCursor();
  return Number(cursor);
}

/** Long error texts (an HTML error page) are cut; the log has the rest. */
export const MAX_ERROR_CHARS = 500;
const MAX_KEY_CHARS = 200;

export function trimError(error: string): string {
  return error.slice(0, MAX_ERROR_CHARS);
}

export function checkStartRun(request: StartRunRequest): void {
  checkTime(request.now, 'now');
  if (request.holder === '') throw new DomainError('malformed', 'a run has a holder');
}

export function checkEnqueueRequest(request: EnqueueRequest): void {
  checkTime(request.now, 'now');
  for (const threshold of request.thresholds) {
    if (!Number.isSafeInteger(threshold.withinMs) || threshold.withinMs <= 0) {
      throw new DomainError('malformed', 'a threshold is a positive number of milliseconds');
    }
    if (threshold.profiles !== null && !threshold.profiles.every((p) => isProfileName(p))) {
      throw new DomainError('malformed', 'a threshold names known profiles');
    }
  }
}

/** Tightest first: a certificate found at 7d is then no longer new at 30d in the same run. */
export function tightestFirst(thresholds: readonly ExpiryThresholdSpec[]): ExpiryThresholdSpec[] {
  return [...thresholds].sort((a, b) => a.withinMs - b.withinMs);
}

/** The caller's key for one alert, checked against the column's bounds. */
export function checkedAlertKey(request: EnqueueRequest, serial: string, thresholdMs: number): string {
  const key = request.keyFor(serial, thresholdMs);
  if (key.length === 0 || key.length > MAX_KEY_CHARS)
    throw new DomainError('malformed', `idempotency key for ${serial} is empty or too long`);
  return key;
}

/** Candidates in (notAfter, serial) order, as one threshold's statements return them together. */
export function byNotAfterThenSerial(a: AlertedRow, b: AlertedRow): number {
  return a.notAfter - b.notAfter || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);
}

export function toEnqueuedAlert(
  row: AlertedRow,
  id: number,
  thresholdMs: number,
  idempotencyKey: string,
  enqueuedAt: number,
): EnqueuedAlert {
  return { ...toAlertedCertificate(row), id, thresholdMs, idempotencyKey, enqueuedAt };
}

export interface WaitingRow {
  readonly alertId: number;
  readonly channel: string;
  readonly recipient: string;
  readonly idempotencyKey: string;
  readonly notAfter: number;
}

export function toWaitingDelivery(row: WaitingRow): WaitingDelivery {
  return { ...row, channel: checkChannel(row.channel, `alert ${row.alertId}`) };
}

export interface PendingRow {
  readonly id: number;
  readonly channel: string;
  readonly recipient: string;
  readonly kind: string;
  readonly idempotencyKey: string;
  readonly attempts: number;
}

export function toPendingMessage(row: PendingRow): PendingMessage {
  if (!isMessageKind(row.kind)) throw new Error(`alert message ${row.id}: unknown stored kind '${row.kind}'`);
  return { ...row, channel: checkChannel(row.channel, `alert message ${row.id}`), kind: row.kind };
}

export interface ItemRow extends AlertedRow {
  readonly alertId: number;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
}

export function toMessageItem(row: ItemRow): MessageItem {
  return { ...toAlertedCertificate(row), alertId: row.alertId, thresholdMs: row.thresholdMs, idempotencyKey: row.idempotencyKey };
}

export interface PageRow extends AlertedRow {
  readonly id: number;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
  readonly enqueuedAt: number;
  readonly alertStatus: string;
}

export interface DeliveryStateRow {
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

/** The page's bounds from a query, checked: rows to fetch (one more than the page, to know if another follows) and the cursor. */
export function alertPageBounds(
  query: AlertQuery,
  take: number,
): { readonly before: number | null; readonly status: AlertStatus | null; readonly serial: string | null; readonly fetch: number } {
  const before = query.cursor === undefined ? null : decodeAlertCursor(query.cursor);
  if (query.status !== undefined && !isAlertStatus(query.status)) throw new DomainError('malformed', 'status is pending, sent or failed');
  if (query.serial !== undefined) checkSerial(query.serial);
  return { before, status: query.status ?? null, serial: query.serial ?? null, fetch: take + 1 };
}

/** A page of alerts from its rows (`take` + 1 fetched) and the delivery states of those on the page. */
export function toAlertPage(rows: readonly PageRow[], take: number, stateRows: readonly DeliveryStateRow[]): AlertPage {
  const page = rows.slice(0, take);
  const states = new Map<number, AlertDeliveryState[]>();
  for (const row of stateRows) {
    const list = states.get(row.alertId) ?? [];
    list.push(toDeliveryState(row));
    states.set(row.alertId, list);
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

function toDeliveryState(row: DeliveryStateRow): AlertDeliveryState {
  let status: AlertStatus = 'pending';
  if (row.status !== null) {
    if (!isAlertStatus(row.status)) throw new Error(`alert ${row.alertId}: unknown stored message status '${row.status}'`);
    status = row.status;
  }
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
