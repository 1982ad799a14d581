import { randomUUID } from 'node:crypto';
import type { Clock } from '../shared/clock.js';
import type {
  EntryPage,
  EntryQuery,
  JoinTokenPage,
  JoinTokenQuery,
  JoinTokenSummary,
  RegistrationEntry,
  RegistrationEntryPatch,
} from '../domain/entries.js';
import { DomainError, isDomainError } from '../shared/errors.js';
import { RateLimiter, type RateLimit } from '../shared/rate-limit.js';
import { parseTrustDomain } from '../shared/spiffe-id.js';
import { parseCsr, type ParsedCsr } from '../x509/index.js';
import { findGrantingEntry } from './authorize.js';
import { checkEntryPatch, checkEntryQuery, checkNewEntry, formatSeconds, SVID_PROFILE_MAX_TTL_MS, type EntryRules } from './entries.js';
import { requireNodeId, requireWorkloadId } from './identity.js';
import {
  checkJoinTokenShape,
  checkJoinTokenTtl,
  hashJoinToken,
  joinTokenRequester,
  newJoinToken,
  redeemRefusal,
  requireSameHash,
} from './join-tokens.js';
import type {
  BatchResult,
  CreatedJoinToken,
  EntryInput,
  EntryStore,
  JoinTokenAttestation,
  JoinTokenStore,
  JwtAuthorityJwk,
  JwtSigner,
  JwtSvid,
  JwtSvidRequest,
  SvidApi,
  SvidCaller,
  SvidIssuer,
  X509Svid,
  X509SvidRequest,
} from './ports.js';
import { cryptoUnitRandom, renewAfter, type UnitRandom } from './renewal.js';

export interface SvidServiceOptions {
  /** Highest x509 TTL an entry may carry; default and ceiling 24 h (the svid profile's maximum). */
  readonly maxX509TtlMs?: number;
  /** False in `strict` mTLS mode: join tokens are then refused. Default true. */
  readonly joinTokensEnabled?: boolean;
  /** Per client address and per node (in memory; N nodes allow N times it); default a burst of 5, then one every 2 s. */
  readonly joinTokenRateLimit?: RateLimit;
  /** The jitter source for renew_after; default node:crypto. */
  readonly random?: UnitRandom;
  /**
   * Checks a CSR as csr.ts `parseCsr` does (same result, same errors): the
   * composition root hands in the crypto worker pool's. Default parseCsr on
   * the event loop.
   */
  readonly checkCsr?: (csr: string | Uint8Array) => Promise<ParsedCsr>;
  /** Told about an unexpected error in one batch item (which the caller sees only as 'internal'), so the root can log it. */
  readonly onInternalError?: (error: unknown) => void;
}

export interface SvidServiceDeps {
  readonly entries: EntryStore;
  readonly joinTokens: JoinTokenStore;
  readonly issuer: SvidIssuer;
  readonly jwtSigner: JwtSigner;
  readonly clock: Clock;
  readonly trustDomain: string;
  readonly options?: SvidServiceOptions;
}

export const DEFAULT_JOIN_TOKEN_RATE_LIMIT: RateLimit = { burst: 5, perSecond: 0.5 };
export const MAX_BATCH_REQUESTS = 100;
export const MAX_JWT_AUDIENCES = 16;
const MAX_AUDIENCE_LENGTH = 512;
const MAX_CLIENT_ADDRESS_LENGTH = 256;
const SECOND = 1000;

/**
 * The SVID signer (SPIRE's server API, reduced): registration entries, join
 * token attestation, X.509- and JWT-SVIDs. It decides who may have which
 * identity; the Authority decides what a certificate looks like and records
 * it. Every refusal is a DomainError thrown before anything is written.
 */
export class SvidService implements SvidApi {
  private readonly entries: EntryStore;
  private readonly joinTokens: JoinTokenStore;
  private readonly issuer: SvidIssuer;
  private readonly jwtSigner: JwtSigner;
  private readonly clock: Clock;
  private readonly rules: EntryRules;
  private readonly joinTokensEnabled: boolean;
  private readonly joinTokenLimiter: RateLimiter;
  private readonly random: UnitRandom;
  private readonly onInternalError: (error: unknown) => void;
  private readonly checkCsr: (csr: string | Uint8Array) => Promise<ParsedCsr>;

  constructor(deps: SvidServiceDeps) {
    const options = deps.options ?? {};
    const maxX509TtlMs = options.maxX509TtlMs ?? SVID_PROFILE_MAX_TTL_MS;
    if (!Number.isSafeInteger(maxX509TtlMs) || maxX509TtlMs < SECOND || maxX509TtlMs > SVID_PROFILE_MAX_TTL_MS) {
      throw new RangeError(`maxX509TtlMs must be from 1 s to ${SVID_PROFILE_MAX_TTL_MS} ms (24 h)`);
    }
    this.entries = deps.entries;
    this.joinTokens = deps.joinTokens;
    this.issuer = deps.issuer;
    this.jwtSigner = deps.jwtSigner;
    this.clock = deps.clock;
    this.rules = { trustDomain: parseTrustDomain(deps.trustDomain), maxX509TtlMs };
    this.joinTokensEnabled = options.joinTokensEnabled ?? true;
    this.joinTokenLimiter = new RateLimiter(options.joinTokenRateLimit ?? DEFAULT_JOIN_TOKEN_RATE_LIMIT);
    this.random = options.random ?? cryptoUnitRandom;
    this.onInternalError = options.onInternalError ?? ((): void => undefined);
    this.checkCsr = options.checkCsr ?? ((csr) => parseCsr(csr));
  }

  // ------------------------------------------------------------ X.509-SVIDs

  async issueX509(caller: SvidCaller, request: X509SvidRequest): Promise<X509Svid> {
    // 1. The request alone: identity syntax, TTL shape, then the CSR's signature and key (its names are ignored).
    requireWorkloadId(request.spiffeId, this.rules.trustDomain);
    if (request.ttlMs !== undefined) checkRequestedTtl(request.ttlMs);
    const csr = await this.checkCsr(request.csr);

    // 2. Authorization: an entry naming the caller as parent, or the caller renewing its own identity.
    const entry = findGrantingEntry(
      await this.entries.findBySpiffeId(request.spiffeId),
      caller.spiffeId,
      request.spiffeId,
      this.clock.now(),
    );
    const ttlMs = this.x509TtlFor(entry, request.ttlMs);

    // 3. Subject and SANs come from the entry; the Authority records the caller as requester.
    const issuedAt = this.clock.now();
    const issued = await this.issuer.issue(
      {
        publicKey: csr.publicKey,
        spiffeId: entry.spiffeId,
        dnsNames: entry.dnsNames,
        ttlMs,
        requester: caller.spiffeId,
        ...(entry.admin ? { adminGrant: entry.id } : {}),
      },
      'svid',
    );
    return this.toSvid(entry.spiffeId, entry.id, issued, issuedAt);
  }

  async issueX509Batch(caller: SvidCaller, requests: readonly X509SvidRequest[]): Promise<readonly BatchResult[]> {
    if (requests.length < 1 || requests.length > MAX_BATCH_REQUESTS) {
      throw new DomainError('malformed', `a batch holds 1 to ${MAX_BATCH_REQUESTS} requests, not ${requests.length}`);
    }
    // Concurrent, so the items' ledger writes can share commits; each item settles on its own.
    return Promise.all(requests.map((request) => this.batchItem(caller, request)));
  }

  private async batchItem(caller: SvidCaller, request: X509SvidRequest): Promise<BatchResult> {
    try {
      return { ok: true, svid: await this.issueX509(caller, request) };
    } catch (err) {
      if (isDomainError(err) && err.kind !== 'internal') return { ok: false, error: { kind: err.kind, detail: err.detail } };
      // An internal fault's message may name files or keys: it stays in the process.
      this.onInternalError(err);
      return { ok: false, error: { kind: 'internal', detail: 'internal error' } };
    }
  }

  private x509TtlFor(entry: RegistrationEntry, requestedMs: number | undefined): number {
    // The configured maximum may have been lowered after the entry was made.
    const allowedMs = Math.min(entry.x509TtlMs, this.rules.maxX509TtlMs);
    if (requestedMs === undefined) return allowedMs;
    if (requestedMs > allowedMs) {
      throw new DomainError(
        'malformed',
        `requested ttl ${formatSeconds(requestedMs)} exceeds the ${formatSeconds(allowedMs)} entry ${entry.id} allows`,
      );
    }
    return requestedMs;
  }

  private toSvid(
    spiffeId: string,
    entryId: string | null,
    issued: { readonly serial: string; readonly chainPem: string; readonly notAfter: number },
    issuedAt: number,
  ): X509Svid {
    return {
      spiffeId,
      serial: issued.serial,
      entryId,
      certChainPem: issued.chainPem,
      bundlePem: this.issuer.bundlePem(),
      expiresAt: issued.notAfter,
      renewAfter: renewAfter(issuedAt, issued.notAfter, this.random),
    };
  }

  // ------------------------------------------------------------ JWT-SVIDs

  async issueJwt(caller: SvidCaller, request: JwtSvidRequest): Promise<JwtSvid> {
    const audience = checkAudience(request.audience);
    const spiffeId = request.spiffeId ?? caller.spiffeId;
    requireWorkloadId(spiffeId, this.rules.trustDomain);
    const now = this.clock.now();
    const entry = findGrantingEntry(await this.entries.findBySpiffeId(spiffeId), caller.spiffeId, spiffeId, now);
    // JWT-SVID §3: iat and exp are NumericDate, whole seconds.
    const iat = Math.floor(now / SECOND);
    const exp = iat + Math.max(1, Math.floor(entry.jwtTtlMs / SECOND));
    const token = await this.jwtSigner.sign({ sub: spiffeId, aud: audience, iat, exp });
    return { token, spiffeId, issuedAt: iat * SECOND, expiresAt: exp * SECOND };
  }

  jwtAuthorities(): readonly JwtAuthorityJwk[] {
    return this.jwtSigner.publishedJwks();
  }

  // ------------------------------------------------------------ join tokens

  async createJoinToken(actor: string, spiffeId: string, ttlMs: number): Promise<CreatedJoinToken> {
    requireActor(actor);
    requireNodeId(spiffeId, this.rules.trustDomain);
    checkJoinTokenTtl(ttlMs);
    const now = this.clock.now();
    const { token, tokenHash, id } = newJoinToken();
    const expiresAt = now + ttlMs;
    await this.joinTokens.create({
      id,
      tokenHash,
      spiffeId,
      expiresAt,
      createdAt: now,
      createdBy: actor,
      usedAt: null,
      usedBySerial: null,
      revokedAt: null,
    });
    return { id, token, spiffeId, expiresAt, createdAt: now, createdBy: actor };
  }

  async listJoinTokens(query: Omit<JoinTokenQuery, 'now'>): Promise<{ readonly now: number; readonly page: JoinTokenPage }> {
    const now = this.clock.now();
    return { now, page: await this.joinTokens.list({ ...query, now }) };
  }

  async revokeJoinToken(id: string): Promise<{ readonly now: number; readonly token: JoinTokenSummary }> {
    const now = this.clock.now();
    return { now, token: await this.joinTokens.revoke(id, now) };
  }

  async attestJoinToken(attestation: JoinTokenAttestation, clientAddress: string): Promise<X509Svid> {
    if (!this.joinTokensEnabled) throw new DomainError('forbidden', 'join tokens are off in strict mode');
    // 1. The rate limit comes before any work, so a guessing client pays for every guess.
    if (clientAddress.length === 0 || clientAddress.length > MAX_CLIENT_ADDRESS_LENGTH)
      throw new Error('clientAddress must be 1 to 256 characters');
    const verdict = this.joinTokenLimiter.take(clientAddress, this.clock.now());
    if (!verdict.ok) {
      throw new DomainError('rateLimited', `too many join-token attempts from ${clientAddress}`, {
        retryAfterSeconds: verdict.retryAfterSeconds,
      });
    }

    // 2. The CSR before the token: a bad CSR must not burn a good token.
    checkJoinTokenShape(attestation.token);
    const csr = await this.checkCsr(attestation.csr);

    // 3. Redeem by hash in one durable transaction; only the hash was ever stored.
    const tokenHash = hashJoinToken(attestation.token);
    const outcome = await this.joinTokens.redeem(tokenHash, this.clock.now());
    if (!outcome.ok) throw redeemRefusal(outcome);
    requireSameHash(outcome.record.tokenHash, tokenHash);

    // 4. The node identity the token names, then the serial noted against the token.
    const issuedAt = this.clock.now();
    const issued = await this.issuer.issue(
      { publicKey: csr.publicKey, spiffeId: outcome.record.spiffeId, requester: joinTokenRequester(tokenHash) },
      'node',
    );
    await this.joinTokens.attachSerial(tokenHash, issued.serial);
    return this.toSvid(outcome.record.spiffeId, null, issued, issuedAt);
  }

  // ------------------------------------------------------------ registration entries

  async createEntry(actor: string, input: EntryInput): Promise<RegistrationEntry> {
    requireActor(actor);
    const now = this.clock.now();
    const fields = checkNewEntry(input, this.rules, now);
    return this.entries.create({ id: randomUUID(), ...fields, createdBy: actor }, now);
  }

  async getEntry(id: string): Promise<RegistrationEntry> {
    const entry = await this.entries.get(id);
    if (entry === undefined) throw new DomainError('notFound', `no registration entry ${id}`);
    return entry;
  }

  async listEntries(query: EntryQuery): Promise<EntryPage> {
    return this.entries.list(checkEntryQuery(query));
  }

  async updateEntry(id: string, patch: RegistrationEntryPatch): Promise<RegistrationEntry> {
    const now = this.clock.now();
    // Checked against the stored entry (its SPIFFE ID fixes the admin flag); the store re-reads it under its lock.
    const checked = checkEntryPatch(await this.getEntry(id), patch, this.rules, now);
    return this.entries.update(id, checked, now);
  }

  async deleteEntry(id: string): Promise<void> {
    if (!(await this.entries.delete(id))) throw new DomainError('notFound', `no registration entry ${id}`);
  }
}

export function createSvidService(deps: SvidServiceDeps): SvidService {
  return new SvidService(deps);
}

function checkRequestedTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < SECOND) throw new DomainError('malformed', 'ttl must be a whole number of at least 1 s');
}

/** JWT-SVID §3.2: at least one audience; duplicates are dropped, order kept. */
function checkAudience(audience: readonly string[]): readonly string[] {
  if (audience.length < 1 || audience.length > MAX_JWT_AUDIENCES) {
    throw new DomainError('malformed', `audience holds 1 to ${MAX_JWT_AUDIENCES} values`);
  }
  for (const value of audience) {
    if (value.length === 0 || value.length > MAX_AUDIENCE_LENGTH)
      throw new DomainError('malformed', `each audience is 1 to ${MAX_AUDIENCE_LENGTH} characters`);
  }
  return [...new Set(audience)];
}

function requireActor(actor: string): void {
  if (actor.length === 0) throw new DomainError('malformed', 'the acting operator is not named');
}
