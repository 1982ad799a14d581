import type { JoinTokenRecord } from '../shared/entry-records.js';
import { DomainError } from '../shared/errors.js';
import { parseSpiffeId } from '../shared/spiffe-id.js';
import { checkTime } from './certificate-rows.js';

/**
 * The `join_tokens` aggregate's rules, shared by the SQLite repository
 * (join-token-repository.ts) and the PostgreSQL one
 * (postgres/join-token-repository.ts): field checks, why a redemption or an
 * attachment is refused, and the messages. Each backend keeps only how it
 * makes the redemption atomic.
 */

/** What a redemption concludes; the same shape as the SVID front end's RedeemOutcome (src/svid/ports.ts). */
export type JoinTokenRedemption =
  | { readonly ok: true; readonly record: JoinTokenRecord }
  | { readonly ok: false; readonly reason: RedeemRefusal };

export type RedeemRefusal = 'unknown' | 'used' | 'expired';

/** A row as selected: the columns are aliased (quoted, for PostgreSQL) to the record's names. */
export type TokenRow = JoinTokenRecord;

export const TOKEN_COLUMNS = `
  token_hash AS "tokenHash", spiffe_id AS "spiffeId", expires_at AS "expiresAt", created_at AS "createdAt",
  created_by AS "createdBy", used_at AS "usedAt", used_by_serial AS "usedBySerial"`;

const TOKEN_HASH = /^[0-9a-f]{64}$/;
const NODE_PATH_PREFIX = '/node/';
const MAX_CREATED_BY_LENGTH = 2048;

export function checkTokenHash(tokenHash: string): void {
  if (typeof tokenHash !== 'string' || !TOKEN_HASH.test(tokenHash)) {
    throw new DomainError('malformed', 'a join token hash is a SHA-256 in lowercase hex');
  }
}

/** What create accepts: a well-formed, unused token naming a node identity. 'malformed' otherwise. */
export function checkNewJoinToken(record: JoinTokenRecord): void {
  checkTokenHash(record.tokenHash);
  if (typeof record.spiffeId !== 'string' || !parseSpiffeId(record.spiffeId).path.startsWith(NODE_PATH_PREFIX)) {
    throw new DomainError('malformed', `a join token attests a node identity (a SPIFFE ID under ${NODE_PATH_PREFIX})`);
  }
  checkTime(record.expiresAt, 'expiresAt');
  checkTime(record.createdAt, 'createdAt');
  if (record.expiresAt <= record.createdAt) throw new DomainError('malformed', 'a join token expires after it is created');
  if (typeof record.createdBy !== 'string' || record.createdBy.length === 0 || record.createdBy.length > MAX_CREATED_BY_LENGTH) {
    throw new DomainError('malformed', `createdBy is 1 to ${MAX_CREATED_BY_LENGTH} characters`);
  }
  if (record.usedAt !== null || record.usedBySerial !== null) throw new DomainError('malformed', 'a new join token is unused');
}

/** Not the hash in the detail: it identifies a live credential in logs. */
export const DUPLICATE_TOKEN = 'this join token is already stored';

/**
 * Why the token in `row` cannot be redeemed at `now`, or undefined when it
 * can. Used is reported before expired: a replayed token is the more telling
 * fact. expiresAt is the first instant at which the token no longer works.
 */
export function redeemRefusal(row: TokenRow | undefined, now: number): RedeemRefusal | undefined {
  if (row === undefined) return 'unknown';
  if (row.usedAt !== null) return 'used';
  if (now >= row.expiresAt) return 'expired';
  return undefined;
}

/**
 * Whether the node certificate `serial` may be attached to the token in `row`
 * (read under a row or write lock): 'attach' to write it, 'done' when it
 * already is (a retried call), else the refusal to throw.
 */
export function attachDecision(row: TokenRow | undefined, serial: string): 'attach' | 'done' | DomainError {
  if (row === undefined) return new DomainError('notFound', 'no such join token');
  if (row.usedAt === null) return new DomainError('conflict', 'the join token has not been redeemed');
  if (row.usedBySerial === serial) return 'done';
  if (row.usedBySerial !== null) return new DomainError('conflict', `the join token is already attached to certificate ${row.usedBySerial}`);
  return 'attach';
}

/** The serial named no certificate row (a foreign-key violation). */
export function unknownSerial(serial: string, cause: unknown): DomainError {
  return new DomainError('notFound', `no certificate with serial ${serial} in the ledger`, { cause });
}
