import type { SubjectAltName } from '../shared/records.js';
import { isProfileName } from './certificate-rows.js';
import type { AlertChannel, AlertedCertificate, AlertMessageKind, AlertRunReason, AlertStatus, DeliveryTarget, ExpiryThreshold } from '../shared/alert-records.js';
import { badCursor } from './paging.js';

export type {
  AlertChannel,
  AlertedCertificate,
  AlertMessageKind,
  AlertRunReason,
  AlertStatus,
  DeliveryTarget,
  EnqueuedAlert,
  ExpiryThreshold,
  MessageItem,
  NewAlertMessage,
  PendingMessage,
  WaitingDelivery,
} from '../shared/alert-records.js';

/**
 * The vocabulary of the alert outbox (migrations/0002_alerts.sql) and the
 * translation of its rows. The shapes src/alerts also uses live in
 * src/shared/alert-records.ts.
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
  /** 1..500, default 100. */
  readonly limit?: number;
  readonly cursor?: string;
}

export interface AlertPage {
  readonly items: readonly AlertSummary[];
  readonly nextCursor: string | null;
}

/** Columns of a certificate as alerts report it; `c` is the certificates alias. */
export const ALERTED_COLUMNS = `
  c.serial, c.subject, c.spiffe_id AS spiffeId, c.sans, c.profile, c.requester,
  c.not_before AS notBefore, c.not_after AS notAfter`;

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
  for (const entry of parsed) {
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

