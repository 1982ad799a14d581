-- 0009: indexes for retention (src/ledger/retention.ts), which deletes rows that
-- stopped mattering a configurable period ago, in batches ordered by their expiry.
-- Each index lets one pruning batch find its oldest rows, or lets SQLite check a
-- foreign key when a parent row goes (SQLite looks the child rows up by index, or
-- scans the child table once per deleted parent). No table grows from this
-- migration; the indexes are as large as the rows retention keeps:
--   certificates_revoked_by_not_after  revoked certificates by notAfter (rare rows; the
--                                      valid ones already have certificates_valid_by_not_after)
--   acme_orders_by_expiry, acme_authorizations_by_expiry, join_tokens_by_expiry
--   join_tokens_by_used_serial          the foreign key check when a certificate goes
--   alert_messages_sent_by_sent_at      delivered messages by delivery time
--   alert_messages_by_run              the foreign key check when a run goes (alert_deliveries_by_message serves a message's)
CREATE INDEX certificates_revoked_by_not_after ON certificates (not_after, serial) WHERE status = 'revoked';
CREATE INDEX acme_orders_by_expiry ON acme_orders (expires_at, id);
CREATE INDEX acme_authorizations_by_expiry ON acme_authorizations (expires_at, id);
CREATE INDEX join_tokens_by_expiry ON join_tokens (expires_at, token_hash);
CREATE INDEX join_tokens_by_used_serial ON join_tokens (used_by_serial);
CREATE INDEX alert_messages_sent_by_sent_at ON alert_messages (sent_at, id) WHERE status = 'sent';
CREATE INDEX alert_messages_by_run ON alert_messages (run_id);
