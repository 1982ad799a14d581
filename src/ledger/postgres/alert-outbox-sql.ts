import { ALERTED_COLUMNS } from '../alert-rows.js';

/**
 * The PostgreSQL alert outbox's statements other than detection (which both
 * backends share: alert-expiring-sql.ts). They say what the SQLite ones in
 * ../alert-outbox.ts say, in PostgreSQL's terms: positional parameters with
 * their types, quoted camelCase aliases (bare ones fold to lower case),
 * bool_or for SQLite's max() over booleans, arrays for json_each, and
 * COLLATE "C" where text orders rows, so both backends order them bytewise.
 */

export const SELECT_LAST_FINISHED_START = 'SELECT max(started_at) AS "startedAt" FROM alert_runs WHERE finished_at IS NOT NULL';

/** The UNIQUE slot decides which node runs a cron tick: a second claim inserts nothing and returns no id. */
export const INSERT_RUN = `
  INSERT INTO alert_runs (reason, slot, holder, started_at) VALUES ($1, $2::bigint, $3, $4::bigint)
  ON CONFLICT (slot) DO NOTHING
  RETURNING id`;

export const UPDATE_RUN_FINISHED = `
  UPDATE alert_runs SET finished_at = $1::bigint, enqueued = $2::bigint WHERE id = $3::bigint AND finished_at IS NULL`;

/** Both unique keys (serial and threshold; idempotency key) make a second enqueue a no-op. */
export const INSERT_ALERT = `
  INSERT INTO alerts (serial, threshold_ms, idempotency_key, run_id, enqueued_at)
  VALUES ($1, $2::bigint, $3, $4::bigint, $5::bigint)
  ON CONFLICT DO NOTHING
  RETURNING id`;

/** One waiting delivery per target, all in one statement. */
export const INSERT_DELIVERIES = `
  INSERT INTO alert_deliveries (alert_id, channel, recipient)
  SELECT $1::bigint, target.channel, target.recipient FROM unnest($2::text[], $3::text[]) AS target (channel, recipient)
  ON CONFLICT DO NOTHING`;

export const SELECT_WAITING = `
  SELECT "alertId", channel, recipient, "idempotencyKey", "notAfter" FROM (
    SELECT d.alert_id AS "alertId", d.channel, d.recipient, a.idempotency_key AS "idempotencyKey", c.not_after AS "notAfter",
           row_number() OVER (PARTITION BY d.channel, d.recipient ORDER BY c.not_after, d.alert_id) AS place
      FROM alert_deliveries d
      JOIN alerts a ON a.id = d.alert_id
      JOIN certificates c ON c.serial = a.serial
     WHERE d.message_id IS NULL) waiting
   WHERE place <= $1::bigint
   ORDER BY "notAfter", "alertId", channel COLLATE "C", recipient COLLATE "C"
   LIMIT $2::bigint`;

export const INSERT_MESSAGE = `
  INSERT INTO alert_messages (channel, recipient, kind, idempotency_key, run_id, next_attempt_at, created_at)
  VALUES ($1, $2, $3, $4, $5::bigint, $6::bigint, $6::bigint)
  RETURNING id`;

export const ASSIGN_DELIVERY = `
  UPDATE alert_deliveries SET message_id = $1::bigint
   WHERE alert_id = $2::bigint AND channel = $3 AND recipient = $4 AND message_id IS NULL`;

export const SELECT_DUE = `
  SELECT id, channel, recipient, kind, idempotency_key AS "idempotencyKey", attempts
    FROM alert_messages
   WHERE status = 'pending' AND next_attempt_at <= $1::bigint AND ($3::text IS NULL OR channel = $3::text)
   ORDER BY next_attempt_at, id
   LIMIT $2::bigint`;

export const SELECT_NEXT_ATTEMPT = `SELECT min(next_attempt_at) AS "nextAttemptAt" FROM alert_messages WHERE status = 'pending'`;

export const SELECT_ITEMS = `
  SELECT a.id AS "alertId", a.threshold_ms AS "thresholdMs", a.idempotency_key AS "idempotencyKey", ${ALERTED_COLUMNS}
    FROM alert_deliveries d
    JOIN alerts a ON a.id = d.alert_id
    JOIN certificates c ON c.serial = a.serial
   WHERE d.message_id = $1::bigint
   ORDER BY c.not_after, a.id`;

export const UPDATE_SENT = `
  UPDATE alert_messages SET status = 'sent', sent_at = $1::bigint, attempts = attempts + 1, next_attempt_at = NULL
   WHERE id = $2::bigint AND status = 'pending'`;

/** $3 null gives up: status failed. */
export const UPDATE_FAILURE = `
  UPDATE alert_messages
     SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3::bigint,
         status = CASE WHEN $3::bigint IS NULL THEN 'failed' ELSE 'pending' END
   WHERE id = $1::bigint AND status = 'pending'`;

/** GROUP BY both keys: PostgreSQL then takes a's and c's other columns as functionally dependent. */
export const SELECT_ALERT_PAGE = `
  SELECT * FROM (
    SELECT a.id, a.threshold_ms AS "thresholdMs", a.idempotency_key AS "idempotencyKey", a.enqueued_at AS "enqueuedAt",
           ${ALERTED_COLUMNS},
           CASE WHEN bool_or(m.status = 'failed') THEN 'failed'
                WHEN bool_or(d.alert_id IS NOT NULL AND (m.id IS NULL OR m.status = 'pending')) THEN 'pending'
                ELSE 'sent' END AS "alertStatus"
      FROM alerts a
      JOIN certificates c ON c.serial = a.serial
      LEFT JOIN alert_deliveries d ON d.alert_id = a.id
      LEFT JOIN alert_messages m ON m.id = d.message_id
     WHERE ($1::bigint IS NULL OR a.id < $1::bigint) AND ($4::text IS NULL OR a.serial = $4::text)
     GROUP BY a.id, c.serial) summary
   WHERE ($2::text IS NULL OR "alertStatus" = $2::text)
   ORDER BY id DESC
   LIMIT $3::bigint`;

export const SELECT_DELIVERY_STATES = `
  SELECT d.alert_id AS "alertId", d.channel, d.recipient, m.status, m.attempts, m.last_error AS "lastError",
         m.next_attempt_at AS "nextAttemptAt", m.sent_at AS "sentAt", m.idempotency_key AS "messageKey"
    FROM alert_deliveries d
    LEFT JOIN alert_messages m ON m.id = d.message_id
   WHERE d.alert_id = ANY($1::bigint[])
   ORDER BY d.alert_id, d.channel COLLATE "C", d.recipient COLLATE "C"`;
