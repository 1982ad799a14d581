/**
 * Registration entries and join tokens: the vocabulary shared by the ledger
 * (which stores them), the SVID front end (which enforces them), the HTTP
 * routes and the CLI. Times are ms since the epoch (UTC).
 */

/**
 * Which parent may obtain which SPIFFE ID, and with what lifetime and DNS
 * names (SPIRE's registration entry, reduced to what keysmith enforces).
 */
export interface RegistrationEntry {
  /** Stable, opaque, URL-safe (e.g. a UUID); never reused. */
  readonly id: string;
  readonly spiffeId: string;
  /** The SPIFFE ID that may request SVIDs for this entry (a node, or another workload). */
  readonly parentId: string;
  /** X.509-SVID lifetime in ms (default 1 h, at most the configured maximum, 24 h by default). */
  readonly x509TtlMs: number;
  /** JWT-SVID lifetime in ms (default 5 min). */
  readonly jwtTtlMs: number;
  /** Lowercase DNS names added as SANs after the SPIFFE ID. */
  readonly dnsNames: readonly string[];
  /** Holders of this entry's SVIDs may call the admin routes (their SPIFFE ID must lie under /admin/). */
  readonly admin: boolean;
  /** After this instant the entry grants nothing; null: no expiry. */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Who created it: 'cli:<user>' or the admin's SPIFFE ID. */
  readonly createdBy: string;
}

export type NewRegistrationEntry = Omit<RegistrationEntry, 'createdAt' | 'updatedAt'>;

/** What PATCH may change; absent fields keep their value, `expiresAt: null` clears the expiry. */
export interface RegistrationEntryPatch {
  readonly parentId?: string;
  readonly x509TtlMs?: number;
  readonly jwtTtlMs?: number;
  readonly dnsNames?: readonly string[];
  readonly admin?: boolean;
  readonly expiresAt?: number | null;
}

export interface EntryQuery {
  readonly spiffeId?: string;
  readonly parentId?: string;
  /** Keyset pagination: the `nextCursor` of the previous page. */
  readonly cursor?: string;
  /** 1..500, default 100. */
  readonly limit?: number;
}

export interface EntryPage {
  readonly items: readonly RegistrationEntry[];
  readonly nextCursor: string | null;
}

/**
 * A one-time join token as stored: only the SHA-256 of the token, never the
 * token itself. The token names the node identity it attests.
 */
export interface JoinTokenRecord {
  /** Public name of the token ('jt-' and 18 hex digits): what listings show and revoke takes. */
  readonly id: string;
  /** Lowercase hex SHA-256 of the token string. */
  readonly tokenHash: string;
  /** spiffe://<td>/node/<name> */
  readonly spiffeId: string;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly createdBy: string;
  /** Set once, when the token is redeemed. */
  readonly usedAt: number | null;
  /** Serial of the node certificate issued for it. */
  readonly usedBySerial: string | null;
  /** Set once, by `keysmith tokens revoke`: a revoked token is never redeemed. */
  readonly revokedAt: number | null;
}

/** A token as listings show it: never its hash (it identifies a live credential). */
export type JoinTokenSummary = Omit<JoinTokenRecord, 'tokenHash'>;

/** Where a token stands at a given time. */
export const JOIN_TOKEN_STATUSES = ['unused', 'used', 'expired', 'revoked'] as const;
export type JoinTokenStatus = (typeof JOIN_TOKEN_STATUSES)[number];

/** expiresAt is the first instant the token no longer works (as redemption judges it). */
export function joinTokenStatus(token: Pick<JoinTokenRecord, 'usedAt' | 'revokedAt' | 'expiresAt'>, now: number): JoinTokenStatus {
  if (token.revokedAt !== null) return 'revoked';
  if (token.usedAt !== null) return 'used';
  return now >= token.expiresAt ? 'expired' : 'unused';
}

const JOIN_TOKEN_ID = /^jt-[0-9a-f]{18}$/;

export function isJoinTokenId(value: string): boolean {
  return JOIN_TOKEN_ID.test(value);
}

export interface JoinTokenQuery {
  readonly status?: JoinTokenStatus;
  readonly spiffeId?: string;
  /** The time status is judged at. */
  readonly now: number;
  readonly cursor?: string;
  /** 1..500, default 100. */
  readonly limit?: number;
}

export interface JoinTokenPage {
  readonly items: readonly JoinTokenSummary[];
  readonly nextCursor: string | null;
}
