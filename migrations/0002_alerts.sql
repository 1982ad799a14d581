-- 0002: expiry alerts. Detection writes one row into `alerts` per (certificate, threshold),
-- in the transaction that found it; the unique key makes a second enqueue impossible.
-- `alert_deliveries` says which channel and recipient each alert must reach;
-- a run groups waiting deliveries into `alert_messages` (one per certificate, or one
-- digest per recipient), the unit that is sent, retried and marked. Delivery may resend a
-- message after a crash between send and mark; its idempotency_key never changes.
--
-- Growth: one alert per long-lived certificate per threshold (short-lived SVIDs never
-- qualify), so thousands a year, not millions; nothing here is pruned yet. `leases` holds
-- one row per named lease; `alert_runs` one row per run (a few a day).

-- Detection walks the valid rows by notAfter and drops those whose lifetime (not_after -
-- issued_at) is not longer than the threshold. With issued_at in the index that test needs no
-- table row (SQLite defers the row lookup until a row passes), so a million live 1-hour SVIDs
-- inside the window cost an index scan instead of a million row reads (4x faster, bench/alerts).
-- Same name and leading columns: the (not_after, serial) keyset order of listings is unchanged.
-- Rebuilding it is a one-time cost at the upgrade, a few seconds per million valid rows.
DROP INDEX certificates_valid_by_not_after;
CREATE INDEX certificates_valid_by_not_after ON certificates (not_after, serial, issued_at) WHERE status = 'valid';

-- "Only one process does this now": holder and expiry in ms; a holder renews before it expires.
CREATE TABLE leases (
  name       TEXT    NOT NULL PRIMARY KEY CHECK (length(name) > 0),
  holder     TEXT    NOT NULL CHECK (length(holder) > 0),
  expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE alert_runs (
  id          INTEGER PRIMARY KEY,
  reason      TEXT    NOT NULL CHECK (reason IN ('schedule', 'catch-up', 'manual')),
  -- the cron slot (ms) of a scheduled run: unique, so one process runs a given tick
  slot        INTEGER UNIQUE,
  holder      TEXT    NOT NULL,
  started_at  INTEGER NOT NULL,
  -- set once detection and message forming committed; the catch-up looks at the last one
  finished_at INTEGER,
  enqueued    INTEGER NOT NULL DEFAULT 0 CHECK (enqueued >= 0),
  CHECK ((reason = 'schedule') = (slot IS NOT NULL))
) STRICT;

-- "When did the last finished run start": the catch-up at start-up.
CREATE INDEX alert_runs_finished_by_start ON alert_runs (started_at) WHERE finished_at IS NOT NULL;

CREATE TABLE alerts (
  id              INTEGER PRIMARY KEY,
  serial          TEXT    NOT NULL REFERENCES certificates (serial) ON DELETE CASCADE,
  threshold_ms    INTEGER NOT NULL CHECK (threshold_ms > 0),
  -- carried by every delivery of this alert, so a receiver can drop a duplicate
  idempotency_key TEXT    NOT NULL UNIQUE CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  run_id          INTEGER NOT NULL REFERENCES alert_runs (id),
  enqueued_at     INTEGER NOT NULL,
  UNIQUE (serial, threshold_ms)
) STRICT;

CREATE INDEX alerts_by_run ON alerts (run_id);

CREATE TABLE alert_messages (
  id              INTEGER PRIMARY KEY,
  channel         TEXT    NOT NULL CHECK (channel IN ('webhook', 'mail')),
  recipient       TEXT    NOT NULL CHECK (length(recipient) > 0),
  kind            TEXT    NOT NULL CHECK (kind IN ('single', 'digest')),
  idempotency_key TEXT    NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
  run_id          INTEGER NOT NULL REFERENCES alert_runs (id),
  status          TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at INTEGER,
  last_error      TEXT,
  created_at      INTEGER NOT NULL,
  sent_at         INTEGER,
  UNIQUE (channel, recipient, idempotency_key),
  -- due exactly while pending; sent exactly when sent_at is set
  CHECK ((status = 'pending') = (next_attempt_at IS NOT NULL)),
  CHECK ((status = 'sent') = (sent_at IS NOT NULL))
) STRICT;

-- Delivery passes ask "which pending messages are due now".
CREATE INDEX alert_messages_due ON alert_messages (next_attempt_at, id) WHERE status = 'pending';

CREATE TABLE alert_deliveries (
  alert_id   INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
  channel    TEXT    NOT NULL CHECK (channel IN ('webhook', 'mail')),
  recipient  TEXT    NOT NULL CHECK (length(recipient) > 0),
  -- NULL while held back (not yet in a message): the next run picks it up
  message_id INTEGER REFERENCES alert_messages (id),
  PRIMARY KEY (alert_id, channel, recipient)
) STRICT, WITHOUT ROWID;

CREATE INDEX alert_deliveries_waiting ON alert_deliveries (channel, recipient) WHERE message_id IS NULL;
CREATE INDEX alert_deliveries_by_message ON alert_deliveries (message_id) WHERE message_id IS NOT NULL;
