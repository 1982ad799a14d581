-- 0001 (PostgreSQL): the certificate ledger; the same tables, columns and rules as
-- migrations/0001_certificates.sql, in PostgreSQL's types. Times are BIGINT ms since the
-- epoch (UTC), DER is BYTEA, JSON columns stay TEXT checked as JSON so both backends
-- hand the repositories the same strings.

CREATE TABLE certificates (
  -- canonical: lowercase hex of whole octets, no leading zero octet, at most 20 octets (RFC 5280 §4.1.2.2)
  serial            TEXT    NOT NULL PRIMARY KEY
                            CHECK (length(serial) BETWEEN 2 AND 40 AND length(serial) % 2 = 0
                                   AND serial !~ '[^0-9a-f]' AND substr(serial, 1, 2) <> '00'),
  issuer            TEXT    NOT NULL,
  subject           TEXT    NOT NULL,
  spiffe_id         TEXT,
  profile           TEXT    NOT NULL
                            CHECK (profile IN ('svid', 'tls-server', 'node', 'ocsp-signer', 'intermediate', 'root')),
  requester         TEXT    NOT NULL,
  not_before        BIGINT  NOT NULL,
  not_after         BIGINT  NOT NULL,
  issued_at         BIGINT  NOT NULL,
  status            TEXT    NOT NULL DEFAULT 'valid' CHECK (status IN ('valid', 'revoked')),
  revoked_at        BIGINT,
  revocation_reason TEXT    CHECK (revocation_reason IN (
                              'unspecified', 'keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded',
                              'cessationOfOperation', 'certificateHold', 'removeFromCRL', 'privilegeWithdrawn',
                              'aACompromise')),
  der               BYTEA   NOT NULL CHECK (length(der) > 0),
  fingerprint       TEXT    NOT NULL UNIQUE CHECK (length(fingerprint) = 64 AND fingerprint !~ '[^0-9a-f]'),
  sans              TEXT    NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(sans::jsonb) = 'array'),
  CHECK (not_before <= not_after),
  CHECK ((status = 'valid' AND revoked_at IS NULL AND revocation_reason IS NULL)
      OR (status = 'revoked' AND revoked_at IS NOT NULL AND revocation_reason IS NOT NULL))
);

CREATE INDEX certificates_valid_by_not_after ON certificates (not_after, serial) WHERE status = 'valid';
CREATE INDEX certificates_by_issued_at ON certificates (issued_at DESC, serial);
CREATE INDEX certificates_by_spiffe_id ON certificates (spiffe_id, issued_at DESC, serial) WHERE spiffe_id IS NOT NULL;
CREATE INDEX certificates_by_subject ON certificates (subject);

CREATE TABLE certificate_names (
  serial TEXT NOT NULL REFERENCES certificates (serial) ON DELETE CASCADE,
  type   TEXT NOT NULL CHECK (type IN ('dns', 'ip', 'uri', 'email')),
  value  TEXT NOT NULL CHECK (length(value) > 0),
  PRIMARY KEY (serial, type, value)
);

CREATE INDEX certificate_names_by_name ON certificate_names (type, value);
