/**
 * What every ACME handler is given (the server's parts, built once) and what
 * it returns (a reply the server dresses with the headers RFC 8555 wants on
 * every response).
 */
import type { AcmeAccountRecord } from '../domain/acme.js';
import type { AccountKeyCache } from './account-keys.js';
import type { RateLimiter } from '../shared/rate-limit.js';
import type { IdentifierPolicy } from './identifiers.js';
import type { AccountKey, DecodedJws } from './jws.js';
import type { NonceStore } from './nonces.js';
import type { AcmeServerDeps } from './ports.js';
import { AcmeProblemError } from './problems.js';
import type { ValidationRunner } from './validation-runner.js';
import type { AcmeUrls } from './wire.js';

export interface AcmeLimiters {
  readonly newAccount: RateLimiter;
  readonly nonce: RateLimiter;
  readonly newOrder: RateLimiter;
  readonly finalize: RateLimiter;
}

export interface AcmeContext {
  readonly deps: AcmeServerDeps;
  readonly urls: AcmeUrls;
  readonly identifiers: IdentifierPolicy;
  readonly nonces: NonceStore;
  /** Imported account keys per kid (authenticate.ts); forgotten on key change and deactivation. */
  readonly accountKeys: AccountKeyCache;
  readonly limiters: AcmeLimiters;
  readonly validations: ValidationRunner;
  readonly random: (length: number) => Uint8Array;
  readonly maxCertificateTtlMs: number;
}

export interface AcmeReply {
  readonly status: number;
  readonly body?: string | Buffer | object;
  readonly contentType?: string;
  readonly location?: string;
  /** Extra Link header values besides rel="index". */
  readonly links?: readonly string[];
  readonly retryAfterSeconds?: number;
}

/** A POST whose signature, nonce and url were checked. */
export interface AuthenticatedPost {
  readonly decoded: DecodedJws;
  /** The JWS payload; empty for POST-as-GET (RFC 8555 §6.3). */
  readonly payload: Uint8Array;
  /** The kid's account (kid requests only). */
  readonly account: AcmeAccountRecord | undefined;
  /** The key that signed: the account's key, or the jwk header's. */
  readonly key: AccountKey;
}

export function isPostAsGet(post: AuthenticatedPost): boolean {
  return post.payload.byteLength === 0;
}

/** The kid's account, for routes that take only kid (the authentication step already enforced it). */
export function accountOf(post: AuthenticatedPost): AcmeAccountRecord {
  if (post.account === undefined) throw new AcmeProblemError('malformed', 'this resource needs a kid-signed request');
  return post.account;
}

/** Spends one token or answers rateLimited with Retry-After (RFC 8555 §6.6). */
export function enforceLimit(limiter: RateLimiter, key: string, now: number, what: string): void {
  const verdict = limiter.take(key, now);
  if (!verdict.ok) {
    throw new AcmeProblemError('rateLimited', `too many ${what}; retry after ${verdict.retryAfterSeconds} s`, {
      retryAfterSeconds: verdict.retryAfterSeconds,
    });
  }
}

export function randomId(ctx: Pick<AcmeContext, 'random'>, bytes = 16): string {
  return Buffer.from(ctx.random(bytes)).toString('base64url');
}
