/**
 * The ACME front end's ports (STYLE §2.3): what it needs from the ledger and
 * the Authority, declared here and fitted structurally by src/ledger
 * (`ledger.acme`, `ledger.certificates`) and src/ca (`Authority`) in cli/compose.ts.
 * Store methods return Awaitable (SQLite answers at once, PostgreSQL later) and
 * are always awaited, so the front end never knows which backend runs; each
 * write is one transaction.
 */
import type { Awaitable } from '../shared/awaitable.js';
import type { ParsedCsr } from '../x509/index.js';
import type {
  AcmeAccountRecord,
  AcmeAuthorizationRecord,
  AcmeChallengeRecord,
  AcmeEabKeyRecord,
  AcmeIdentifierRecord,
  AcmeOrderRecord,
  CreateOrderOutcome,
  NewAcmeAccount,
  NewAcmeOrder,
  ValidationRecord,
} from '../domain/acme.js';
import type { Clock } from '../shared/clock.js';
import type { RateLimit } from '../shared/rate-limit.js';
import type { CertificateRecord, ProfileName, RevocationReason } from '../domain/certificates.js';
import type { ChallengeValidator } from './validation/types.js';

/**
 * The ACME ledger, one port per aggregate (`ledger.acme` of either backend
 * fits). A write that changes more than one aggregate (a failed validation
 * failing its orders, a deactivated account's orders) is one transaction of
 * the aggregate whose change causes it.
 */
export interface AcmeStore {
  readonly eabKeys: AcmeEabKeyStore;
  readonly accounts: AcmeAccountStore;
  readonly orders: AcmeOrderStore;
  readonly authorizations: AcmeAuthorizationStore;
}

/** External Account Binding keys (RFC 8555 §7.3.4). */
export interface AcmeEabKeyStore {
  /** DomainError('conflict') when the key id exists. */
  createEabKey(key: AcmeEabKeyRecord): Awaitable<void>;
  findEabKey(keyId: string): Awaitable<AcmeEabKeyRecord | undefined>;
}

/** Accounts (RFC 8555 §7.3). */
export interface AcmeAccountStore {
  /**
   * One transaction: inserts the account and, with an eabKeyId, binds that key
   * to it. DomainError('conflict') when the key thumbprint is taken or the EAB
   * key is already bound; 'notFound' for an unknown EAB key.
   */
  createAccount(account: NewAcmeAccount): Awaitable<AcmeAccountRecord>;
  findAccount(id: string): Awaitable<AcmeAccountRecord | undefined>;
  findAccountByThumbprint(thumbprint: string): Awaitable<AcmeAccountRecord | undefined>;
  updateAccountContact(id: string, contact: readonly string[]): Awaitable<AcmeAccountRecord>;
  /** Also invalidates the account's pending orders and authorizations. */
  deactivateAccount(id: string): Awaitable<AcmeAccountRecord>;
  /** DomainError('conflict') when another account holds the new thumbprint. */
  changeAccountKey(id: string, jwk: string, thumbprint: string): Awaitable<AcmeAccountRecord>;
}

/** Orders and their finalize states (RFC 8555 §7.4). */
export interface AcmeOrderStore {
  /** One transaction: the order, its new authorizations and challenges, and the links to reused ones. */
  createOrder(order: NewAcmeOrder, now: number): Awaitable<CreateOrderOutcome>;
  findOrder(id: string): Awaitable<AcmeOrderRecord | undefined>;
  /** The account's order ids, newest first. */
  listOrderIds(accountId: string, limit: number): Awaitable<readonly string[]>;
  /**
   * processing -> ready for orders whose finalize a stopped process never
   * answered; returns how many. With several nodes on one database, only
   * those no live node can still be running (the backend knows which).
   */
  resetInterruptedFinalizations(): Awaitable<number>;
  /** ready -> processing; false when the order was not ready (another finalize, on any node, got there first). */
  beginFinalize(orderId: string): Awaitable<boolean>;
  /** processing -> ready, after a refused CSR or a failed issuance. */
  abortFinalize(orderId: string): Awaitable<void>;
  /** processing -> valid with its certificate. */
  completeFinalize(orderId: string, serial: string): Awaitable<AcmeOrderRecord>;
}

/** Authorizations with their challenges, and validation outcomes (RFC 8555 §7.5). */
export interface AcmeAuthorizationStore {
  findAuthorization(id: string): Awaitable<AcmeAuthorizationRecord | undefined>;
  /** A valid authorization of this account for this identifier that is still valid after `validUntilAtLeast`. */
  findReusableAuthorization(
    accountId: string,
    identifier: AcmeIdentifierRecord,
    isWildcard: boolean,
    validUntilAtLeast: number,
  ): Awaitable<AcmeAuthorizationRecord | undefined>;
  findChallenge(id: string): Awaitable<AcmeChallengeRecord | undefined>;
  /** The authorization holding this challenge, with all its challenges, in one read. */
  findChallengeAuthorization(challengeId: string): Awaitable<AcmeAuthorizationRecord | undefined>;
  /** pending -> processing, only while its authorization is pending and unexpired; false otherwise. */
  startChallenge(challengeId: string, now: number): Awaitable<boolean>;
  /**
   * One transaction: the challenge, its authorization, and every pending order
   * holding that authorization (ready when all its authorizations are valid;
   * invalid on failure). Returns how many orders it made invalid (metrics).
   */
  recordValidation(challengeId: string, outcome: ValidationRecord): Awaitable<number>;
  /** RFC 8555 §7.5.2; pending orders holding it become invalid. false when it was not pending or valid. */
  deactivateAuthorization(id: string): Awaitable<boolean>;
  /** Challenges left `processing` by a process that stopped mid-validation (validated again at start). */
  listInterruptedChallenges(): Awaitable<readonly AcmeChallengeRecord[]>;
}

/**
 * The record of spent nonces (`ledger.nonces` fits, on either backend): what
 * makes a nonce minted by any node acceptable once on any node (nonces.ts).
 */
export interface NonceLedger {
  /** Records the id as spent until expiresAt: true the first time, false for a replay (from any node) or once expired at now. */
  spend(nonceId: string, expiresAt: number, now: number): Awaitable<boolean>;
  /** Deletes up to `limit` rows expired at `now`; returns how many went. */
  pruneExpired(now: number, limit: number): Awaitable<number>;
}

/** Where nonces are spent and the key that MACs them. */
export interface AcmeNonceDeps {
  readonly ledger: NonceLedger;
  /**
   * At least 32 bytes; every node of a cluster must have the same (serve
   * derives it from the cluster secret). Default: random for this server, so
   * no other process (and no later start) accepts its nonces.
   */
  readonly key?: Uint8Array;
  /** How long a nonce stays good (default 1 h). */
  readonly lifetimeMs?: number;
}

/** Ledger reads (`ledger.certificates` of either backend fits; awaited). */
export interface AcmeCertificateLookup {
  findBySerial(serial: string): Awaitable<CertificateRecord | undefined>;
}

/** What finalize hands the Authority (src/ca IssueRequest, the tls-server subset). */
export interface AcmeIssueRequest {
  readonly publicKey: Uint8Array;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly notBefore?: number;
  readonly notAfter?: number;
  readonly requester: string;
}

/** The src/ca Authority, as ACME uses it. */
export interface AcmeAuthority {
  issue(request: AcmeIssueRequest, profile: ProfileName): Promise<{ readonly serial: string; readonly chainPem: string }>;
  /** Settles once the revocation is committed; rejects with DomainError('conflict') when already revoked. */
  revoke(serial: string, reason: RevocationReason): Promise<unknown>;
  /** The intermediate travels in every downloaded chain. */
  readonly material: { readonly intermediate: { readonly certPem: string } };
  /** No certificate outlives the intermediate: a newOrder notAfter past it is refused, not cut. */
  readonly issuerNotAfter: number;
  /** How far the Authority backdates notBefore: a requested notBefore older than now minus this cannot be honoured. */
  readonly backdateMs: number;
  /** The tls-server profile's ceiling on a lifetime (397 days): policy.maxCertificateTtlMs defaults to it and may not exceed it. */
  readonly tlsServerTtlCeilingMs: number;
}

export interface AcmePolicy {
  /** DNS names equal to one of these, or ending in '.' + one of these, are allowed. Empty: no DNS name is. */
  readonly allowedSuffixes: readonly string[];
  /** CIDRs; empty: no IP address is. */
  readonly allowedIpRanges: readonly string[];
  readonly eabRequired: boolean;
  /** Longest notAfter - notBefore a newOrder may ask for; default (and ceiling) the authority's tlsServerTtlCeilingMs, 397 days. */
  readonly maxCertificateTtlMs?: number;
}

export interface AcmeMeta {
  readonly termsOfService?: string;
  readonly website?: string;
}

export interface AcmeLimits {
  /** new-account per client address. */
  readonly newAccountPerAddress?: RateLimit;
  /** new-nonce per client address. */
  readonly noncePerAddress?: RateLimit;
  /** new-order per account. */
  readonly newOrderPerAccount?: RateLimit;
  /** finalize per account. */
  readonly finalizePerAccount?: RateLimit;
}

/** Caps on challenge validations (src/acme/validation/scheduler.ts); each defaults as DEFAULT_VALIDATION_LIMITS says. */
export interface AcmeValidationLimits {
  /** Validations in flight at once, all accounts together (bounds the sockets validation holds). */
  readonly maxInFlight?: number;
  /** Validations in flight at once for one account. */
  readonly maxInFlightPerAccount?: number;
  /** Validations waiting, all accounts together; past it a challenge response is answered rateLimited. */
  readonly maxQueued?: number;
  /** Validations waiting for one account. */
  readonly maxQueuedPerAccount?: number;
}

/** What a finished background validation reports (tests and the bench await it). */
export interface ValidationEvent {
  readonly challengeId: string;
  readonly authorizationId: string;
  readonly type: AcmeChallengeRecord['type'];
  readonly ok: boolean;
  readonly durationMs: number;
}

export interface AcmeServerDeps {
  /** e.g. https://127.0.0.1:8443/acme; the directory is `${baseUrl}/directory` and JWS urls are `${baseUrl}${path}`. */
  readonly baseUrl: string;
  readonly store: AcmeStore;
  /** RFC 8555 §6.5: the nonces' MAC key and the spent-nonce record. */
  readonly nonces: AcmeNonceDeps;
  readonly certificates: AcmeCertificateLookup;
  readonly authority: AcmeAuthority;
  readonly validator: ChallengeValidator;
  readonly clock: Clock;
  readonly policy: AcmePolicy;
  readonly meta?: AcmeMeta;
  readonly limits?: AcmeLimits;
  readonly validationLimits?: AcmeValidationLimits;
  /**
   * Checks a finalize CSR as csr.ts `parseCsr` does (same result, same
   * errors): the composition root hands in the crypto worker pool's, so the
   * parse, import and signature check run off the event loop. Default
   * parseCsr here. It may also refuse with `busy` (the pool at capacity).
   */
  readonly checkCsr?: (csr: string) => Promise<ParsedCsr>;
  /** Accounts whose imported key is cached (account-keys.ts); default 10,000, 0 turns the cache off. */
  readonly accountKeyCacheSize?: number;
  /** Randomness for ids, tokens and nonces; default node:crypto, drawn a block at a time (shared/random.ts). */
  readonly random?: (length: number) => Uint8Array;
  /** Called after each background validation is recorded. Must not throw. */
  readonly onValidated?: (event: ValidationEvent) => void;
  /**
   * Called when an order reaches a final status (RFC 8555 §7.1.6), after it is
   * recorded: valid when finalize issued its certificate, invalid when a
   * failed validation made its authorization invalid. Metrics; must not throw.
   */
  readonly onOrderEnded?: (outcome: 'valid' | 'invalid') => void;
  /** Internal failures (the reply says only "internal error"); the error never holds keys or JWS bodies. */
  readonly onInternalError?: (error: unknown, context: { readonly method: string; readonly path: string }) => void;
}
