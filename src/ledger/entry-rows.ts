import type { EntryQuery, NewRegistrationEntry, RegistrationEntry, RegistrationEntryPatch } from '../domain/entries.js';
import { DomainError } from '../shared/errors.js';
import { isPathUnder, parseSpiffeId } from '../shared/spiffe-id.js';
import { checkTime } from './certificate-rows.js';
import { badCursor, checkPageLimit, decodePageCursor, encodePageCursor } from './paging.js';

/**
 * The `registration_entries` aggregate's rules and row mapping, shared by the
 * SQLite repository (entry-repository.ts) and the PostgreSQL one
 * (postgres/entry-repository.ts): field checks, the merge of a patch, the
 * listing's SQL and keyset cursor, and the conflict details. Each backend
 * keeps only how it runs statements and which error says "constraint".
 */

/** Aliases are quoted: PostgreSQL folds unquoted ones to lowercase, SQLite accepts either. */
export const ENTRY_COLUMNS = `
  id, spiffe_id AS "spiffeId", parent_id AS "parentId", x509_ttl_ms AS "x509TtlMs", jwt_ttl_ms AS "jwtTtlMs",
  dns_names AS "dnsNames", admin, expires_at AS "expiresAt", created_at AS "createdAt", updated_at AS "updatedAt",
  created_by AS "createdBy"`;

/** A row as read; also the values of INSERT and UPDATE (ENTRY_ROW_FIELDS gives their order). */
export interface EntryRow {
  readonly id: string;
  readonly spiffeId: string;
  readonly parentId: string;
  readonly x509TtlMs: number;
  readonly jwtTtlMs: number;
  /** JSON array text */
  readonly dnsNames: string;
  /** 0 or 1 */
  readonly admin: number;
  readonly expiresAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly createdBy: string;
}

/** INSERT's values in column order: id, spiffe_id, parent_id, x509_ttl_ms, jwt_ttl_ms, dns_names, admin, expires_at, created_at, updated_at, created_by. */
export function insertValues(
  row: EntryRow,
): [string, string, string, number, number, string, number, number | null, number, number, string] {
  return [
    row.id,
    row.spiffeId,
    row.parentId,
    row.x509TtlMs,
    row.jwtTtlMs,
    row.dnsNames,
    row.admin,
    row.expiresAt,
    row.createdAt,
    row.updatedAt,
    row.createdBy,
  ];
}

/** UPDATE's values: parent_id, x509_ttl_ms, jwt_ttl_ms, dns_names, admin, expires_at, updated_at, then the id. */
export function updateValues(row: EntryRow): [string, number, number, string, number, number | null, number, string] {
  return [row.parentId, row.x509TtlMs, row.jwtTtlMs, row.dnsNames, row.admin, row.expiresAt, row.updatedAt, row.id];
}

/** The placeholders of a dialect: `?` (SQLite) or `$1, $2...` (PostgreSQL). */
export type Placeholder = (position: number) => string;

/** The INSERT of one entry; insertValues gives its values. */
export const insertEntrySql = (mark: Placeholder): string =>
  `INSERT INTO registration_entries (id, spiffe_id, parent_id, x509_ttl_ms, jwt_ttl_ms, dns_names, admin,
                                     expires_at, created_at, updated_at, created_by)
   VALUES (${Array.from({ length: 11 }, (_, i) => mark(i + 1)).join(', ')})`;

/** The UPDATE of one entry's changeable columns; updateValues gives its values. */
export const updateEntrySql = (mark: Placeholder): string =>
  `UPDATE registration_entries
      SET parent_id = ${mark(1)}, x509_ttl_ms = ${mark(2)}, jwt_ttl_ms = ${mark(3)}, dns_names = ${mark(4)},
          admin = ${mark(5)}, expires_at = ${mark(6)}, updated_at = ${mark(7)}
    WHERE id = ${mark(8)}`;

// URL-safe (RFC 3986 unreserved characters), bounded.
const ENTRY_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const MAX_DNS_NAME_LENGTH = 253;
const MAX_CREATED_BY_LENGTH = 2048;
// The same test as src/ca/profiles.ts applies to admin SVIDs.
const ADMIN_PATH = '/admin';

/** An id that could ever have been stored; anything else finds nothing (routes answer 404, not 400). */
export function isEntryId(id: unknown): id is string {
  return typeof id === 'string' && ENTRY_ID.test(id);
}

/** Checks a new entry and gives the row to insert; 'malformed' for a bad field. */
export function newEntryRow(entry: NewRegistrationEntry, now: number): EntryRow {
  checkTime(now, 'now');
  if (!isEntryId(entry.id)) {
    throw new DomainError('malformed', 'an entry id is 1 to 128 URL-safe characters ([A-Za-z0-9._~-])');
  }
  const spiffeId = checkSpiffeId(entry.spiffeId, 'spiffeId');
  checkSpiffeId(entry.parentId, 'parentId');
  checkTtl(entry.x509TtlMs, 'x509TtlMs');
  checkTtl(entry.jwtTtlMs, 'jwtTtlMs');
  checkDnsNames(entry.dnsNames);
  if (typeof entry.admin !== 'boolean') throw new DomainError('malformed', 'admin is true or false');
  checkAdminPath(spiffeId, entry.admin);
  checkExpiresAt(entry.expiresAt);
  checkCreatedBy(entry.createdBy);
  return {
    id: entry.id,
    spiffeId,
    parentId: entry.parentId,
    x509TtlMs: entry.x509TtlMs,
    jwtTtlMs: entry.jwtTtlMs,
    dnsNames: encodeDnsNames(entry.dnsNames),
    admin: Number(entry.admin),
    expiresAt: entry.expiresAt,
    createdAt: now,
    updatedAt: now,
    createdBy: entry.createdBy,
  };
}

/** The checks an update makes before touching the database: 'notFound' for an impossible id, 'malformed' for bad fields. */
export function checkUpdate(id: string, patch: RegistrationEntryPatch, now: number): void {
  checkTime(now, 'now');
  if (!isEntryId(id)) throw new DomainError('notFound', 'no such registration entry');
  if (patch.parentId !== undefined) checkSpiffeId(patch.parentId, 'parentId');
  if (patch.x509TtlMs !== undefined) checkTtl(patch.x509TtlMs, 'x509TtlMs');
  if (patch.jwtTtlMs !== undefined) checkTtl(patch.jwtTtlMs, 'jwtTtlMs');
  if (patch.dnsNames !== undefined) checkDnsNames(patch.dnsNames);
  if (patch.admin !== undefined && typeof patch.admin !== 'boolean') throw new DomainError('malformed', 'admin is true or false');
  if (patch.expiresAt !== undefined) checkExpiresAt(patch.expiresAt);
}

/**
 * The row after a patch: absent fields keep their value, `expiresAt: null`
 * clears the expiry, updatedAt is now. The stored row is read in the same
 * transaction; 'notFound' when there is none.
 */
export function patchedRow(id: string, current: EntryRow | undefined, patch: RegistrationEntryPatch, now: number): EntryRow {
  if (current === undefined) throw new DomainError('notFound', `no registration entry ${id}`);
  const next: EntryRow = {
    ...current,
    parentId: patch.parentId ?? current.parentId,
    x509TtlMs: patch.x509TtlMs ?? current.x509TtlMs,
    jwtTtlMs: patch.jwtTtlMs ?? current.jwtTtlMs,
    dnsNames: patch.dnsNames === undefined ? current.dnsNames : encodeDnsNames(patch.dnsNames),
    admin: patch.admin === undefined ? current.admin : Number(patch.admin),
    // null is a value here (clear the expiry); only an absent field keeps the old one.
    expiresAt: patch.expiresAt === undefined ? current.expiresAt : patch.expiresAt,
    updatedAt: now,
  };
  // The patch may switch admin on for an ID outside /admin/.
  checkAdminPath(next.spiffeId, next.admin === 1);
  return next;
}

/** Which constraint a refused write broke, as both backends can tell it. */
export type EntryViolation = 'primaryKey' | 'unique' | 'other';

export function createConflictDetail(entry: NewRegistrationEntry, violation: EntryViolation, code: string): string {
  switch (violation) {
    case 'primaryKey':
      return `a registration entry with id ${entry.id} exists`;
    case 'unique':
      return `an entry for ${entry.spiffeId} with parent ${entry.parentId} exists`;
    case 'other':
      return `registration entry ${entry.id} breaks a ledger constraint (${code})`;
  }
}

export function updateConflictDetail(id: string, patch: RegistrationEntryPatch, violation: EntryViolation, code: string): string {
  return violation === 'unique'
    ? `another entry for the same SPIFFE ID already has parent ${patch.parentId ?? '(unchanged)'}`
    : `updating registration entry ${id} breaks a ledger constraint (${code})`;
}

// ---------------------------------------------------------------- listing

/** A checked listing query: the page size and the filters in the order the SQL binds them. */
export interface EntryListPlan {
  readonly limit: number;
  readonly sql: string;
  readonly params: readonly (string | number)[];
}

/**
 * The SQL of one page: entries in (createdAt, id) order, optionally only those
 * naming one SPIFFE ID and/or one parent, after the cursor's sort key. One row
 * more than served is read: it tells whether a next page exists. Ids compare
 * bytewise on both backends (`idCollation` is PostgreSQL's ` COLLATE "C"`), so
 * a page boundary means the same thing whichever database holds the entries.
 * 'malformed' for a limit outside 1..500 or a cursor this listing did not hand out.
 */
export function planEntryList(query: EntryQuery, mark: Placeholder, idCollation = ''): EntryListPlan {
  const limit = checkPageLimit(query.limit);
  const where: string[] = [];
  const params: (string | number)[] = [];
  if (query.spiffeId !== undefined) {
    if (typeof query.spiffeId !== 'string') throw new DomainError('malformed', 'spiffeId filter is a string');
    params.push(query.spiffeId);
    where.push(`spiffe_id = ${mark(params.length)}`);
  }
  if (query.parentId !== undefined) {
    if (typeof query.parentId !== 'string') throw new DomainError('malformed', 'parentId filter is a string');
    params.push(query.parentId);
    where.push(`parent_id = ${mark(params.length)}`);
  }
  if (query.cursor !== undefined) {
    const after = decodeEntryCursor(query.cursor);
    params.push(after.createdAt, after.id);
    where.push(`(created_at, id${idCollation}) > (${mark(params.length - 1)}, ${mark(params.length)})`);
  }
  params.push(limit + 1);
  const sql =
    `SELECT ${ENTRY_COLUMNS} FROM registration_entries` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY created_at, id${idCollation} LIMIT ${mark(params.length)}`;
  return { limit, sql, params };
}

/** The page served from the rows a plan read (at most limit + 1). */
export function toEntryPage(rows: readonly EntryRow[], limit: number): { items: RegistrationEntry[]; nextCursor: string | null } {
  const items = rows.slice(0, limit).map(toEntry);
  const last = items[items.length - 1];
  const nextCursor = rows.length > limit && last !== undefined ? encodePageCursor({ t: last.createdAt, i: last.id }) : null;
  return { items, nextCursor };
}

function decodeEntryCursor(text: string): { readonly createdAt: number; readonly id: string } {
  const { t, i } = decodePageCursor(text, 512);
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || !isEntryId(i)) throw badCursor();
  return { createdAt: t, id: i };
}

// ---------------------------------------------------------------- checks

/** The full SPIFFE-ID rules; returns the ID (parsing does not rewrite it). */
function checkSpiffeId(value: string, field: string): string {
  if (typeof value !== 'string') throw new DomainError('malformed', `${field} is a SPIFFE ID`);
  parseSpiffeId(value);
  return value;
}

/** An admin entry's SPIFFE ID must lie under /admin (the contract in domain/entries.ts). */
function checkAdminPath(spiffeId: string, isAdmin: boolean): void {
  if (isAdmin && !isPathUnder(parseSpiffeId(spiffeId).path, ADMIN_PATH)) {
    throw new DomainError('malformed', `an admin entry's SPIFFE ID lies under ${ADMIN_PATH}/`);
  }
}

function checkTtl(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new DomainError('malformed', `${field} is a positive number of milliseconds`);
}

function checkDnsNames(names: readonly string[]): void {
  if (!Array.isArray(names)) throw new DomainError('malformed', 'dnsNames is a list of DNS names');
  for (const name of names) {
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_DNS_NAME_LENGTH) {
      throw new DomainError('malformed', `a DNS name is 1 to ${MAX_DNS_NAME_LENGTH} characters`);
    }
    // The contract stores them lowercased; the service normalises, the ledger refuses to guess.
    if (name !== name.toLowerCase()) throw new DomainError('malformed', `DNS name '${name.slice(0, 64)}' is not lowercase`);
  }
}

function checkExpiresAt(value: number | null): void {
  if (value !== null) checkTime(value, 'expiresAt');
}

function checkCreatedBy(value: string): void {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_CREATED_BY_LENGTH) {
    throw new DomainError('malformed', `createdBy is 1 to ${MAX_CREATED_BY_LENGTH} characters`);
  }
}

// ---------------------------------------------------------------- rows

function encodeDnsNames(names: readonly string[]): string {
  return JSON.stringify([...names]);
}

/** Rows come from our own CHECKed schema; a value outside it means corruption, reported as a plain Error. */
export function toEntry(row: EntryRow): RegistrationEntry {
  if (row.admin !== 0 && row.admin !== 1) throw new Error(`registration entry ${row.id}: stored admin flag is ${row.admin}`);
  return {
    id: row.id,
    spiffeId: row.spiffeId,
    parentId: row.parentId,
    x509TtlMs: row.x509TtlMs,
    jwtTtlMs: row.jwtTtlMs,
    dnsNames: decodeDnsNames(row.dnsNames, row.id),
    admin: row.admin === 1,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    createdBy: row.createdBy,
  };
}

function decodeDnsNames(json: string, id: string): readonly string[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed) || !parsed.every((name): name is string => typeof name === 'string')) {
    throw new Error(`registration entry ${id}: dns_names is not a JSON array of strings`);
  }
  return parsed;
}
