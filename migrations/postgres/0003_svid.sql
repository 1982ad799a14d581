-- 0003 (PostgreSQL): registration entries and join tokens, as migrations/0003_svid.sql.

CREATE TABLE registration_entries (
  id          TEXT    COLLATE "C" NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128 AND id !~ '[^A-Za-z0-9._~-]'),
  spiffe_id   TEXT    NOT NULL CHECK (substr(spiffe_id, 1, 9) = 'spiffe://' AND length(spiffe_id) BETWEEN 10 AND 2048),
  parent_id   TEXT    NOT NULL CHECK (substr(parent_id, 1, 9) = 'spiffe://' AND length(parent_id) BETWEEN 10 AND 2048),
  x509_ttl_ms BIGINT  NOT NULL CHECK (x509_ttl_ms > 0),
  jwt_ttl_ms  BIGINT  NOT NULL CHECK (jwt_ttl_ms > 0),
  dns_names   TEXT    NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(dns_names::jsonb) = 'array'),
  admin       INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
  expires_at  BIGINT,
  created_at  BIGINT  NOT NULL,
  updated_at  BIGINT  NOT NULL,
  created_by  TEXT    NOT NULL CHECK (length(created_by) > 0),
  CHECK (admin = 0 OR substr(spiffe_id, 9 + strpos(substr(spiffe_id, 10), '/'), 7) = '/admin/'
                   OR substr(spiffe_id, 9 + strpos(substr(spiffe_id, 10), '/')) = '/admin'),
  UNIQUE (spiffe_id, parent_id)
);

CREATE INDEX registration_entries_by_created ON registration_entries (created_at, id);
CREATE INDEX registration_entries_by_spiffe_id ON registration_entries (spiffe_id, created_at, id);
CREATE INDEX registration_entries_by_parent_id ON registration_entries (parent_id, created_at, id);

CREATE TABLE join_tokens (
  token_hash     TEXT    NOT NULL PRIMARY KEY CHECK (length(token_hash) = 64 AND token_hash !~ '[^0-9a-f]'),
  spiffe_id      TEXT    NOT NULL
                         CHECK (substr(spiffe_id, 1, 9) = 'spiffe://' AND length(spiffe_id) BETWEEN 10 AND 2048
                                AND substr(spiffe_id, 9 + strpos(substr(spiffe_id, 10), '/'), 6) = '/node/'),
  expires_at     BIGINT  NOT NULL,
  created_at     BIGINT  NOT NULL,
  created_by     TEXT    NOT NULL CHECK (length(created_by) > 0),
  used_at        BIGINT,
  used_by_serial TEXT    REFERENCES certificates (serial) ON DELETE SET NULL,
  CHECK (created_at < expires_at),
  CHECK (used_by_serial IS NULL OR used_at IS NOT NULL)
);
