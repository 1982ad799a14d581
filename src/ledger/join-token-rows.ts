import { isJoinTokenId, JOIN_TOKEN_STATUSES, type JoinTokenQuery, type JoinTokenRecord, type JoinTokenSummary } from '../domain/entries.js';
import type { SqlDialect } from './certificate-list.js';
import { planCreatedList, toSummaryPage, type CreatedListPlan } from './created-listing.js';
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
  { readonly ok: true; readonly record: JoinTokenRecord } | { readonly ok: false; readonly reason: RedeemRefusal };

export type RedeemRefusal = 'unknown' | 'used' | 'expired' | 'revoked';

/** A row as selected: the columns are aliased (quoted, for PostgreSQL) to the record's names. */
export type TokenRow = JoinTokenRecord;

/** Everything a listing shows: every column but token_hash, which a listing never reads. */
export const TOKEN_SUMMARY_COLUMNS = `
  id, spiffe_id AS "spiffeId", expires_at AS "expiresAt", created_at AS "createdAt",
  created_by AS "createdBy", used_at AS "usedAt", used_by_serial AS "usedBySerial", revoked_at AS "revokedAt"`;

export const TOKEN_COLUMNS = `token_hash AS "tokenHash", ${TOKEN_SUMMARY_COLUMNS}`;

export const INSERT_TOKEN_SQL = `INSERT INTO join_tokens (id, token_hash, spiffe_id, expires_at, created_at, created_by, used_at, used_by_serial, revoked_at)
  VALUES (:id, :tokenHash, :spiffeId, :expiresAt, :createdAt, :createdBy, NULL, NULL, NULL)`;

export function insertTokenParams(record: JoinTokenRecord): Record<string, string | number> {
  return {
    id: record.id,
    tokenHash: record.tokenHash,
    spiffeId: record.spiffeId,
    expiresAt: record.expiresAt,
    createdAt: record.createdAt,
    createdBy: record.createdBy,
  };
}

/** Marks an unused, unrevoked token revoked, in one statement (it serialises with a redemption on the row). */
export const REVOKE_TOKEN_SQL = `UPDATE join_tokens SET revoked_at = :now
  WHERE id = :id AND revoked_at IS NULL AND used_at IS NULL RETURNING ${TOKEN_SUMMARY_COLUMNS}`;

export const SELECT_TOKEN_SUMMARY_SQL = `SELECT ${TOKEN_SUMMARY_COLUMNS} FROM join_tokens WHERE id = :id`;

export function checkTokenId(id: string): void {
  if (typeof id !== 'string' || !isJoinTokenId(id)) throw new DomainError('malformed', "a join token id is 'jt-' and 18 hex digits");
}

/** Why revoking found nothing to change, from the row as it is now. */
export function revokeTokenRefusal(id: string, row: JoinTokenSummary | undefined): DomainError {
  if (row === undefined) return new DomainError('notFound', `no join token ${id}`);
  if (row.revokedAt !== null) return new DomainError('conflict', `join token ${id} is already revoked`);
  if (row.usedAt !== null) {
    const by = row.usedBySerial === null ? '' : ` (node certificate ${row.usedBySerial}: revoke that certificate instead)`;
    return new DomainError('conflict', `join token ${id} was already used${by}`);
  }
  return new DomainError('conflict', `join token ${id} changed while it was being revoked`);
}

/** One page of the token listing (creation order), with the status filter judged at query.now. */
export function planTokenList(query: JoinTokenQuery, dialect: SqlDialect): CreatedListPlan {
  checkTime(query.now, 'now');
  const where: string[] = [];
  const params: Record<string, string | number> = {};
  if (query.spiffeId !== undefined) {
    if (typeof query.spiffeId !== 'string') throw new DomainError('malformed', 'spiffeId filter is a string');
    where.push('spiffe_id = :spiffeId');
    params['spiffeId'] = query.spiffeId;
  }
  switch (query.status) {
    case undefined:
      break;
    case 'revoked':
      where.push('revoked_at IS NOT NULL');
      break;
    case 'used':
      where.push('used_at IS NOT NULL');
      break;
    case 'expired':
      where.push('revoked_at IS NULL', 'used_at IS NULL', 'expires_at <= :now');
      params['now'] = query.now;
      break;
    case 'unused':
      where.push('revoked_at IS NULL', 'used_at IS NULL', 'expires_at > :now');
      params['now'] = query.now;
      break;
    default:
      throw new DomainError('malformed', `status is one of ${JOIN_TOKEN_STATUSES.join(', ')}`);
  }
  return planCreatedList({
    table: 'join_tokens',
    columns: TOKEN_SUMMARY_COLUMNS,
    idColumn: 'id',
    where,
    params,
    cursor: query.cursor,
    limit: query.limit,
    dialect,
    isId: isJoinTokenId,
  });
}

export function toTokenPage(rows: readonly JoinTokenSummary[], limit: number): { items: JoinTokenSummary[]; nextCursor: string | null } {
  return toSummaryPage(rows, limit, (item) => item.id);
}

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
  checkTokenId(record.id);
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
  if (record.usedAt !== null || record.usedBySerial !== null || record.revokedAt !== null) {
    throw new DomainError('malformed', 'a new join token is unused and not revoked');
  }
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
  if (row.revokedAt !== null) return 'revoked';
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
  if (row.usedBySerial !== null)
    return new DomainError('conflict', `the join token is already attached to certificate ${row.usedBySerial}`);
  return 'attach';
}

/** The serial named no certificate row (a foreign-key violation). */
export function unknownSerial(serial: string, cause: unknown): DomainError {
  return new DomainError('notFound', `no certificate with serial ${serial} in the ledger`, { cause });
}
