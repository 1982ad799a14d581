-- 0005 (PostgreSQL): the CRL's listing by issuer over revoked rows only, as migrations/0005_revoked_index.sql.
CREATE INDEX certificates_revoked_by_issuer
  ON certificates (issuer, not_after, serial, revoked_at, revocation_reason)
  WHERE status = 'revoked';
