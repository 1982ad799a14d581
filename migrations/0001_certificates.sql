-- 0001: the certificate ledger. One row per certificate keysmith has signed, written
-- in the same transaction that lets the certificate leave the process, so the ledger
-- is the authority for OCSP, mTLS revocation checks, expiry alerts and audits.
--
-- Growth: every issuance adds a row and is never deleted here. SVIDs dominate: with a
-- 1 h TTL renewed at half-life a workload adds ~48 rows a day, so 10k workloads add
-- ~480k rows (~0.6 GB with DER, names and indexes) a day. Pruning rows long past
-- not_after is a later job/migration; indexes here stay narrow for that reason.
--
-- Changing a CHECK (a new profile) needs SQLite's table rebuild; the runner applies
-- each file in one transaction with foreign_keys off and checks them before commit.

CREATE TABLE certificates (
  -- canonical: lowercase hex of whole octets, no leading zero octet, at most 20 octets (RFC 5280 §4.1.2.2)
  serial            TEXT    NOT NULL PRIMARY KEY
                            CHECK (length(serial) BETWEEN 2 AND 40 AND length(serial) % 2 = 0
                                   AND serial NOT GLOB '*[^0-9a-f]*' AND substr(serial, 1, 2) <> '00'),
  issuer            TEXT    NOT NULL,
  subject           TEXT    NOT NULL,
  spiffe_id         TEXT,
  profile           TEXT    NOT NULL
                            CHECK (profile IN ('svid', 'tls-server', 'node', 'ocsp-signer', 'intermediate', 'root')),
  requester         TEXT    NOT NULL,
  not_before        INTEGER NOT NULL,
  not_after         INTEGER NOT NULL,
  issued_at         INTEGER NOT NULL,
  status            TEXT    NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
  revoked_at        INTEGER,
  revocation_reason TEXT    CHECK (revocation_reason IN (
                              'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded',
                              'cessationOfOperation', 'certificateHold', 'removeFromCRL', 'privilegeWithdrawn',
                              'aACompromise')),
  der               BLOB    NOT NULL CHECK (length(der) > 0),
  -- SHA-256 of der, lowercase hex
  fingerprint       TEXT    NOT NULL UNIQUE
                            CHECK (length(fingerprint) = 64 AND fingerprint NOT GLOB '*[^0-9a-f]*'),
  -- JSON array of {type, value}; certificate_names holds the searchable copy
  sans              TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(sans) AND json_type(sans) = 'array'),
  CHECK (not_before <= not_after),
  -- revoked exactly when both revocation fields are set
  CHECK ((status = 'valid' AND revoked_at IS NULL AND revocation_reason IS NULL)
      OR (status = 'revoked' AND revoked_at IS NOT NULL AND revocation_reason IS NOT NULL))
) STRICT;

-- Expiry alerts and "expiring within" listings only look at valid rows: a partial index
-- keeps revoked rows out and carries serial for the (not_after, serial) keyset order.
CREATE INDEX certificates_valid_by_not_after ON certificates (not_after, serial) WHERE status = 'valid';

-- The default listing order: newest first, serial as the tie-break.
CREATE INDEX certificates_by_issued_at ON certificates (issued_at DESC, serial);

-- "Certificates of this workload", newest first; most rows have a SPIFFE ID, non-SVIDs do not.
CREATE INDEX certificates_by_spiffe_id ON certificates (spiffe_id, issued_at DESC, serial) WHERE spiffe_id IS NOT NULL;

CREATE INDEX certificates_by_subject ON certificates (subject);

-- One row per subjectAltName, for lookups by name (dns values are stored lowercased).
CREATE TABLE certificate_names (
  serial TEXT NOT NULL REFERENCES certificates (serial) ON DELETE CASCADE,
  type   TEXT NOT NULL CHECK (type IN ('dns', 'ip', 'uri', 'email')),
  value  TEXT NOT NULL CHECK (length(value) > 0),
  PRIMARY KEY (serial, type, value)
) STRICT, WITHOUT ROWID;

CREATE INDEX certificate_names_by_name ON certificate_names (type, value);
