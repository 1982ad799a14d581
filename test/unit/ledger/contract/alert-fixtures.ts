import type { OpenedLedger } from '../../../../src/ledger/index.js';
import { latestParams, RECORD_LATEST_PER_SPIFFE_ID } from '../../../../src/ledger/attention.js';
import { encodeSans, namesOf } from '../../../../src/ledger/certificate-rows.js';
import { bindNamed } from '../../../../src/ledger/postgres/named-params.js';
import type { NewCertificateRecord, RevocationReason } from '../../../../src/shared/records.js';

/**
 * Certificate rows for the alert contract tests, on either backend. On SQLite
 * the certificate repository records them; on PostgreSQL this writes the same
 * rows (certificates, certificate_names, spiffe_latest) with the ledger's own
 * row helpers, until the PostgreSQL certificate repository is on this branch:
 * then both sides become `await ledger.certificates.recordIssued(record)`.
 */

export async function recordCertificate(opened: OpenedLedger, record: NewCertificateRecord): Promise<void> {
  if (opened.kind === 'sqlite') {
    opened.ledger.certificates.recordIssued(record);
    return;
  }
  await opened.ledger.database.transaction(async (tx) => {
    await tx.run(
      `INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after, issued_at, status, der, fingerprint, sans)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'valid', $10, $11, $12)`,
      [
        record.serial,
        record.issuer,
        record.subject,
        record.spiffeId,
        record.profile,
        record.requester,
        record.notBefore,
        record.notAfter,
        record.issuedAt,
        Buffer.from(record.der),
        record.fingerprint,
        encodeSans(record.sans),
      ],
    );
    for (const name of namesOf(record.sans)) {
      await tx.run('INSERT INTO certificate_names (serial, type, value) VALUES ($1, $2, $3)', [record.serial, name.type, name.value]);
    }
    if (record.spiffeId !== null) {
      const params = latestParams({ ...record, spiffeId: record.spiffeId });
      const bound = bindNamed(RECORD_LATEST_PER_SPIFFE_ID, { ...params }, { issuedAt: 'bigint', notAfter: 'bigint', lifetimeMs: 'bigint', renewalDueAt: 'bigint' });
      await tx.run(bound.text, bound.values);
    }
  });
}

export async function revokeCertificate(opened: OpenedLedger, serial: string, reason: RevocationReason, revokedAt: number): Promise<void> {
  if (opened.kind === 'sqlite') {
    opened.ledger.certificates.revoke(serial, reason, revokedAt);
    return;
  }
  const changed = await opened.ledger.database.run(
    `UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2 WHERE serial = $3 AND status = 'valid'`,
    [revokedAt, reason, serial],
  );
  if (changed !== 1) throw new Error(`certificate ${serial} was not valid`);
}

/** Empties the alert and certificate tables (PostgreSQL only: a property test reuses one database across its runs). */
export async function emptyPostgresLedger(opened: OpenedLedger): Promise<void> {
  if (opened.kind !== 'postgres') throw new Error('emptyPostgresLedger is for PostgreSQL');
  // DELETE, not TRUNCATE: on a few dozen rows it is several times faster (TRUNCATE makes new files for each table).
  await opened.ledger.database.transaction(async (tx) => {
    for (const table of ['alert_deliveries', 'alert_messages', 'alerts', 'alert_runs', 'leases', 'certificate_names', 'spiffe_latest', 'certificates']) {
      await tx.run(`DELETE FROM ${table}`);
    }
  });
}
