-- 0007 (PostgreSQL): state several keysmith nodes share, as migrations/0007_cluster_state.sql;
-- the CRL number is a sequence here, so nodes never wait on one row to take the next number.
CREATE TABLE acme_spent_nonces (
  nonce_id   TEXT    NOT NULL PRIMARY KEY CHECK (length(nonce_id) BETWEEN 1 AND 64),
  expires_at BIGINT  NOT NULL
);

CREATE INDEX acme_spent_nonces_by_expiry ON acme_spent_nonces (expires_at);

-- RFC 5280 §5.2.3: CRL numbers only grow; a sequence never hands out a number twice, across nodes and restarts.
CREATE SEQUENCE crl_number AS BIGINT MINVALUE 1 START 1;

-- The delegated OCSP responders nodes share, as in migrations/0007_cluster_state.sql.
CREATE TABLE ocsp_responders (
  serial      TEXT    NOT NULL PRIMARY KEY REFERENCES certificates (serial),
  wrapped_key TEXT    NOT NULL CHECK (substr(wrapped_key, 1, 37) = '-----BEGIN ENCRYPTED PRIVATE KEY-----'),
  recorded_at BIGINT  NOT NULL
);
-- The revocation feed's catch-up poll (src/ledger/postgres/revocation-feed.ts): "revoked since T",
-- every few seconds on every node, reads only the newest revocations. Partial, like
-- certificates_revoked_by_issuer: nothing on issuance. SQLite has no feed (one process), hence no twin.
CREATE INDEX certificates_revoked_at ON certificates (revoked_at, serial) WHERE status = 'revoked';
-- When an order went to 'processing' (ms): a node starting resets only finalizations older
-- than any finalize runs, never one a live node is still issuing for.
ALTER TABLE acme_orders ADD COLUMN finalize_started_at BIGINT;
-- The check value of the cluster secret, as in migrations/0007_cluster_state.sql: one row, never the secret.
CREATE TABLE cluster_key_check (
  scope       TEXT    NOT NULL PRIMARY KEY CHECK (scope = 'cluster'),
  check_value BYTEA   NOT NULL CHECK (octet_length(check_value) = 32),
  recorded_at BIGINT  NOT NULL
);
