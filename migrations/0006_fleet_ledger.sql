-- 0006: the ledger at fleet scale (issue 19). A fleet of ~100,000 workloads renewing
-- 1-hour SVIDs adds a million rows in ten hours; every query on a hot or periodic path
-- must be bounded by what it returns, not by the ledger's size
-- (test/unit/ledger/query-plans.test.ts checks each plan), and each row should cost
-- fewer bytes and fewer random page writes. Measured with bench/ledger (README there).
--
-- Cost of the upgrade on an existing ledger: one pass over the rows with a SPIFFE ID (the
-- fill of spiffe_latest), the deletion of URI/e-mail name rows and four small partial
-- indexes: 16-41 s on a million rows on a busy 2-core VM, once, inside the migration
-- transaction at the first start. The freed pages (~250 MB per million rows) are reused by
-- later rows; VACUUM offline to give them back to the file system.

-- 1. certificate_names is the searchable copy of the SANs, and only DNS names (the
-- dns_name listing filter) and DNS/IP sets (the alert successor rule) are ever searched.
-- An SVID's URI SAN is its SPIFFE ID, already in certificates.spiffe_id (indexed); its two
-- index entries here (~150 B and two random page writes per SVID) bought nothing. The
-- SANs stay whole in certificates.sans and in the DER: nothing the API returns changes.
DELETE FROM certificate_names WHERE type NOT IN ('dns', 'ip');

-- 2. Only certificates without a SPIFFE ID and without DNS/IP names (the CA's own) look a
-- successor up by subject (alert detection); SVIDs, 95% of rows, need no subject index.
DROP INDEX certificates_by_subject;
CREATE INDEX certificates_by_subject ON certificates (subject, profile) WHERE spiffe_id IS NULL;

-- 3. What needs a person: valid certificates other than SVIDs, by notAfter. The default
-- expiry listing and alert detection walk this (a few % of rows) instead of every live SVID.
-- The WHERE is spelled exactly as the queries spell it, so the planner can use it.
CREATE INDEX certificates_attention_by_not_after ON certificates (not_after, serial, issued_at)
  WHERE status = 'valid' AND profile <> 'svid';

-- 4. Listings by status revoked and by a profile other than svid, newest first, read a
-- page from an index of those rows instead of walking the whole ledger by issued_at.
CREATE INDEX certificates_revoked_by_issued_at ON certificates (issued_at DESC, serial) WHERE status = 'revoked';
CREATE INDEX certificates_rare_profile_by_issued_at ON certificates (profile, issued_at DESC, serial) WHERE profile <> 'svid';

-- 5. The newest certificate of each SPIFFE ID (by issued_at, then serial), kept by the
-- repository in the transaction that records a certificate (not a trigger: a trigger would
-- make every certificate INSERT a multi-statement write, with foreign-key scans in its plan).
-- An SVID "stopped renewing" when it is the newest of its SPIFFE ID and past its renewal
-- point, half its lifetime after issuance (SPIFFE agents such as SPIRE's rotate at
-- half-life): renewal_due_at = issued_at + (not_after - issued_at) / 2. A healthy
-- workload's newest SVID is never due yet, and a still-valid SVID was due less than half
-- its lifetime ago, so a range of renewal_due_at finds exactly the ones that stopped, by
-- index: (now - 12 h, now] for workload SVIDs (at most 24 h, svidMaxTtl), (now - 45 days,
-- now] for the few longer ones (admin identities, at most 90 days), each with its own
-- partial index so neither range walks the other's rows. not_after in the index lets a range
-- drop the SVIDs that already expired (workloads that went away) without reading their rows.
-- One row per SPIFFE ID: ~30 B per certificate on a fleet ledger, not per certificate written.
CREATE TABLE spiffe_latest (
  spiffe_id      TEXT    NOT NULL PRIMARY KEY,
  serial         TEXT    NOT NULL,
  profile        TEXT    NOT NULL,
  issued_at      INTEGER NOT NULL,
  not_after      INTEGER NOT NULL,
  lifetime_ms    INTEGER NOT NULL,
  renewal_due_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX spiffe_latest_day_svids_by_renewal_due ON spiffe_latest (renewal_due_at, not_after, lifetime_ms, serial)
  WHERE profile = 'svid' AND lifetime_ms <= 86400000;
CREATE INDEX spiffe_latest_long_svids_by_renewal_due ON spiffe_latest (renewal_due_at, not_after, lifetime_ms, serial)
  WHERE profile = 'svid' AND lifetime_ms > 86400000;

-- The fill: rows in (spiffe_id, issued_at, serial) order, so the last of each SPIFFE ID wins.
INSERT INTO spiffe_latest (spiffe_id, serial, profile, issued_at, not_after, lifetime_ms, renewal_due_at)
SELECT spiffe_id, serial, profile, issued_at, not_after, not_after - issued_at, issued_at + (not_after - issued_at) / 2
  FROM certificates
 WHERE spiffe_id IS NOT NULL
 ORDER BY spiffe_id, issued_at, serial
ON CONFLICT (spiffe_id) DO UPDATE
  SET serial = excluded.serial, profile = excluded.profile, issued_at = excluded.issued_at, not_after = excluded.not_after,
      lifetime_ms = excluded.lifetime_ms, renewal_due_at = excluded.renewal_due_at
WHERE excluded.issued_at > spiffe_latest.issued_at
   OR (excluded.issued_at = spiffe_latest.issued_at AND excluded.serial > spiffe_latest.serial);

-- 6. ACME start-up (resuming validations, releasing finalizations a stopped process left)
-- asks for the few rows in 'processing', and deactivating an account for its live
-- authorizations; without these each scans every challenge, order or authorization.
CREATE INDEX acme_challenges_processing ON acme_challenges (status) WHERE status = 'processing';
CREATE INDEX acme_orders_processing ON acme_orders (status) WHERE status = 'processing';
CREATE INDEX acme_authorizations_live_by_account ON acme_authorizations (account_id) WHERE status IN ('pending', 'valid');
