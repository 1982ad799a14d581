import { systemClock, type Clock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import { EXPIRY_SCOPES, LISTED_STATUSES, type CertificateQuery, type ExpiryScope } from '../domain/certificates.js';
import { stoppedRenewingParams, STOPPED_RENEWING_SERIALS } from './attention.js';
import { CERTIFICATE_COLUMNS, checkSerial, checkTime, isProfileName, normalizeDnsName } from './certificate-rows.js';
import { badCursor, checkPageLimit, decodePageCursor, encodePageCursor } from './paging.js';

/**
 * Turns a CertificateQuery into SQL plus parameters, for either backend. The
 * SQL text depends only on which filters are present (never on their values),
 * so the repository can prepare each shape once. Parameters are SQLite's
 * `:name`; the PostgreSQL repository numbers them (sql-placeholders.ts).
 * Pagination is keyset: the cursor carries the sort key of the last row
 * served, so inserts between pages cause no duplicates.
 */

/** The SQL dialect a plan is spelled for. The texts differ only in planner hints. */
export type SqlDialect = 'sqlite' | 'postgres';

/**
 * 'expiring': (not_after, serial) ascending (expiry listings and status expired);
 * 'issued': issued_at descending, then serial ascending.
 */
export type ListOrder = 'expiring' | 'issued';

export interface ListCursor {
  readonly order: ListOrder;
  /** not_after or issued_at of the last row served */
  readonly time: number;
  readonly serial: string;
}

export type ListParams = Record<string, string | number>;

export interface ListPlan {
  readonly order: ListOrder;
  readonly limit: number;
  readonly sql: string;
  /** includes `take` = limit + 1: one row more than served tells whether a next page exists */
  readonly params: ListParams;
}

interface WireCursor {
  readonly o: 'e' | 'i';
  readonly t: number;
  readonly s: string;
}

export function encodeCursor(cursor: ListCursor): string {
  const wire: WireCursor = { o: cursor.order === 'expiring' ? 'e' : 'i', t: cursor.time, s: cursor.serial };
  return encodePageCursor(wire);
}

export function decodeCursor(text: string): ListCursor {
  const { o, t, s } = decodePageCursor(text, 256);
  if ((o !== 'e' && o !== 'i') || typeof t !== 'number' || !Number.isSafeInteger(t) || typeof s !== 'string') throw badCursor();
  try {
    checkSerial(s);
  } catch {
    throw badCursor();
  }
  return { order: o === 'e' ? 'expiring' : 'issued', time: t, serial: s };
}

/**
 * The plan for a query, or null when the filters cannot match anything.
 *
 * Every shape reads an index bounded by the page it returns (see
 * test/unit/ledger/query-plans.test.ts): the revoked and the non-svid profile
 * listings have partial indexes of their own (migrations/0006), and their
 * filters are spelled as literals so the planner can prove they apply. The
 * default expiry listing ('attention') is two walks merged in (not_after,
 * serial) order: valid certificates other than SVIDs, and SVIDs that stopped
 * renewing (attention.ts).
 */
export function planList(query: CertificateQuery, clock: Clock = systemClock, dialect: SqlDialect = 'sqlite'): ListPlan | null {
  const limit = checkPageLimit(query.limit);
  // The expired listing walks the valid-by-notAfter index too (longest expired first), so it is bounded by its page;
  // so does a listing bounded by notAfter (expiresAfter/expiresBefore: one day of the console's timeline).
  const byExpiry =
    query.expiringWithinMs !== undefined ||
    query.status === 'expired' ||
    query.expiresAfter !== undefined ||
    query.expiresBefore !== undefined;
  const order: ListOrder = byExpiry ? 'expiring' : 'issued';
  const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
  if (cursor !== undefined && cursor.order !== order) {
    throw new DomainError('malformed', 'cursor belongs to a listing in a different order');
  }
  if (query.include !== undefined && !EXPIRY_SCOPES.includes(query.include)) {
    throw new DomainError('malformed', `include is one of ${EXPIRY_SCOPES.join(', ')}`);
  }

  const where: string[] = [];
  const params: ListParams = { take: limit + 1 };
  const scope = addStatusTerms(query, clock, where, params);
  if (scope === null) return null;
  addFilterTerms(query, order, dialect, where, params);
  if (cursor !== undefined) {
    where.push(
      order === 'expiring'
        ? '(not_after, serial) > (:afterTime, :afterSerial)'
        : // Mixed directions rule out a row value; the first term keeps the index range.
          'issued_at <= :afterTime AND (issued_at < :afterTime OR serial > :afterSerial)',
    );
    params['afterTime'] = cursor.time;
    params['afterSerial'] = cursor.serial;
  }
  return { order, limit, sql: listSql(query, scope, order, where), params };
}

/**
 * The terms of the expiry window or the status filter; the expiry scope the
 * listing walks, or null when the filters cannot match anything.
 */
function addStatusTerms(query: CertificateQuery, clock: Clock, where: string[], params: ListParams): ExpiryScope | null {
  if (query.expiringWithinMs !== undefined) {
    const within = query.expiringWithinMs;
    const now = query.now ?? clock.now();
    checkTime(now, 'now');
    if (!Number.isSafeInteger(within) || within < 0 || !Number.isSafeInteger(now + within)) {
      throw new DomainError('malformed', 'expiringWithinMs is a non-negative integer of milliseconds');
    }
    // "Expiring" means still valid; asking for revoked or expired ones as well matches nothing.
    if (query.status === 'revoked' || query.status === 'expired') return null;
    // Spelled out literally so the planner can use the partial indexes (WHERE status = 'valid' ...).
    where.push("status = 'valid'", 'not_after >= :from', 'not_after <= :to');
    params['from'] = now;
    params['to'] = now + within;
    const scope = query.include ?? 'attention';
    if (scope === 'attention') Object.assign(params, stoppedRenewingParams(now));
    return scope;
  }
  if (query.status !== undefined) {
    if (!LISTED_STATUSES.includes(query.status)) throw new DomainError('malformed', `status is one of ${LISTED_STATUSES.join(', ')}`);
    if (query.status === 'revoked') {
      where.push("status = 'revoked'");
    } else {
      // Expiry is not stored: it follows from notAfter and the time (RFC 5280 §4.1.2.5: notAfter itself is still valid).
      const now = query.now ?? clock.now();
      checkTime(now, 'now');
      where.push("status = 'valid'", query.status === 'valid' ? 'not_after >= :now' : 'not_after < :now');
      params['now'] = now;
    }
  }
  return 'all';
}

/** The profile, SPIFFE ID, DNS name and notAfter-range filters. */
function addFilterTerms(query: CertificateQuery, order: ListOrder, dialect: SqlDialect, where: string[], params: ListParams): void {
  if (query.expiresAfter !== undefined) {
    checkTime(query.expiresAfter, 'expiresAfter');
    where.push('not_after >= :expiresAfter');
    params['expiresAfter'] = query.expiresAfter;
  }
  if (query.expiresBefore !== undefined) {
    checkTime(query.expiresBefore, 'expiresBefore');
    where.push('not_after < :expiresBefore');
    params['expiresBefore'] = query.expiresBefore;
  }
  if (query.profile !== undefined) {
    if (!isProfileName(query.profile)) throw new DomainError('malformed', `unknown profile '${String(query.profile)}'`);
    // In expiry order SQLite's unary + keeps its planner on the notAfter indexes (the range) rather than the
    // profile one. PostgreSQL has no unary + for text, and its cost-based planner weighs the two itself.
    where.push(order === 'expiring' && dialect === 'sqlite' ? '+profile = :profile' : 'profile = :profile');
    // The literal lets the planner use the partial indexes over profiles other than svid.
    if (query.profile !== 'svid') where.push("profile <> 'svid'");
    params['profile'] = query.profile;
  }
  if (query.spiffeId !== undefined) {
    where.push('spiffe_id = :spiffeId');
    params['spiffeId'] = query.spiffeId;
  }
  if (query.dnsName !== undefined) {
    where.push("serial IN (SELECT serial FROM certificate_names WHERE type = 'dns' AND value = :dnsName)");
    params['dnsName'] = normalizeDnsName(query.dnsName);
  }
}

/** The statement: one walk in the listing's order, or the 'attention' listing's two walks merged. */
function listSql(query: CertificateQuery, scope: ExpiryScope, order: ListOrder, where: readonly string[]): string {
  const select = (terms: readonly string[]): string =>
    `SELECT ${CERTIFICATE_COLUMNS} FROM certificates` + (terms.length > 0 ? ` WHERE ${terms.join(' AND ')}` : '');
  if (scope === 'attention') {
    const arms: string[] = [];
    if (query.profile !== 'svid') arms.push(select([...where, "profile <> 'svid'"]));
    if (query.profile === undefined || query.profile === 'svid')
      arms.push(select([...where, "profile = 'svid'", `serial IN (${STOPPED_RENEWING_SERIALS})`]));
    // A compound SELECT orders by its result columns.
    return `${arms.join(' UNION ALL ')} ORDER BY "notAfter", serial LIMIT :take`;
  }
  if (order === 'expiring' && query.status === undefined && query.expiringWithinMs === undefined) {
    // A notAfter range over every status: the valid and the revoked rows each have a partial notAfter index
    // (migrations/0001, 0009) and no index holds both, so the two walks are merged in (not_after, serial) order.
    const arms = [select([...where, "status = 'valid'"]), select([...where, "status = 'revoked'"])];
    return `${arms.join(' UNION ALL ')} ORDER BY "notAfter", serial LIMIT :take`;
  }
  const orderBy = order === 'expiring' ? 'not_after, serial' : 'issued_at DESC, serial';
  return `${select(where)} ORDER BY ${orderBy} LIMIT :take`;
}

/** The cursor for the page after one that ended with this row. */
export function cursorAfter(
  order: ListOrder,
  last: { readonly notAfter: number; readonly issuedAt: number; readonly serial: string },
): string {
  return encodeCursor({ order, time: order === 'expiring' ? last.notAfter : last.issuedAt, serial: last.serial });
}
