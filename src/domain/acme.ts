/**
 * The ACME vocabulary shared by the protocol (src/acme, which enforces it)
 * and the ledger (src/ledger, which stores it), as certificates.ts is for
 * certificates. Times are ms since the epoch (UTC). Statuses are what is
 * stored; "expired" is worked out from expiresAt when a resource is read.
 */

export type AcmeAccountStatus = 'valid' | 'deactivated' | 'revoked';
export type AcmeOrderStatus = 'pending' | 'ready' | 'processing' | 'valid' | 'invalid';
export type AcmeAuthorizationStatus = 'pending' | 'valid' | 'invalid' | 'deactivated' | 'revoked';
export type AcmeChallengeStatus = 'pending' | 'processing' | 'valid' | 'invalid';
export type AcmeChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';

/** RFC 8555 §9.7.7 identifier types keysmith supports (dns, and ip from RFC 8738). */
export interface AcmeIdentifierRecord {
  readonly type: 'dns' | 'ip';
  /** Lowercase DNS name (a wildcard keeps its '*.' here) or canonical IP text. */
  readonly value: string;
}

/** An RFC 8555 §6.7 problem as stored on a failed challenge or order. */
export interface AcmeStoredProblem {
  readonly type: string;
  readonly detail: string;
}

export interface AcmeAccountRecord {
  /** Random, URL-safe. */
  readonly id: string;
  /** RFC 7638 SHA-256 thumbprint of the account key, base64url; unique. */
  readonly keyThumbprint: string;
  /** The account's public JWK, JSON text, only the RFC 7638 required members. */
  readonly jwk: string;
  readonly status: AcmeAccountStatus;
  /** mailto: URLs. */
  readonly contact: readonly string[];
  readonly eabKeyId: string | null;
  readonly createdAt: number;
}

export interface AcmeEabKeyRecord {
  readonly keyId: string;
  /** The HMAC key (RFC 8555 §7.3.4); kept because every binding must be checked against it. */
  readonly hmacKey: Uint8Array;
  readonly createdAt: number;
  /** Who made it, e.g. 'cli:<user>'. */
  readonly createdBy: string;
  readonly boundAccount: string | null;
  readonly boundAt: number | null;
  /** Set once, by `keysmith acme eab revoke`: a revoked key binds no new account. */
  readonly revokedAt: number | null;
}

/** An EAB key as listings show it: never the HMAC key. */
export type AcmeEabKeySummary = Omit<AcmeEabKeyRecord, 'hmacKey'>;

export const EAB_KEY_STATUSES = ['unbound', 'bound', 'revoked'] as const;
export type EabKeyStatus = (typeof EAB_KEY_STATUSES)[number];

export function eabKeyStatus(key: Pick<AcmeEabKeyRecord, 'boundAccount' | 'revokedAt'>): EabKeyStatus {
  if (key.revokedAt !== null) return 'revoked';
  return key.boundAccount === null ? 'unbound' : 'bound';
}

export interface AcmeEabKeyQuery {
  readonly status?: EabKeyStatus;
  readonly cursor?: string;
  /** 1..500, default 100. */
  readonly limit?: number;
}

export interface AcmeEabKeyPage {
  readonly items: readonly AcmeEabKeySummary[];
  readonly nextCursor: string | null;
}

export interface AcmeChallengeRecord {
  readonly id: string;
  readonly authorizationId: string;
  readonly type: AcmeChallengeType;
  /** base64url of 32 random bytes. */
  readonly token: string;
  readonly status: AcmeChallengeStatus;
  readonly validatedAt: number | null;
  readonly error: AcmeStoredProblem | null;
}

export interface AcmeAuthorizationRecord {
  readonly id: string;
  readonly accountId: string;
  /** The name without its wildcard label (RFC 8555 §7.1.4). */
  readonly identifier: AcmeIdentifierRecord;
  readonly isWildcard: boolean;
  readonly status: AcmeAuthorizationStatus;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly challenges: readonly AcmeChallengeRecord[];
}

export interface AcmeOrderRecord {
  readonly id: string;
  readonly accountId: string;
  readonly status: AcmeOrderStatus;
  /** As asked for, normalized; wildcards keep '*.'. */
  readonly identifiers: readonly AcmeIdentifierRecord[];
  readonly notBefore: number | null;
  readonly notAfter: number | null;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly error: AcmeStoredProblem | null;
  /** Lowercase hex serial once the order is valid. */
  readonly certificateSerial: string | null;
  /** RFC 9773 §5: the certID this order replaces, and that certificate's serial. */
  readonly replaces: string | null;
  readonly replacesSerial: string | null;
  readonly authorizationIds: readonly string[];
}

export type NewAcmeAccount = Omit<AcmeAccountRecord, 'status'>;

export type NewAcmeChallenge = Omit<AcmeChallengeRecord, 'status' | 'validatedAt' | 'error'>;
export type NewAcmeAuthorization = Omit<AcmeAuthorizationRecord, 'status' | 'challenges'> & {
  readonly challenges: readonly NewAcmeChallenge[];
};

export interface NewAcmeOrder {
  readonly id: string;
  readonly accountId: string;
  /** 'ready' when every authorization is a reused valid one. */
  readonly status: 'pending' | 'ready';
  readonly identifiers: readonly AcmeIdentifierRecord[];
  readonly notBefore: number | null;
  readonly notAfter: number | null;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly replaces: string | null;
  readonly replacesSerial: string | null;
  readonly newAuthorizations: readonly NewAcmeAuthorization[];
  readonly reusedAuthorizationIds: readonly string[];
}

export type CreateOrderOutcome =
  | { readonly ok: true; readonly order: AcmeOrderRecord }
  /** RFC 9773 §5: another live order already replaces that certificate. */
  | { readonly ok: false; readonly reason: 'alreadyReplaced' };

export type ValidationRecord =
  | { readonly ok: true; readonly validatedAt: number; readonly authorizationExpiresAt: number }
  | { readonly ok: false; readonly error: AcmeStoredProblem };
