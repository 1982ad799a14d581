-- 0004: ACME (RFC 8555) state: accounts, external account binding keys, orders,
-- authorizations and their challenges. Certificates themselves stay in `certificates`
-- (requester 'acme:<account id>'); an order points at its certificate's serial.
--
-- Growth: one order per issuance with one authorization per new identifier and two or
-- three challenges each; a fleet renewing 10k certificates every 60 days adds about
-- 170 orders, 170 authorizations and 500 challenges a day (a few hundred KB). Authorizations
-- are reused while valid. Nothing is pruned yet; expired pending rows are harmless.
-- Times are INTEGER ms since the epoch (UTC); JSON columns are checked with json_valid.

CREATE TABLE acme_accounts (
  -- random, base64url
  id             TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  -- RFC 7638 SHA-256 thumbprint of the account key, base64url: one account per key
  key_thumbprint TEXT    NOT NULL UNIQUE CHECK (length(key_thumbprint) = 43),
  -- the public JWK, RFC 7638 required members only
  jwk            TEXT    NOT NULL CHECK (json_valid(jwk) AND json_type(jwk) = 'object'),
  status         TEXT    NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'deactivated', 'revoked')),
  -- JSON array of mailto: URLs
  contact        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(contact) AND json_type(contact) = 'array'),
  -- the EAB key this account was created with (RFC 8555 §7.3.4); a key binds one account
  eab_key_id     TEXT    UNIQUE REFERENCES acme_eab_keys (key_id),
  created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE acme_eab_keys (
  key_id        TEXT    NOT NULL PRIMARY KEY CHECK (length(key_id) BETWEEN 1 AND 256),
  -- the MAC key itself: it must be kept to check bindings, so the database file stays 0600
  hmac_key      BLOB    NOT NULL CHECK (length(hmac_key) >= 16),
  created_at    INTEGER NOT NULL,
  created_by    TEXT    NOT NULL CHECK (length(created_by) > 0),
  bound_account TEXT    UNIQUE REFERENCES acme_accounts (id),
  bound_at      INTEGER,
  CHECK ((bound_account IS NULL) = (bound_at IS NULL))
) STRICT;

CREATE TABLE acme_orders (
  id                 TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  account_id         TEXT    NOT NULL REFERENCES acme_accounts (id),
  status             TEXT    NOT NULL CHECK (status IN ('pending', 'ready', 'processing', 'valid', 'invalid')),
  -- JSON array of {type, value}, normalized; wildcards keep '*.'
  identifiers        TEXT    NOT NULL CHECK (json_valid(identifiers) AND json_type(identifiers) = 'array'),
  not_before         INTEGER,
  not_after          INTEGER,
  expires_at         INTEGER NOT NULL,
  created_at         INTEGER NOT NULL,
  -- JSON {type, detail} once the order failed
  error              TEXT    CHECK (error IS NULL OR json_valid(error)),
  certificate_serial TEXT    UNIQUE REFERENCES certificates (serial),
  -- RFC 9773 §5: the certID this order replaces, and that certificate's serial
  replaces           TEXT,
  replaces_serial    TEXT    REFERENCES certificates (serial),
  CHECK ((status = 'valid') = (certificate_serial IS NOT NULL)),
  CHECK ((replaces IS NULL) = (replaces_serial IS NULL))
) STRICT;

-- The account's order list, newest first.
CREATE INDEX acme_orders_by_account ON acme_orders (account_id, created_at DESC, id);
-- "Does a live order already replace this certificate" (alreadyReplaced).
CREATE INDEX acme_orders_by_replaces ON acme_orders (replaces_serial) WHERE replaces_serial IS NOT NULL;

CREATE TABLE acme_authorizations (
  id               TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  account_id       TEXT    NOT NULL REFERENCES acme_accounts (id),
  identifier_type  TEXT    NOT NULL CHECK (identifier_type IN ('dns', 'ip')),
  -- the name without its wildcard label
  identifier_value TEXT    NOT NULL CHECK (length(identifier_value) BETWEEN 1 AND 253),
  is_wildcard      INTEGER NOT NULL CHECK (is_wildcard IN (0, 1)),
  status           TEXT    NOT NULL CHECK (status IN ('pending', 'valid', 'invalid', 'deactivated', 'revoked')),
  expires_at       INTEGER NOT NULL,
  created_at       INTEGER NOT NULL
) STRICT;

-- Authorization reuse: a valid one of this account for this identifier, latest expiry first.
CREATE INDEX acme_authorizations_reuse ON acme_authorizations (account_id, identifier_type, identifier_value, is_wildcard, expires_at)
  WHERE status = 'valid';

-- Orders and authorizations are many-to-many: a reused authorization serves several orders.
CREATE TABLE acme_order_authorizations (
  order_id         TEXT    NOT NULL REFERENCES acme_orders (id) ON DELETE CASCADE,
  authorization_id TEXT    NOT NULL REFERENCES acme_authorizations (id),
  position         INTEGER NOT NULL,
  PRIMARY KEY (order_id, authorization_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX acme_order_authorizations_by_authorization ON acme_order_authorizations (authorization_id, order_id);

CREATE TABLE acme_challenges (
  id               TEXT    NOT NULL PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
  authorization_id TEXT    NOT NULL REFERENCES acme_authorizations (id) ON DELETE CASCADE,
  type             TEXT    NOT NULL CHECK (type IN ('http-01', 'dns-01', 'tls-alpn-01')),
  -- base64url of 32 random bytes
  token            TEXT    NOT NULL UNIQUE CHECK (length(token) >= 22),
  status           TEXT    NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'valid', 'invalid')),
  validated_at     INTEGER,
  error            TEXT    CHECK (error IS NULL OR json_valid(error)),
  UNIQUE (authorization_id, type),
  CHECK ((status = 'valid') = (validated_at IS NOT NULL))
) STRICT;
