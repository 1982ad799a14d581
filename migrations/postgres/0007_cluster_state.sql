-- 0007 (PostgreSQL): state several keysmith nodes share, as migrations/0007_cluster_state.sql;
-- the CRL number is a sequence here, so nodes never wait on one row to take the next number.
CREATE TABLE acme_spent_nonces (
  nonce_id   TEXT    NOT NULL PRIMARY KEY CHECK (length(nonce_id) BETWEEN 1 AND 64),
  expires_at BIGINT  NOT NULL
);

CREATE INDEX acme_spent_nonces_by_expiry ON acme_spent_nonces (expires_at);

-- RFC 5280 §5.2.3: CRL numbers only grow; a sequence never hands out a number twice, across nodes and restarts.
CREATE SEQUENCE crl_number AS BIGINT MINVALUE 1 START 1;

-- When an order went to 'processing' (ms): a node starting resets only finalizations older
-- than any finalize runs, never one a live node is still issuing for.
ALTER TABLE acme_orders ADD COLUMN finalize_started_at BIGINT;
