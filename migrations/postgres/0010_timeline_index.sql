-- 0010 (PostgreSQL): as migrations/0010_api.sql, the valid-by-notAfter index carries the
-- profile, so the console's expiry timeline (per UTC day and profile) can be counted from the
-- index (an index-only scan where the visibility map allows) instead of the table's rows.
DROP INDEX certificates_valid_by_not_after;
CREATE INDEX certificates_valid_by_not_after ON certificates (not_after, serial, issued_at, profile) WHERE status = 'valid';
