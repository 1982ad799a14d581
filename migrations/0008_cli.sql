-- 0008: what the operator's commands need (`keysmith tokens list|revoke`,
-- `keysmith acme eab list|revoke`).
--
-- join_tokens gains `id`, a random public name for a token ('jt-' and 18 hex digits),
-- so a listing can name a token without showing its hash, and `revoked_at`: a revoked
-- token can no longer be redeemed. SQLite cannot add a NOT NULL column without a
-- constant default, so the table is rebuilt (nothing references join_tokens); rows
-- that exist get a fresh random id.
-- acme_eab_keys gains `revoked_at`: a revoked key binds no new account (RFC 8555 §7.3.4
-- leaves the key's life to the server); an account already bound stays as it is.
--
-- Growth: no new rows; the two indexes carry the listings' keyset order (created_at, id).

CREATE TABLE join_tokens_0008 (
  -- public name of the token: shown by listings, taken by revoke; says nothing about the token
  id             TEXT    NOT NULL UNIQUE
                         CHECK (length(id) = 21 AND substr(id, 1, 3) = 'jt-' AND substr(id, 4) NOT GLOB '*[^0-9a-f]*'),
  token_hash     TEXT    NOT NULL PRIMARY KEY
                         CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'),
  spiffe_id      TEXT    NOT NULL
                         CHECK (substr(spiffe_id, 1, 9) = 'spiffe://' AND length(spiffe_id) BETWEEN 10 AND 2048
                                AND substr(spiffe_id, 9 + instr(substr(spiffe_id, 10), '/'), 6) = '/node/'),
  expires_at     INTEGER NOT NULL,
  created_at     INTEGER NOT NULL,
  created_by     TEXT    NOT NULL CHECK (length(created_by) > 0),
  used_at        INTEGER,
  used_by_serial TEXT    REFERENCES certificates (serial) ON DELETE SET NULL,
  -- set once, by `keysmith tokens revoke`
  revoked_at     INTEGER,
  CHECK (created_at < expires_at),
  CHECK (used_by_serial IS NULL OR used_at IS NOT NULL),
  -- a token is redeemed or revoked, never both
  CHECK (used_at IS NULL OR revoked_at IS NULL)
) STRICT;

INSERT INTO join_tokens_0008 (id, token_hash, spiffe_id, expires_at, created_at, created_by, used_at, used_by_serial, revoked_at)
  SELECT 'jt-' || lower(hex(randomblob(9))), token_hash, spiffe_id, expires_at, created_at, created_by, used_at, used_by_serial, NULL
    FROM join_tokens;
DROP TABLE join_tokens;
ALTER TABLE join_tokens_0008 RENAME TO join_tokens;

CREATE INDEX join_tokens_by_created ON join_tokens (created_at, id);

ALTER TABLE acme_eab_keys ADD COLUMN revoked_at INTEGER;
CREATE INDEX acme_eab_keys_by_created ON acme_eab_keys (created_at, key_id);
