/**
 * Keyset pagination shared by the ledger's listings: the page-size rule and
 * the opaque cursor's framing (base64url of a small JSON object). Each
 * listing puts its own sort key in the cursor and checks it on the way back.
 */
import { DomainError } from '../shared/errors.js';

export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_PAGE_LIMIT = 500;

/** The page size asked for, or the default; 'malformed' outside 1..500. */
export function checkPageLimit(limit: number | undefined): number {
  if (limit === undefined) return DEFAULT_PAGE_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_LIMIT) {
    throw new DomainError('malformed', `limit is an integer from 1 to ${MAX_PAGE_LIMIT}`);
  }
  return limit;
}

export function badCursor(): DomainError {
  return new DomainError('malformed', 'cursor is not one this listing handed out');
}

export function encodePageCursor(key: object): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/** The JSON object inside a cursor of at most `maxLength` characters; its fields are the caller's to check. */
export function decodePageCursor(text: string, maxLength: number): Record<string, unknown> {
  if (typeof text !== 'string' || text.length === 0 || text.length > maxLength || !/^[A-Za-z0-9_-]+$/.test(text)) throw badCursor();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw badCursor();
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badCursor();
  return parsed as Record<string, unknown>;
}
