-- 0003: the SVID signer's grants. `registration_entries` says which parent (a node or
-- another workload) may obtain SVIDs for which SPIFFE ID, with what lifetimes and DNS
-- names; `join_tokens` holds one-time tokens that bootstrap a node identity, stored only
-- as the SHA-256 of the token so the table never holds a usable secret.
--
-- Growth: entries follow deployments (one per workload per parent: thousands, tens of
-- thousands at most) and are deleted when a workload goes away. Tokens are one per node
-- bootstrap; used and expired rows stay as the audit trail until a pruning job exists.
--
-- SPIFFE IDs are checked in full (SPIFFE-ID spec) by the repositories before they reach
-- SQL; the CHECKs below are the part SQL can say cheaply, the last line of defence.

CREATE TABLE registration_entries (
  -- chosen by the service (a UUID or similar): URL-safe, never reused
  id          TEXT    NOT NULL PRIMARY KEY
                      CHECK (length(id) BETWEEN 1 AND 128 AND id NOT GLOB '*[^A-Za-z0-9._~-]*'),
  spiffe_id   TEXT    NOT NULL CHECK (substr(spiffe_id, 1, 9) = 'spiffe://' AND length(spiffe_id) BETWEEN 10 AND 2048),
  parent_id   TEXT    NOT NULL CHECK (substr(parent_id, 1, 9) = 'spiffe://' AND length(parent_id) BETWEEN 10 AND 2048),
  x509_ttl_ms INTEGER NOT NULL CHECK (x509_ttl_ms > 0),
  jwt_ttl_ms  INTEGER NOT NULL CHECK (jwt_ttl_ms > 0),
  -- JSON array of lowercase DNS names, in SAN order
  dns_names   TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(dns_names) AND json_type(dns_names) = 'array'),
  admin       INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
  -- NULL: the entry does not expire
  expires_at  INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  -- 'cli:<user>' or the admin's SPIFFE ID
  created_by  TEXT    NOT NULL CHECK (length(created_by) > 0),
  -- an admin entry's SPIFFE ID is /admin or lies below it (the path starts at the first '/' after the trust domain)
  CHECK (admin = 0 OR substr(spiffe_id, 9 + instr(substr(spiffe_id, 10), '/'), 7) = '/admin/'
                   OR substr(spiffe_id, 9 + instr(substr(spiffe_id, 10), '/')) = '/admin'),
  -- one grant per (identity, parent); its index also answers "entries for this SPIFFE ID"
  UNIQUE (spiffe_id, parent_id)
) STRICT;

-- Listings are keyset-paginated by (created_at, id); each filter gets an index carrying that order.
CREATE INDEX registration_entries_by_created ON registration_entries (created_at, id);
CREATE INDEX registration_entries_by_spiffe_id ON registration_entries (spiffe_id, created_at, id);
-- "What may this node issue": the SVID signer's lookup by the caller's SPIFFE ID.
CREATE INDEX registration_entries_by_parent_id ON registration_entries (parent_id, created_at, id);

CREATE TABLE join_tokens (
  -- lowercase hex SHA-256 of the token; the token itself is shown once and never stored
  token_hash     TEXT    NOT NULL PRIMARY KEY
                         CHECK (length(token_hash) = 64 AND token_hash NOT GLOB '*[^0-9a-f]*'),
  -- the node identity the token attests: spiffe://<td>/node/<name>
  spiffe_id      TEXT    NOT NULL
                         CHECK (substr(spiffe_id, 1, 9) = 'spiffe://' AND length(spiffe_id) BETWEEN 10 AND 2048
                                AND substr(spiffe_id, 9 + instr(substr(spiffe_id, 10), '/'), 6) = '/node/'),
  expires_at     INTEGER NOT NULL,
  created_at     INTEGER NOT NULL,
  created_by     TEXT    NOT NULL CHECK (length(created_by) > 0),
  -- set once, by the redemption
  used_at        INTEGER,
  -- the node certificate issued for the redemption; pruning that row later only forgets the link
  used_by_serial TEXT    REFERENCES certificates (serial) ON DELETE SET NULL,
  CHECK (created_at < expires_at),
  -- a serial is attached only to a redeemed token
  CHECK (used_by_serial IS NULL OR used_at IS NOT NULL)
) STRICT;
