-- 0008 (PostgreSQL): as migrations/0008_cli.sql. join_tokens gains `id` (a random public
-- name, 'jt-' and 18 hex digits; existing rows get one from gen_random_uuid, core since
-- PostgreSQL 13) and `revoked_at`; acme_eab_keys gains `revoked_at`.

ALTER TABLE join_tokens ADD COLUMN id TEXT;
UPDATE join_tokens SET id = 'jt-' || substr(replace(gen_random_uuid()::text, '-', ''), 1, 18);
ALTER TABLE join_tokens ALTER COLUMN id SET NOT NULL;
ALTER TABLE join_tokens ADD CONSTRAINT join_tokens_id_key UNIQUE (id);
ALTER TABLE join_tokens ADD CONSTRAINT join_tokens_id_check CHECK (length(id) = 21 AND substr(id, 1, 3) = 'jt-' AND substr(id, 4) !~ '[^0-9a-f]');
ALTER TABLE join_tokens ADD COLUMN revoked_at BIGINT;
ALTER TABLE join_tokens ADD CONSTRAINT join_tokens_used_or_revoked CHECK (used_at IS NULL OR revoked_at IS NULL);
CREATE INDEX join_tokens_by_created ON join_tokens (created_at, id);

ALTER TABLE acme_eab_keys ADD COLUMN revoked_at BIGINT;
CREATE INDEX acme_eab_keys_by_created ON acme_eab_keys (created_at, key_id);
