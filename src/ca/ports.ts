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
 * Synchronous, like better-sqlite3, except `recordIssued`, which may return a
 * promise; each write is one transaction (or one row of a group commit).
 */
export interface CertificateStore {
  isSerialTaken(serial: string): boolean;
  /**
   * Durable on return (or when the returned promise settles: a group-commit
   * writer batches rows); the Authority awaits it before handing anything out.
   * Fails with DomainError('conflict') for a serial already present.
   */
  recordIssued(record: NewCertificateRecord): void | Promise<void>;
  findBySerial(serial: string): CertificateRecord | undefined;
  /** DomainError('notFound') for an unknown serial. */
  revoke(serial: string, reason: RevocationReason, revokedAt: number): CertificateRecord;
  statusOf(serial: string): SerialStatus | undefined;
}
