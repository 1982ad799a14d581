/**
 * What the OCSP front end needs from the rest of keysmith (STYLE §2.3): the
 * ledger read-only, and a signer. src/ledger and src/ca fit these shapes
 * structurally; cli/compose.ts checks each fit with `satisfies`.
 */
import type { Awaitable } from '../shared/awaitable.js';
import type { RevocationReason } from '../domain/certificates.js';
import type { OcspResponseContent } from '../x509/index.js';

/** A serial's ledger status (CertificateRepository.statusOf): asked on every cache hit on SQLite (a local indexed read), never on PostgreSQL (LedgerSourceOptions.cacheCheck). */
export interface OcspSerialStatus {
  readonly status: 'valid' | 'revoked';
  readonly notAfter: number;
  readonly revokedAt: number | null;
  readonly reason: RevocationReason | null;
}

/** The parts of a ledger row a fresh answer is built from. */
export interface OcspCertificateRow {
  /** The issuer DN as the ledger writes it (describeCertificate's text form). */
  readonly issuer: string;
  readonly notAfter: number;
  readonly status: 'valid' | 'revoked';
  readonly revokedAt: number | null;
  readonly revocationReason: RevocationReason | null;
}

/**
 * Read-only ledger access; the responder never writes. Awaitable: the SQLite
 * ledger answers at once (and the responder then answers without a microtask),
 * PostgreSQL with a promise.
 */
export interface OcspLedger {
  statusOf(serial: string): Awaitable<OcspSerialStatus | undefined>;
  findBySerial(serial: string): Awaitable<OcspCertificateRow | undefined>;
}

/** The delegated responder (src/ca/ocsp-signer.ts). */
export interface OcspResponseSigner {
  /** Synchronous; throws when no unexpired responder certificate is at hand (an internal fault). */
  signResponse(content: OcspResponseContent): Uint8Array;
  /** The responder certificate's notAfter: no nextUpdate goes past it. */
  readonly notAfter: number;
}
