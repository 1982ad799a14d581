import type Database from 'better-sqlite3';
import type {
  EntryPage,
  EntryQuery,
  NewRegistrationEntry,
  RegistrationEntry,
  RegistrationEntryPatch,
} from '../shared/entry-records.js';
import { DomainError } from '../shared/errors.js';
import { isPathUnder, parseSpiffeId } from '../shared/spiffe-id.js';
import { checkTime } from './certificate-rows.js';
import { DurableWrites, toConflict } from './connection.js';
import { badCursor, checkPageLimit, decodePageCursor, encodePageCursor } from './paging.js';

/**
 * The `registration_entries` aggregate (migrations/0003): which parent may
 * obtain SVIDs for which SPIFFE ID. Every write is durable: an entry is a
 * grant of identity, and a deletion lost to a power cut would bring a
 * withdrawn grant back (the same reasoning as revocation). Statements are
 * prepared on first use, so a ledger opened at an older schema version
 * (migration tests) still constructs.
 */


const ENTRY_COLUMNS = `
  id, spiffe_id AS spiffeId, parent_id AS parentId, x509_ttl_ms AS x509TtlMs, jwt_ttl_ms AS jwtTtlMs,
  dns_names AS dnsNames, admin, expires_at AS expiresAt, created_at AS createdAt, updated_at AS updatedAt,
  created_by AS createdBy`;

/** A row as read; also the named parameters of INSERT and UPDATE. */
interface EntryRow {
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

type ListParams = Record<string, string | number>;

// URL-safe (RFC 3986 unreserved characters), bounded.
const ENTRY_ID = /^[A-Za-z0-9._~-]{1,128}$/;
const MAX_DNS_NAME_LENGTH = 253;
const MAX_CREATED_BY_LENGTH = 2048;
// The same test as src/ca/profiles.ts applies to admin SVIDs.
const ADMIN_PATH = '/admin';

export class EntryRepository {
  private readonly durable: DurableWrites;
  private insertStatement: Database.Statement<[EntryRow]> | undefined;
  private updateStatement: Database.Statement<[EntryRow]> | undefined;
  private deleteStatement: Database.Statement<[string]> | undefined;
  private selectByIdStatement: Database.Statement<[string], EntryRow> | undefined;
  private selectBySpiffeIdStatement: Database.Statement<[string], EntryRow> | undefined;
  /** One statement per filter shape (at most eight), made on first use. */
  private readonly listStatements = new Map<string, Database.Statement<[ListParams], EntryRow>>();
  private readonly insertTransaction: Database.Transaction<(row: EntryRow) => void>;
  private readonly updateTransaction: Database.Transaction<
    (id: string, patch: RegistrationEntryPatch, now: number) => RegistrationEntry
  >;
  private readonly deleteTransaction: Database.Transaction<(id: string) => boolean>;

  constructor(private readonly db: Database.Database) {
    this.durable = new DurableWrites(db);
    this.insertTransaction = db.transaction((row: EntryRow): void => {
      this.insertStatement ??= db.prepare<[EntryRow]>(
        `INSERT INTO registration_entries (id, spiffe_id, parent_id, x509_ttl_ms, jwt_ttl_ms, dns_names, admin,
                                           expires_at, created_at, updated_at, created_by)
         VALUES (:id, :spiffeId, :parentId, :x509TtlMs, :jwtTtlMs, :dnsNames, :admin,
                 :expiresAt, :createdAt, :updatedAt, :createdBy)`,
      );
      this.insertStatement.run(row);
    });
    this.updateTransaction = db.transaction((id: string, patch: RegistrationEntryPatch, now: number): RegistrationEntry => {
      const current = this.selectById(id);
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
      this.updateStatement ??= db.prepare<[EntryRow]>(
        `UPDATE registration_entries
            SET parent_id = :parentId, x509_ttl_ms = :x509TtlMs, jwt_ttl_ms = :jwtTtlMs, dns_names = :dnsNames,
                admin = :admin, expires_at = :expiresAt, updated_at = :updatedAt
          WHERE id = :id`,
      );
      this.updateStatement.run(next);
      return toEntry(next);
    });
    this.deleteTransaction = db.transaction((id: string): boolean => {
      this.deleteStatement ??= db.prepare<[string]>('DELETE FROM registration_entries WHERE id = ?');
      return this.deleteStatement.run(id).changes === 1;
    });
  }

  /** Stores a new entry; 'conflict' when its id or its (spiffeId, parentId) pair is taken, 'malformed' for bad fields. */
  create(entry: NewRegistrationEntry, now: number): RegistrationEntry {
    checkTime(now, 'now');
    checkEntryId(entry.id);
    const spiffeId = checkSpiffeId(entry.spiffeId, 'spiffeId');
    checkSpiffeId(entry.parentId, 'parentId');
    checkTtl(entry.x509TtlMs, 'x509TtlMs');
    checkTtl(entry.jwtTtlMs, 'jwtTtlMs');
    checkDnsNames(entry.dnsNames);
    if (typeof entry.admin !== 'boolean') throw new DomainError('malformed', 'admin is true or false');
    checkAdminPath(spiffeId, entry.admin);
    checkExpiresAt(entry.expiresAt);
    checkCreatedBy(entry.createdBy);
    const row: EntryRow = {
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
    try {
      this.durable.run(this.insertTransaction, row);
    } catch (error) {
      throw toConflict(error, (code) =>
        code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
          ? `a registration entry with id ${entry.id} exists`
          : code === 'SQLITE_CONSTRAINT_UNIQUE'
            ? `an entry for ${entry.spiffeId} with parent ${entry.parentId} exists`
            : `registration entry ${entry.id} breaks a ledger constraint (${code})`,
      );
    }
    return toEntry(row);
  }

  get(id: string): RegistrationEntry | undefined {
    // An id that could never have been stored finds nothing (the routes answer 404, not 400).
    if (typeof id !== 'string' || !ENTRY_ID.test(id)) return undefined;
    const row = this.selectById(id);
    return row === undefined ? undefined : toEntry(row);
  }

  /**
   * Entries in (createdAt, id) order, optionally only those naming one SPIFFE ID
   * and/or one parent. Keyset pagination: the opaque cursor carries the sort key
   * of the last entry served, so entries created between pages cause no repeats.
   * 'malformed' for a limit outside 1..500 or a cursor this listing did not hand out.
   */
  list(query: EntryQuery): EntryPage {
    const limit = checkPageLimit(query.limit);
    const where: string[] = [];
    const params: ListParams = { take: limit + 1 };
    if (query.spiffeId !== undefined) {
      if (typeof query.spiffeId !== 'string') throw new DomainError('malformed', 'spiffeId filter is a string');
      where.push('spiffe_id = :spiffeId');
      params['spiffeId'] = query.spiffeId;
    }
    if (query.parentId !== undefined) {
      if (typeof query.parentId !== 'string') throw new DomainError('malformed', 'parentId filter is a string');
      where.push('parent_id = :parentId');
      params['parentId'] = query.parentId;
    }
    if (query.cursor !== undefined) {
      const after = decodeEntryCursor(query.cursor);
      where.push('(created_at, id) > (:afterTime, :afterId)');
      params['afterTime'] = after.createdAt;
      params['afterId'] = after.id;
    }
    const sql =
      `SELECT ${ENTRY_COLUMNS} FROM registration_entries` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ' ORDER BY created_at, id LIMIT :take';
    let statement = this.listStatements.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare<[ListParams], EntryRow>(sql);
      this.listStatements.set(sql, statement);
    }
    // One row more than served tells whether a next page exists.
    const rows = statement.all(params);
    const items = rows.slice(0, limit).map(toEntry);
    const last = items[items.length - 1];
    const nextCursor = rows.length > limit && last !== undefined ? encodeEntryCursor(last) : null;
    return { items, nextCursor };
  }

  /** Every entry naming this SPIFFE ID (one per parent), oldest first. */
  findBySpiffeId(spiffeId: string): readonly RegistrationEntry[] {
    this.selectBySpiffeIdStatement ??= this.db.prepare<[string], EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM registration_entries WHERE spiffe_id = ? ORDER BY created_at, id`,
    );
    return this.selectBySpiffeIdStatement.all(spiffeId).map(toEntry);
  }

  /**
   * Applies a patch (absent fields keep their value; `expiresAt: null` clears the
   * expiry) and sets updatedAt. 'notFound' for an unknown id, 'conflict' when the
   * new parent already has an entry for this SPIFFE ID.
   */
  update(id: string, patch: RegistrationEntryPatch, now: number): RegistrationEntry {
    checkTime(now, 'now');
    if (typeof id !== 'string' || !ENTRY_ID.test(id)) throw new DomainError('notFound', 'no such registration entry');
    checkPatch(patch);
    try {
      return this.durable.run(this.updateTransaction, id, patch, now);
    } catch (error) {
      throw toConflict(error, (code) =>
        code === 'SQLITE_CONSTRAINT_UNIQUE'
          ? `another entry for the same SPIFFE ID already has parent ${patch.parentId ?? '(unchanged)'}`
          : `updating registration entry ${id} breaks a ledger constraint (${code})`,
      );
    }
  }

  /** false when there was no such entry. */
  delete(id: string): boolean {
    if (typeof id !== 'string' || !ENTRY_ID.test(id)) return false;
    return this.durable.run(this.deleteTransaction, id);
  }

  private selectById(id: string): EntryRow | undefined {
    this.selectByIdStatement ??= this.db.prepare<[string], EntryRow>(
      `SELECT ${ENTRY_COLUMNS} FROM registration_entries WHERE id = ?`,
    );
    return this.selectByIdStatement.get(id);
  }
}

// ---------------------------------------------------------------- checks

function checkEntryId(id: string): void {
  if (typeof id !== 'string' || !ENTRY_ID.test(id)) {
    throw new DomainError('malformed', 'an entry id is 1 to 128 URL-safe characters ([A-Za-z0-9._~-])');
  }
}

/** The full SPIFFE-ID rules; returns the ID (parsing does not rewrite it). */
function checkSpiffeId(value: string, field: string): string {
  if (typeof value !== 'string') throw new DomainError('malformed', `${field} is a SPIFFE ID`);
  parseSpiffeId(value);
  return value;
}

/** An admin entry's SPIFFE ID must lie under /admin (the contract in shared/entry-records.ts). */
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

/** Field checks of a patch; admin vs. /admin/ is checked against the merged row. */
function checkPatch(patch: RegistrationEntryPatch): void {
  if (patch.parentId !== undefined) checkSpiffeId(patch.parentId, 'parentId');
  if (patch.x509TtlMs !== undefined) checkTtl(patch.x509TtlMs, 'x509TtlMs');
  if (patch.jwtTtlMs !== undefined) checkTtl(patch.jwtTtlMs, 'jwtTtlMs');
  if (patch.dnsNames !== undefined) checkDnsNames(patch.dnsNames);
  if (patch.admin !== undefined && typeof patch.admin !== 'boolean') throw new DomainError('malformed', 'admin is true or false');
  if (patch.expiresAt !== undefined) checkExpiresAt(patch.expiresAt);
}

// ---------------------------------------------------------------- rows and cursors

function encodeDnsNames(names: readonly string[]): string {
  return JSON.stringify([...names]);
}

/** Rows come from our own CHECKed schema; a value outside it means corruption, reported as a plain Error. */
function toEntry(row: EntryRow): RegistrationEntry {
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

interface EntryCursor {
  readonly createdAt: number;
  readonly id: string;
}

function encodeEntryCursor(last: RegistrationEntry): string {
  return encodePageCursor({ t: last.createdAt, i: last.id });
}

function decodeEntryCursor(text: string): EntryCursor {
  const { t, i } = decodePageCursor(text, 512);
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || typeof i !== 'string' || !ENTRY_ID.test(i)) throw badCursor();
  return { createdAt: t, id: i };
}
