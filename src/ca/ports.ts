import type { Awaitable } from '../shared/awaitable.js';
import type { CertificateRecord, NewCertificateRecord, RevocationReason } from '../domain/certificates.js';

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

/** A delegated OCSP responder as the ledger keeps it: its certificate and its wrapped key. */
export interface StoredOcspResponder {
  readonly serial: string;
  readonly certificateDer: Uint8Array;
  /** Encrypted PKCS#8 PEM (responder-key-wrap.ts). */
  readonly wrappedKey: string;
  readonly notAfter: number;
}

/**
 * The OCSP responders the processes on one ledger share (src/ledger
 * ocspResponders, either backend): the newest usable one, recording a new one,
 * and the claim (a lease) that lets one process at a time issue the next.
 */
export interface OcspResponderStore {
  /** The newest responder of `issuer` whose certificate is valid and unexpired at `now`. */
  newest(issuer: string, now: number): Awaitable<StoredOcspResponder | undefined>;
  /** The certificate (`serial`) is in the ledger already. */
  record(serial: string, wrappedKey: string, recordedAt: number): Awaitable<void>;
  /** True when `holder` may issue the next responder until now + ttlMs. */
  claimRotation(holder: string, now: number, ttlMs: number): Awaitable<boolean>;
  releaseRotation(holder: string): Awaitable<void>;
}
