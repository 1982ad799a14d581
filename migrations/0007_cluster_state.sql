-- 0007: state that several keysmith nodes on one database share (see
-- migrations/postgres/0007_cluster_state.sql for the clustered form).
--
-- acme_spent_nonces: an ACME nonce (RFC 8555 §6.5) is minted by any node without a write
-- (its MAC under the cluster secret proves it is ours and says when it expires) and
-- spent by inserting its id here once: a second insert of the same id is a replay.
-- Rows are deleted once expired, so the table holds at most one nonce lifetime of requests.
CREATE TABLE acme_spent_nonces (
  nonce_id   TEXT    NOT NULL PRIMARY KEY CHECK (length(nonce_id) BETWEEN 1 AND 64),
  expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX acme_spent_nonces_by_expiry ON acme_spent_nonces (expires_at);

-- crl_numbers: the last CRL number handed out (RFC 5280 §5.2.3: monotonically increasing
-- for a given issuer's CRLs); one row, so every CRL of every shard takes the next number.
CREATE TABLE crl_numbers (
  scope       TEXT    NOT NULL PRIMARY KEY CHECK (scope = 'crl'),
  last_number INTEGER NOT NULL CHECK (last_number >= 0)
) STRICT;

-- ocsp_responders: the delegated OCSP responders (RFC 6960 §4.2.2.2) that processes on this
-- ledger share, so a start or a rotation reuses the newest valid one instead of minting another.
-- The certificate is its `certificates` row (profile 'ocsp-signer', status, not_after); wrapped_key
-- is its P-256 key as an encrypted PKCS#8 PEM under a secret derived from the intermediate's key
-- (src/ca/responder-key-wrap.ts), so only a holder of the CA directory can use it. Which process
-- issues the next one is decided by the lease 'ocsp-responder' in `leases`.
-- Growth: one row per rotation (about one a week).
CREATE TABLE ocsp_responders (
  serial      TEXT    NOT NULL PRIMARY KEY REFERENCES certificates (serial),
  wrapped_key TEXT    NOT NULL CHECK (substr(wrapped_key, 1, 37) = '-----BEGIN ENCRYPTED PRIVATE KEY-----'),
  recorded_at INTEGER NOT NULL
) STRICT;
-- acme_orders.finalize_started_at: when an order went to 'processing' (ms). Nodes sharing the
-- ledger reset at start only finalizations older than any finalize runs, never one a live
-- node is still issuing for (that would let the order be finalized twice).
ALTER TABLE acme_orders ADD COLUMN finalize_started_at INTEGER;
-- cluster_key_check: a check value of the cluster secret (`<dataDir>/ca/cluster.key`), never the
-- secret itself: HKDF-SHA256 of it under the label 'keysmith v1 cluster key check' (src/cli/cluster-secret.ts).
-- The first start records it; a node whose cluster.key gives another value refuses to start
-- (its ACME nonces and session tickets would be refused by every other node). One row.
CREATE TABLE cluster_key_check (
  scope       TEXT    NOT NULL PRIMARY KEY CHECK (scope = 'cluster'),
  check_value BLOB    NOT NULL CHECK (length(check_value) = 32),
  recorded_at INTEGER NOT NULL
) STRICT;
