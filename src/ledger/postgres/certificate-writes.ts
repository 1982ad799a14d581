import { DomainError } from '../../shared/errors.js';
import type { NewCertificateRecord } from '../../domain/certificates.js';
import { isNewerLatest, KEEP_NEWEST_LATEST, LATEST_COLUMNS, latestParams, type LatestParams } from '../attention.js';
import { namesOf, recordConflictDetail, toInsertRow, type RecordConflict } from '../certificate-rows.js';
import { constraintViolation, describeViolation, toPostgresConflict } from './constraint.js';
import type { SqlRunner } from './database.js';

/**
 * Recording certificates on PostgreSQL: one multi-row INSERT per table
 * (certificates, certificate_names, spiffe_latest), whatever the batch size,
 * so a group commit of 256 rows costs the same five round trips (BEGIN, three
 * INSERTs, COMMIT) as one row. The rows travel as one JSON parameter per
 * table, read back with jsonb_to_recordset: one bind parameter however many
 * rows (a VALUES list would need 12 per row, and PostgreSQL allows 65,535),
 * and NULLs and DER (as hex) need no array-literal encoding.
 */

const INSERT_CERTIFICATES = `
  INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after,
                            issued_at, status, der, fingerprint, sans)
  SELECT serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after,
         issued_at, 'valid', decode(der, 'hex'), fingerprint, sans
    FROM jsonb_to_recordset($1::jsonb)
         AS r(serial text, issuer text, subject text, spiffe_id text, profile text, requester text,
              not_before bigint, not_after bigint, issued_at bigint, der text, fingerprint text, sans text)`;

const INSERT_NAMES = `
  INSERT INTO certificate_names (serial, type, value)
  SELECT serial, type, value FROM jsonb_to_recordset($1::jsonb) AS n(serial text, type text, value text)`;

// Rows in spiffe_id order: two batches touching the same SPIFFE IDs lock them in one order, not into a deadlock.
const UPSERT_LATEST = `
  INSERT INTO spiffe_latest (${LATEST_COLUMNS})
  SELECT spiffe_id, serial, profile, issued_at, not_after, lifetime_ms, renewal_due_at
    FROM jsonb_to_recordset($1::jsonb)
         AS l(spiffe_id text, serial text, profile text, issued_at bigint, not_after bigint, lifetime_ms bigint, renewal_due_at bigint)
   ORDER BY spiffe_id
  ${KEEP_NEWEST_LATEST}`;

/** Writes `records` (already checked) inside the caller's transaction. */
export async function insertCertificates(tx: SqlRunner, records: readonly NewCertificateRecord[]): Promise<void> {
  const rows = records.map((record) => {
    const row = toInsertRow(record);
    return {
      serial: row.serial,
      issuer: row.issuer,
      subject: row.subject,
      spiffe_id: row.spiffeId,
      profile: row.profile,
      requester: row.requester,
      not_before: row.notBefore,
      not_after: row.notAfter,
      issued_at: row.issuedAt,
      der: row.der.toString('hex'),
      fingerprint: row.fingerprint,
      sans: row.sans,
    };
  });
  await tx.run(INSERT_CERTIFICATES, [JSON.stringify(rows)]);
  const names = records.flatMap((record) =>
    namesOf(record.sans).map((name) => ({ serial: record.serial, type: name.type, value: name.value })),
  );
  if (names.length > 0) await tx.run(INSERT_NAMES, [JSON.stringify(names)]);
  const latest = newestPerSpiffeId(records);
  if (latest.length > 0) {
    const latestRows = latest.map((l) => ({
      spiffe_id: l.spiffeId,
      serial: l.serial,
      profile: l.profile,
      issued_at: l.issuedAt,
      not_after: l.notAfter,
      lifetime_ms: l.lifetimeMs,
      renewal_due_at: l.renewalDueAt,
    }));
    await tx.run(UPSERT_LATEST, [JSON.stringify(latestRows)]);
  }
}

/**
 * One row per SPIFFE ID, the newest of the batch: ON CONFLICT DO UPDATE may
 * not touch one row twice in a statement (a workload renewed twice in one
 * batch), and the upsert's own rule then weighs it against the stored row.
 */
function newestPerSpiffeId(records: readonly NewCertificateRecord[]): LatestParams[] {
  const newest = new Map<string, LatestParams>();
  for (const record of records) {
    if (record.spiffeId === null) continue;
    const candidate = latestParams({ ...record, spiffeId: record.spiffeId });
    const held = newest.get(record.spiffeId);
    if (held === undefined || isNewerLatest(candidate, held)) newest.set(record.spiffeId, candidate);
  }
  return [...newest.values()];
}

/**
 * A constraint failure of a write as DomainError('conflict'), worded as on
 * SQLite and naming the record that broke it: PostgreSQL's error detail names
 * the key (`Key (serial)=(ab12) already exists.`), which finds the record in a
 * batch. Anything else is returned as is.
 */
export function recordConflict(error: unknown, records: readonly NewCertificateRecord[]): unknown {
  const violation = constraintViolation(error);
  if (violation === undefined) return error;
  const key = /^Key \((serial|fingerprint)\)=\(([0-9a-f]+)\)/.exec(violation.detail);
  const kind: RecordConflict =
    violation.constraint === 'certificates_pkey'
      ? 'serial'
      : violation.constraint === 'certificates_fingerprint_key'
        ? 'fingerprint'
        : { code: violation.state };
  // Without a key in the detail (a CHECK), only a batch of one names its record.
  const culprit =
    key === null
      ? records.length === 1
        ? records[0]
        : undefined
      : records.find((record) => (key[1] === 'serial' ? record.serial : record.fingerprint) === key[2]);
  const detail =
    culprit === undefined
      ? `a certificate of the batch breaks a ledger constraint (${describeViolation(violation)})`
      : recordConflictDetail(culprit, kind);
  return new DomainError('conflict', detail, { cause: error });
}

/** revoke's constraint failures, worded as on SQLite. */
export function revokeConflict(error: unknown, serial: string): unknown {
  return toPostgresConflict(error, (violation) => `revoking ${serial} breaks a ledger constraint (${describeViolation(violation)})`);
}
