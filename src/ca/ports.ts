import type { CertificateRecord, NewCertificateRecord, RevocationReason } from '../shared/records.js';

/** What a ledger says about one serial: enough for mTLS checks and OCSP. */
export interface SerialStatus {
  readonly status: 'valid' | 'revoked';
  readonly notAfter: number;
  readonly revokedAt: number | null;
  readonly reason: RevocationReason | null;
}

/**
 * What the Authority needs from the ledger (the step-ca `acme/db.go`
 * pattern: the consumer declares the port, src/ledger fits it structurally).
 * Synchronous, like better-sqlite3; each write is one transaction.
 */
export interface CertificateStore {
  isSerialTaken(serial: string): boolean;
  /** Durable on return; throws DomainError('conflict') for a serial already present. */
  recordIssued(record: NewCertificateRecord): void;
  findBySerial(serial: string): CertificateRecord | undefined;
  /** DomainError('notFound') for an unknown serial. */
  revoke(serial: string, reason: RevocationReason, revokedAt: number): CertificateRecord;
  statusOf(serial: string): SerialStatus | undefined;
}
