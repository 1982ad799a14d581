/**
 * The SVID front end's ports (STYLE §2.3): what it needs from the ledger and
 * the Authority (declared here, fitted structurally by src/ledger and src/ca
 * in cli/compose.ts), and what it offers the HTTP routes and the CLI.
 */
import type { JwtAuthorityJwk } from '../domain/jwt-keys.js';
import type { Awaitable } from '../shared/awaitable.js';
import type {
  EntryPage,
  EntryQuery,
  JoinTokenPage,
  JoinTokenQuery,
  JoinTokenRecord,
  JoinTokenSummary,
  NewRegistrationEntry,
  RegistrationEntry,
  RegistrationEntryPatch,
} from '../domain/entries.js';

// ---------------------------------------------------------------- needs

/**
 * Registration entries in the ledger. Results are Awaitable: the SQLite
 * ledger answers at once, PostgreSQL with a promise; the service awaits both.
 */
export interface EntryStore {
  /** DomainError('conflict') when an entry with the same spiffeId and parentId exists. */
  create(entry: NewRegistrationEntry, now: number): Awaitable<RegistrationEntry>;
  get(id: string): Awaitable<RegistrationEntry | undefined>;
  list(query: EntryQuery): Awaitable<EntryPage>;
  /** Every entry naming this SPIFFE ID (one per parent). */
  findBySpiffeId(spiffeId: string): Awaitable<readonly RegistrationEntry[]>;
  /** DomainError('notFound') for an unknown id; 'conflict' if the change collides with another entry. */
  update(id: string, patch: RegistrationEntryPatch, now: number): Awaitable<RegistrationEntry>;
  /** false when there was no such entry. */
  delete(id: string): Awaitable<boolean>;
}

export type RedeemOutcome =
  | { readonly ok: true; readonly record: JoinTokenRecord }
  | { readonly ok: false; readonly reason: 'unknown' | 'used' | 'expired' | 'revoked' };

/** One-time join tokens, stored only as SHA-256 hashes; Awaitable results, as EntryStore. */
export interface JoinTokenStore {
  create(record: JoinTokenRecord): Awaitable<void>;
  /**
   * Marks the token used in one committed transaction if it is known, unused and
   * unexpired at `now`; of concurrent redemptions of one token (on any node) exactly one succeeds.
   */
  redeem(tokenHash: string, now: number): Awaitable<RedeemOutcome>;
  /** Records the serial of the node certificate issued for a redeemed token. */
  attachSerial(tokenHash: string, serial: string): Awaitable<void>;
  /** One page of tokens in creation order, never with their hashes; status judged at query.now. */
  list(query: JoinTokenQuery): Awaitable<JoinTokenPage>;
  /** Revokes an unused token by id: 'notFound' for an unknown id, 'conflict' when already used or revoked. */
  revoke(id: string, now: number): Awaitable<JoinTokenSummary>;
}

/** The Authority's issuance pipeline, reduced to what SVIDs need (src/ca Authority fits it). */
export interface SvidIssuer {
  issue(
    request: {
      readonly publicKey: Uint8Array;
      readonly spiffeId: string;
      readonly dnsNames?: readonly string[];
      readonly ttlMs?: number;
      readonly requester: string;
      /** Id of an admin registration entry that lets a workload requester obtain an /admin/ SVID (see IssueRequest.adminGrant). */
      readonly adminGrant?: string;
    },
    profile: 'svid' | 'node',
  ): Promise<{ readonly serial: string; readonly chainPem: string; readonly notBefore: number; readonly notAfter: number }>;
  /** The trust bundle (root certificates) as PEM. */
  bundlePem(): string;
}

/** The JWT-SVID signing keys (src/ca JwtKeyRing fits it, and a single JwtAuthority). */
export interface JwtSigner {
  /** A compact JWS with the key active now: header { alg: 'ES256', kid, typ: 'JWT' }, the given claims. */
  sign(claims: { readonly sub: string; readonly aud: readonly string[]; readonly iat: number; readonly exp: number }): Promise<string>;
  /**
   * The public keys as the SPIFFE bundle carries them (use 'jwt-svid', with kid): during a
   * rotation the prepared key (before it signs) and the retired one (until its last token expires) too.
   */
  publishedJwks(): readonly JwtAuthorityJwk[];
}

export type { JwtAuthorityJwk } from '../domain/jwt-keys.js';

// ---------------------------------------------------------------- offers

/** Who is calling, from the verified client certificate (http's Principal fits it). */
export interface SvidCaller {
  readonly spiffeId: string;
  readonly serial: string;
  readonly kind: 'workload' | 'node' | 'admin';
}

export interface X509SvidRequest {
  /** PEM, or base64 / base64url DER PKCS#10. */
  readonly csr: string;
  readonly spiffeId: string;
  /** Optional shorter lifetime; above the entry's TTL is refused ('malformed'). */
  readonly ttlMs?: number;
}

export interface X509Svid {
  readonly spiffeId: string;
  readonly serial: string;
  /** The registration entry that granted it; null for a node identity from a join token. */
  readonly entryId: string | null;
  /** Leaf, then the intermediate, PEM. */
  readonly certChainPem: string;
  /** The trust bundle, PEM. */
  readonly bundlePem: string;
  readonly expiresAt: number;
  /** Half the lifetime after issuance (not the backdated notBefore), with ±10% jitter. */
  readonly renewAfter: number;
}

/** One result of a batch: each request stands alone. */
export type BatchResult =
  | { readonly ok: true; readonly svid: X509Svid }
  | { readonly ok: false; readonly error: { readonly kind: string; readonly detail: string } };

export interface JwtSvidRequest {
  readonly audience: readonly string[];
  /** Default: the caller's own SPIFFE ID. */
  readonly spiffeId?: string;
}

export interface JwtSvid {
  readonly token: string;
  readonly spiffeId: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export interface JoinTokenAttestation {
  readonly token: string;
  readonly csr: string;
}

export interface CreatedJoinToken {
  /** Public name of the token (listings, revoke). */
  readonly id: string;
  /** Shown once; only its hash is stored. */
  readonly token: string;
  readonly spiffeId: string;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly createdBy: string;
}

/** Input for creating an entry, before defaults (TTLs) are applied. */
export type EntryInput = RegistrationEntryPatch & {
  readonly spiffeId: string;
  readonly parentId: string;
};

/**
 * What the HTTP routes and the CLI call. Refusals are DomainErrors
 * (malformed, badCSR, forbidden with the reason, rejectedIdentifier,
 * rateLimited, notFound, conflict) and write nothing to the ledger.
 */
export interface SvidApi {
  issueX509(caller: SvidCaller, request: X509SvidRequest): Promise<X509Svid>;
  /** 1..100 requests; one bad request does not fail the rest. */
  issueX509Batch(caller: SvidCaller, requests: readonly X509SvidRequest[]): Promise<readonly BatchResult[]>;
  issueJwt(caller: SvidCaller, request: JwtSvidRequest): Promise<JwtSvid>;
  /** The one route reachable without a client certificate; rate-limited per client address. Off in strict mode. */
  attestJoinToken(attestation: JoinTokenAttestation, clientAddress: string): Promise<X509Svid>;
  createJoinToken(actor: string, spiffeId: string, ttlMs: number): Promise<CreatedJoinToken>;
  /** Tokens without their hashes; `now` of the query defaults to the service's clock. */
  listJoinTokens(query: Omit<JoinTokenQuery, 'now'>): Promise<{ readonly now: number; readonly page: JoinTokenPage }>;
  /** 'notFound' for an unknown id, 'conflict' when the token was already used or revoked. */
  revokeJoinToken(id: string): Promise<{ readonly now: number; readonly token: JoinTokenSummary }>;

  createEntry(actor: string, input: EntryInput): Promise<RegistrationEntry>;
  getEntry(id: string): Promise<RegistrationEntry>;
  listEntries(query: EntryQuery): Promise<EntryPage>;
  updateEntry(id: string, patch: RegistrationEntryPatch): Promise<RegistrationEntry>;
  deleteEntry(id: string): Promise<void>;

  /** The JWT authorities for the SPIFFE bundle. */
  jwtAuthorities(): readonly JwtAuthorityJwk[];
}
