-- 0005: the CRL's listing, "revoked and not yet expired, by issuer", bounded by what it
-- returns. Without it the listing read every row of the ledger (SCAN certificates USING
-- INDEX certificates_by_issued_at: 1M rows for ~800 live revocations).
--
-- Partial: only revoked rows are in it, so it costs nothing on issuance and grows with
-- revocations only (2% of rows at fleet scale, ~100 bytes each). Covering: serial,
-- revoked_at and revocation_reason are all the CRL writes per entry, so neither the CRL
-- build nor the publisher's change check (count and max(revoked_at) over the same range)
-- reads a table row. Expired revocations fall out of the range (not_after > now).
CREATE INDEX certificates_revoked_by_issuer
  ON certificates (issuer, not_after, serial, revoked_at, revocation_reason)
  WHERE status = 'revoked';
