import { ALERTED_COLUMNS } from './alert-rows.js';
import type { StoppedRenewingParams } from './attention.js';

/**
 * The SQLite alert outbox's longer statements and the named parameters each
 * takes (alert-outbox.ts runs them; postgres/alert-outbox-sql.ts is the
 * PostgreSQL twin). The detection statements are in alert-expiring-sql.ts.
 */

export const SELECT_WAITING = `
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

export const SELECT_ALERT_PAGE = `
  SELECT a.id, a.threshold_ms AS thresholdMs, a.idempotency_key AS idempotencyKey, a.enqueued_at AS enqueuedAt,
         ${ALERTED_COLUMNS},
         CASE WHEN max(m.status = 'failed') = 1 THEN 'failed'
              WHEN max(d.alert_id IS NOT NULL AND (m.id IS NULL OR m.status = 'pending')) = 1 THEN 'pending'
              ELSE 'sent' END AS alertStatus
    FROM alerts a
    JOIN certificates c ON c.serial = a.serial
    LEFT JOIN alert_deliveries d ON d.alert_id = a.id
    LEFT JOIN alert_messages m ON m.id = d.message_id
   WHERE (:before IS NULL OR a.id < :before) AND (:serial IS NULL OR a.serial = :serial)
   GROUP BY a.id
  HAVING :status IS NULL OR alertStatus = :status
   ORDER BY a.id DESC
   LIMIT :take`;

export const SELECT_DELIVERY_STATES = `
  SELECT d.alert_id AS alertId, d.channel, d.recipient, m.status, m.attempts, m.last_error AS lastError,
         m.next_attempt_at AS nextAttemptAt, m.sent_at AS sentAt, m.idempotency_key AS messageKey
    FROM alert_deliveries d
    LEFT JOIN alert_messages m ON m.id = d.message_id
   WHERE d.alert_id IN (SELECT value FROM json_each(:ids))
   ORDER BY d.alert_id, d.channel, d.recipient`;

export interface ExpiringParams {
  readonly now: number;
  readonly horizon: number;
  readonly withinMs: number;
}

export interface ExpiringOthersParams extends ExpiringParams {
  readonly profiles: string | null;
}

export type ExpiringStoppedParams = ExpiringParams & StoppedRenewingParams;

export interface InsertAlertParams {
  readonly serial: string;
  readonly thresholdMs: number;
  readonly key: string;
  readonly runId: number;
  readonly now: number;
}

export interface InsertRunParams {
  readonly reason: string;
  readonly slot: number | null;
  readonly holder: string;
  readonly now: number;
}

export interface InsertMessageParams {
  readonly channel: string;
  readonly recipient: string;
  readonly kind: string;
  readonly key: string;
  readonly runId: number;
  readonly now: number;
}

export interface FailureParams {
  readonly id: number;
  readonly error: string;
  readonly next: number | null;
}
