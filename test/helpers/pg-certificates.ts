import type { CertificateStore } from '../../src/ca/index.js';
import type { SqlRunner } from '../../src/ledger/postgres/database.js';
import type { NewCertificateRecord, RevocationReason } from '../../src/shared/records.js';

/**
 * Certificate rows on PostgreSQL for the tests of the CRL and OCSP slices,
 * written with plain SQL: the PostgreSQL CertificateRepository is ported in
 * another change of this wave. Once it is merged, these tests can take it
 * instead (the rows are the same).
 */

export interface RowState {
  readonly revokedAt?: number;
  readonly reason?: RevocationReason;
}

export async function insertCertificateRow(db: SqlRunner, record: NewCertificateRecord, state: RowState = {}): Promise<void> {
  const isRevoked = state.revokedAt !== undefined;
  await db.run(
    `INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after, issued_at,
                               status, revoked_at, revocation_reason, der, fingerprint, sans)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
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
      isRevoked ? 'revoked' : 'valid',
      state.revokedAt ?? null,
      isRevoked ? (state.reason ?? 'unspecified') : null,
      Buffer.from(record.der),
      record.fingerprint,
      JSON.stringify(record.sans),
    ],
  );
}

/**
 * The Authority's store over PostgreSQL, for issuing in tests: records rows
 * (committed before `issue` returns, as the port requires). Serials are 64+
 * random bits, so isSerialTaken answers false without asking; the lookups
 * the issuance path does not use are refused.
 */
export function pgCertificateWriter(db: SqlRunner): CertificateStore {
  const refuse = (): never => {
    throw new Error('not part of the test writer: the PostgreSQL CertificateRepository comes with its own change');
  };
  return {
    isSerialTaken: () => false,
    recordIssued: (record) => insertCertificateRow(db, record),
    findBySerial: refuse,
    revoke: refuse,
    statusOf: refuse,
  };
}
