-- 0004 (PostgreSQL): ACME state, as migrations/0004_acme.sql. SQLite's implicit rowid
-- (creation order) is the explicit `seq` column here where a query orders by it.

CREATE TABLE acme_eab_keys (
  key_id        TEXT    NOT NULL PRIMARY KEY CHECK (length(key_id) BETWEEN 1 AND 256),
  hmac_key      BYTEA   NOT NULL CHECK (length(hmac_key) >= 16),
  created_at    BIGINT  NOT NULL,
  created_by    TEXT    NOT NULL CHECK (length(created_by) > 0),
  bound_account TEXT    UNIQUE,
  bound_at      BIGINT,
  CHECK ((bound_account IS NULL) = (bound_at IS NULL))
);

CREATE TABLE acme_accounts (
  id             TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  key_thumbprint TEXT    NOT NULL UNIQUE CHECK (length(key_thumbprint) = 43),
  jwk            TEXT    NOT NULL CHECK (jsonb_typeof(jwk::jsonb) = 'object'),
  status         TEXT    NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'deactivated', 'revoked')),
  contact        TEXT    NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(contact::jsonb) = 'array'),
  eab_key_id     TEXT    UNIQUE REFERENCES acme_eab_keys (key_id),
  created_at     BIGINT  NOT NULL
);

-- The two tables point at each other; the second reference is added once both exist.
ALTER TABLE acme_eab_keys ADD FOREIGN KEY (bound_account) REFERENCES acme_accounts (id);

CREATE TABLE acme_orders (
  id                 TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  account_id         TEXT    NOT NULL REFERENCES acme_accounts (id),
  status             TEXT    NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
  identifiers        TEXT    NOT NULL CHECK (jsonb_typeof(identifiers::jsonb) = 'array'),
  not_before         BIGINT,
  not_after          BIGINT,
  expires_at         BIGINT  NOT NULL,
  created_at         BIGINT  NOT NULL,
  error              TEXT    CHECK (error IS NULL OR jsonb_typeof(error::jsonb) IS NOT NULL),
  certificate_serial TEXT    UNIQUE REFERENCES certificates (serial),
  replaces           TEXT,
  replaces_serial    TEXT    REFERENCES certificates (serial),
  CHECK ((status = 'valid') = (certificate_serial IS NOT NULL)),
  CHECK ((replaces IS NULL) = (replaces_serial IS NULL))
);

CREATE INDEX acme_orders_by_account ON acme_orders (account_id, created_at DESC, id);
CREATE INDEX acme_orders_by_replaces ON acme_orders (replaces_serial) WHERE replaces_serial IS NOT NULL;

CREATE TABLE acme_authorizations (
  id               TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  account_id       TEXT    NOT NULL REFERENCES acme_accounts (id),
  identifier_type  TEXT    NOT NULL CHECK (identifier_type IN ('dns', 'ip')),
  identifier_value TEXT    NOT NULL CHECK (length(identifier_value) BETWEEN 1 AND 253),
  is_wildcard      INTEGER NOT NULL CHECK (is_wildcard IN (0, 1)),
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'revoked')),
  expires_at       BIGINT  NOT NULL,
  created_at       BIGINT  NOT NULL
);

CREATE INDEX acme_authorizations_reuse ON acme_authorizations (account_id, identifier_type, identifier_value, is_wildcard, expires_at)
  WHERE status = 'valid';

CREATE TABLE acme_order_authorizations (
  order_id         TEXT    NOT NULL REFERENCES acme_orders (id) ON DELETE CASCADE,
  authorization_id TEXT    NOT NULL REFERENCES acme_authorizations (id),
  position         INTEGER NOT NULL,
  PRIMARY KEY (order_id, authorization_id)
);

CREATE INDEX acme_order_authorizations_by_authorization ON acme_order_authorizations (authorization_id, order_id);

CREATE TABLE acme_challenges (
  seq              BIGINT  GENERATED ALWAYS AS IDENTITY UNIQUE,
  id               TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  authorization_id TEXT    NOT NULL REFERENCES acme_authorizations (id) ON DELETE CASCADE,
  type             TEXT    NOT NULL CHECK (type IN ('http-01', 'dns-01', 'tls-alpn-01')),
  token            TEXT    NOT NULL UNIQUE CHECK (length(token) >= 22),
  status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated_at     BIGINT,
  error            TEXT    CHECK (error IS NULL OR jsonb_typeof(error::jsonb) IS NOT NULL),
  UNIQUE (authorization_id, type),
  CHECK ((status = 'valid') = (validated_at IS NOT NULL))
);
