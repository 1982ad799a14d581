import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { DomainError } from '../shared/errors.js';
import type { RedeemOutcome } from './ports.js';

const TOKEN_BYTES = 32;
/** 32 bytes in unpadded base64url. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const MINUTE = 60_000;
export const MIN_JOIN_TOKEN_TTL_MS = MINUTE;
export const MAX_JOIN_TOKEN_TTL_MS = 7 * 24 * 60 * MINUTE;
/** How much of the hash names a token in the ledger's requester column: enough to find it, too little to matter. */
const REQUESTER_HASH_CHARS = 12;

/** Random bytes in a token's public id ('jt-' and 18 hex digits): independent of the token, so it tells nothing about it. */
const TOKEN_ID_BYTES = 9;

/** A fresh one-time token, the only thing that is stored about it, and its public id. */
export function newJoinToken(): { readonly token: string; readonly tokenHash: string; readonly id: string } {
  const token = randomBytes(TOKEN_BYTES).toString('base64url');
  return { token, tokenHash: hashJoinToken(token), id: `jt-${randomBytes(TOKEN_ID_BYTES).toString('hex')}` };
}

/** Lowercase hex SHA-256 of the token string. */
export function hashJoinToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Refuses anything that cannot be a token before it is hashed or looked up. */
export function checkJoinTokenShape(token: string): void {
  if (!TOKEN_PATTERN.test(token)) throw new DomainError('malformed', 'a join token is 43 base64url characters');
}

export function checkJoinTokenTtl(ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < MIN_JOIN_TOKEN_TTL_MS || ttlMs > MAX_JOIN_TOKEN_TTL_MS) {
    throw new DomainError('malformed', 'a join token lives from 1 min to 7 d');
  }
}

/** The redeemed record's hash must be the presented token's, compared in constant time. */
export function requireSameHash(storedHash: string, presentedHash: string): void {
  const stored = Buffer.from(storedHash, 'hex');
  const presented = Buffer.from(presentedHash, 'hex');
  if (stored.length !== presented.length || !timingSafeEqual(stored, presented)) {
    throw new DomainError('unauthorized', 'join token is unknown');
  }
}

/** A refused redemption as an `unauthorized` refusal that says which way the token is unusable. */
export function redeemRefusal(outcome: Extract<RedeemOutcome, { ok: false }>): DomainError {
  switch (outcome.reason) {
    case 'unknown':
      return new DomainError('unauthorized', 'join token is unknown');
    case 'used':
      return new DomainError('unauthorized', 'join token has already been used');
    case 'expired':
      return new DomainError('unauthorized', 'join token has expired');
    case 'revoked':
      return new DomainError('unauthorized', 'join token has been revoked');
    default: {
      const never: never = outcome.reason;
      return new DomainError('unauthorized', `join token refused (${String(never)})`);
    }
  }
}

/** The ledger's requester for a node identity attested by a token. */
export function joinTokenRequester(tokenHash: string): string {
  return `join-token:${tokenHash.slice(0, REQUESTER_HASH_CHARS)}`;
}
