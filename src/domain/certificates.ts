/**
 * The ledger's vocabulary, shared by the modules that read or write it
 * (ca, http, cli) so ports can be declared without importing the ledger.
 */

export const PROFILE_NAMES = ['svid', 'tls-server', 'node', 'ocsp-signer', 'intermediate', 'root'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** RFC 5280 §5.3.1 CRLReason names and codes (7 is unused). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

const REASONS_BY_CODE: ReadonlyMap<number, RevocationReason> = new Map(
  Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]),
);

/** The name of a CRLReason code as a CRL entry or an OCSP response carries it (RFC 5280 §5.3.1); undefined for a code it does not define. */
export function revocationReasonOf(code: number): RevocationReason | undefined {
  return REASONS_BY_CODE.get(code);
}

/**
 * The reasons an operator may give to revoke, on every surface (the HTTP
 * API's schema and `keysmith revoke` both take this list). removeFromCRL
 * (RFC 5280 §5.3.1) only appears in delta CRLs to undo a certificateHold, so
 * it is never a reason to revoke.
 */
export const REVOCABLE_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
] as const satisfies readonly RevocationReason[];
export type RevocableReason = (typeof REVOCABLE_REASONS)[number];

export function isRevocableReason(value: string): value is RevocableReason {
  return REVOCABLE_REASONS.some((reason) => reason === value);
}

/** What the ledger stores: revocation is a fact written down; expiry is not (it follows from notAfter and the time). */
export type CertificateStatus = 'valid' | 'revoked';

/**
 * The status a listing shows and filters on: a stored 'valid' whose notAfter
 * has passed is 'expired'. RFC 5280 §4.1.2.5: the validity period includes
 * notAfter, so a certificate is expired only once now > notAfter.
 */
export const LISTED_STATUSES = ['valid', 'expired', 'revoked'] as const;
export type ListedStatus = (typeof LISTED_STATUSES)[number];

export function listedStatus(record: { readonly status: CertificateStatus; readonly notAfter: number }, now: number): ListedStatus {
  if (record.status === 'revoked') return 'revoked';
  return now > record.notAfter ? 'expired' : 'valid';
}

export interface SubjectAltName {
  readonly type: 'dns' | 'ip' | 'uri' | 'email';
  readonly value: string;
}

/** One row of the ledger: a certificate keysmith issued. Times are ms since the epoch (UTC). */
export interface CertificateRecord {
  /** Lowercase hex, no leading zero octet. */
  readonly serial: string;
  readonly issuer: string;
  readonly subject: string;
  readonly sans: readonly SubjectAltName[];
  readonly spiffeId: string | null;
  readonly profile: ProfileName;
  /** Who asked: a SPIFFE ID, 'cli:<user>', 'acme:<account>', or 'system'. */
  readonly requester: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly status: CertificateStatus;
  readonly revokedAt: number | null;
  readonly revocationReason: RevocationReason | null;
  readonly der: Uint8Array;
  /** SHA-256 of the DER, lowercase hex. */
  readonly fingerprint: string;
  readonly issuedAt: number;
}

/** What the issuance pipeline writes; status starts valid. */
export type NewCertificateRecord = Omit<CertificateRecord, 'status' | 'revokedAt' | 'revocationReason'>;

/**
 * Which expiring certificates a listing shows. 'attention' (the default):
 * those that need a person, i.e. every profile but svid, plus SVIDs whose
 * SPIFFE ID stopped renewing (the newest certificate of that SPIFFE ID, past
 * its renewal point at half its lifetime). 'all': every valid certificate.
 */
export type ExpiryScope = 'attention' | 'all';

export const EXPIRY_SCOPES: readonly ExpiryScope[] = ['attention', 'all'];

export interface CertificateQuery {
  /** Only valid certificates whose notAfter falls within [now, now + ms]. */
  readonly expiringWithinMs?: number;
  /** With expiringWithinMs: which of them (default 'attention'). */
  readonly include?: ExpiryScope;
  /** The time expiry is judged at (expiringWithinMs, and status valid or expired); default the repository's clock. */
  readonly now?: number;
  /** 'valid': stored valid and not past notAfter; 'expired': stored valid, past notAfter; 'revoked'. */
  readonly status?: ListedStatus;
  readonly profile?: ProfileName;
  readonly spiffeId?: string;
  readonly dnsName?: string;
  /** Only certificates whose notAfter is at or after this time (ms). With either bound the listing is in (notAfter, serial) order. */
  readonly expiresAfter?: number;
  /** Only certificates whose notAfter is before this time (ms). */
  readonly expiresBefore?: number;
  /** Keyset pagination: the `nextCursor` of the previous page. */
  readonly cursor?: string;
  /** Page size, 1..500 (default 100). */
  readonly limit?: number;
}

export interface CertificatePage {
  readonly items: readonly CertificateRecord[];
  readonly nextCursor: string | null;
}

/**
 * The expiry timeline's window: certificates not revoked whose notAfter is in
 * [now, to), counted per UTC day from `from` (the start of a UTC day, at or
 * before now).
 */
export interface ExpiryTimelineQuery {
  readonly from: number;
  readonly now: number;
  readonly to: number;
}

/** One cell of the timeline: how many certificates of a profile expire on day `day` (0 = the day starting at `from`). */
export interface ExpiryTimelineCount {
  readonly day: number;
  readonly profile: ProfileName;
  readonly count: number;
}
