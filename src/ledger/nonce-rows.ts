import { DomainError } from '../shared/errors.js';
import { checkTime } from './certificate-rows.js';

/**
 * What both backends of the spent-nonce record accept (migrations/0007,
 * acme_spent_nonces): an id of 1-64 base64url characters (the column's CHECK),
 * times in integer milliseconds. Checked before any SQL runs, so bad input
 * gets the same DomainError('malformed') on SQLite and PostgreSQL.
 */
const NONCE_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Rows deleted by one pruning statement, at most: one statement never holds the table for long. */
export const MAX_PRUNE_BATCH = 10_000;

export function checkSpend(nonceId: string, expiresAt: number, now: number): void {
  if (typeof nonceId !== 'string' || !NONCE_ID.test(nonceId))
    throw new DomainError('malformed', 'a nonce id is 1 to 64 base64url characters');
  checkTime(expiresAt, 'expiresAt');
  checkTime(now, 'now');
}

export function checkPrune(now: number, limit: number): void {
  checkTime(now, 'now');
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_PRUNE_BATCH) {
    throw new DomainError('malformed', `a pruning batch is 1 to ${MAX_PRUNE_BATCH} rows`);
  }
}
