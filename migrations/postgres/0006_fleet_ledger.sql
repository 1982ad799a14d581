-- 0006 (PostgreSQL): the ledger at fleet scale, as migrations/0006_fleet_ledger.sql
-- (its comments give the reasons for each index).

DELETE FROM certificate_names WHERE type NOT IN ('dns', 'ip');

DROP INDEX certificates_by_subject;
CREATE INDEX certificates_by_subject ON certificates (subject, profile) WHERE spiffe_id IS NULL;

CREATE INDEX certificates_attention_by_not_after ON certificates (not_after, serial, issued_at)
  WHERE status = 'valid' AND profile <> 'svid';

CREATE INDEX certificates_revoked_by_issued_at ON certificates (issued_at DESC, serial) WHERE status = 'revoked';
CREATE INDEX certificates_rare_profile_by_issued_at ON certificates (profile, issued_at DESC, serial) WHERE profile <> 'svid';

CREATE TABLE spiffe_latest (
  spiffe_id      TEXT    NOT NULL PRIMARY KEY,
  serial         TEXT    NOT NULL,
  profile        TEXT    NOT NULL,
  issued_at      BIGINT  NOT NULL,
  not_after      BIGINT  NOT NULL,
  lifetime_ms    BIGINT  NOT NULL,
  renewal_due_at BIGINT  NOT NULL
);

CREATE INDEX spiffe_latest_day_svids_by_renewal_due ON spiffe_latest (renewal_due_at, not_after, lifetime_ms, serial)
  WHERE profile = 'svid' AND lifetime_ms <= 86400000;
CREATE INDEX spiffe_latest_long_svids_by_renewal_due ON spiffe_latest (renewal_due_at, not_after, lifetime_ms, serial)
  WHERE profile = 'svid' AND lifetime_ms > 86400000;

-- PostgreSQL's ON CONFLICT may not touch one row twice in a statement: take the newest per SPIFFE ID first.
INSERT INTO spiffe_latest (spiffe_id, serial, profile, issued_at, not_after, lifetime_ms, renewal_due_at)
SELECT DISTINCT ON (spiffe_id)
       spiffe_id, serial, profile, issued_at, not_after, not_after - issued_at, issued_at + (not_after - issued_at) / 2
  FROM certificates
 WHERE spiffe_id IS NOT NULL
 ORDER BY spiffe_id, issued_at DESC, serial DESC;

CREATE INDEX acme_challenges_processing ON acme_challenges (status) WHERE status = 'processing';
CREATE INDEX acme_orders_processing ON acme_orders (status) WHERE status = 'processing';
CREATE INDEX acme_authorizations_live_by_account ON acme_authorizations (account_id) WHERE status IN ('pending', 'valid');
