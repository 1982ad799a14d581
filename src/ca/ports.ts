import type { Awaitable } from '../shared/awaitable.js';
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
 * Every result is Awaitable (shared/awaitable.ts): the SQLite repository
 * answers at once, the PostgreSQL one and group commit with promises; the
 * Authority awaits each. Each write is one transaction (or one row of a group commit).
 */
export interface CertificateStore {
  isSerialTaken(serial: string): Awaitable<boolean>;
  /**
   * Durable when it returns or its promise resolves (a group-commit writer
   * batches rows); the Authority awaits it before handing anything out.
   * Fails with DomainError('conflict') for a serial already present.
   */
  recordIssued(record: NewCertificateRecord): Awaitable<void>;
  findBySerial(serial: string): Awaitable<CertificateRecord | undefined>;
  /** DomainError('notFound') for an unknown serial, 'conflict' when already revoked. */
  revoke(serial: string, reason: RevocationReason, revokedAt: number): Awaitable<CertificateRecord>;
  statusOf(serial: string): Awaitable<SerialStatus | undefined>;
}
