-- 0009 (PostgreSQL): the indexes retention (src/ledger/postgres/retention.ts) uses, as
-- migrations/0008_retention.sql: each pruning batch finds its oldest rows by index, and
-- deleting a parent row finds its referencing rows by index instead of a scan.
CREATE INDEX certificates_revoked_by_not_after ON certificates (not_after, serial) WHERE status = 'revoked';
CREATE INDEX acme_orders_by_expiry ON acme_orders (expires_at, id);
CREATE INDEX acme_authorizations_by_expiry ON acme_authorizations (expires_at, id);
CREATE INDEX join_tokens_by_expiry ON join_tokens (expires_at, token_hash);
CREATE INDEX join_tokens_by_used_serial ON join_tokens (used_by_serial);
CREATE INDEX alert_messages_sent_by_sent_at ON alert_messages (sent_at, id) WHERE status = 'sent';
CREATE INDEX alert_messages_by_run ON alert_messages (run_id);
