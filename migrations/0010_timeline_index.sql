-- 0010: the operator console's expiry timeline (GET /v1/certificates/timeline) counts the
-- certificates not revoked expiring in the next days per UTC day and profile, in SQL
-- (src/ledger/certificate-timeline.ts). It walked certificates_valid_by_not_after over the
-- window and read every row of it for its profile: ~190 ms for 100,000 rows in 90 days on a
-- busy 2-core VM (bench/ledger/timeline.ts). With profile in the index the count reads the
-- index alone: ~24 ms. The index is rebuilt one column wider (a few bytes per valid row)
-- rather than joined by a second one, so issuance writes no extra index entry.
-- Cost of the upgrade: one pass over the valid rows inside the migration transaction.
DROP INDEX certificates_valid_by_not_after;
CREATE INDEX certificates_valid_by_not_after ON certificates (not_after, serial, issued_at, profile) WHERE status = 'valid';
