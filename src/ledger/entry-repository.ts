import type Database from 'better-sqlite3';
import type { EntryPage, EntryQuery, NewRegistrationEntry, RegistrationEntry, RegistrationEntryPatch } from '../domain/entries.js';
import { DurableWrites, toConflict } from './connection.js';
import {
  checkUpdate,
  createConflictDetail,
  ENTRY_COLUMNS,
  insertEntrySql,
  insertValues,
  isEntryId,
  newEntryRow,
  patchedRow,
  planEntryList,
  toEntry,
  toEntryPage,
  updateConflictDetail,
  updateEntrySql,
  updateValues,
  type EntryRow,
  type EntryViolation,
} from './entry-rows.js';

/**
 * The `registration_entries` aggregate (migrations/0003) on SQLite: which
 * parent may obtain SVIDs for which SPIFFE ID. Every write is durable: an
 * entry is a grant of identity, and a deletion lost to a power cut would bring
 * a withdrawn grant back (the same reasoning as revocation). Checks, row
 * mapping and the listing's SQL are shared with PostgreSQL (entry-rows.ts).
 * Statements are prepared on first use, so a ledger opened at an older schema
 * version (migration tests) still constructs.
 */

const POSITIONAL = (): string => '?';

type InsertParams = ReturnType<typeof insertValues>;
type UpdateParams = ReturnType<typeof updateValues>;

export class EntryRepository {
  private readonly durable: DurableWrites;
  private insertStatement: Database.Statement<InsertParams> | undefined;
  private updateStatement: Database.Statement<UpdateParams> | undefined;
  private deleteStatement: Database.Statement<[string]> | undefined;
  private selectByIdStatement: Database.Statement<[string], EntryRow> | undefined;
  private selectBySpiffeIdStatement: Database.Statement<[string], EntryRow> | undefined;
  /** One statement per filter shape (at most eight), made on first use. */
  private readonly listStatements = new Map<string, Database.Statement<(string | number)[], EntryRow>>();
  private readonly insertTransaction: Database.Transaction<(row: EntryRow) => void>;
  private readonly updateTransaction: Database.Transaction<(id: string, patch: RegistrationEntryPatch, now: number) => RegistrationEntry>;
  private readonly deleteTransaction: Database.Transaction<(id: string) => boolean>;

  constructor(private readonly db: Database.Database) {
    this.durable = new DurableWrites(db);
    this.insertTransaction = db.transaction((row: EntryRow): void => {
      this.insertStatement ??= db.prepare<InsertParams>(insertEntrySql(POSITIONAL));
      this.insertStatement.run(...insertValues(row));
    });
    this.updateTransaction = db.transaction((id: string, patch: RegistrationEntryPatch, now: number): RegistrationEntry => {
      const next = patchedRow(id, this.selectById(id), patch, now);
      this.updateStatement ??= db.prepare<UpdateParams>(updateEntrySql(POSITIONAL));
      this.updateStatement.run(...updateValues(next));
      return toEntry(next);
    });
    this.deleteTransaction = db.transaction((id: string): boolean => {
      this.deleteStatement ??= db.prepare<[string]>('DELETE FROM registration_entries WHERE id = ?');
      return this.deleteStatement.run(id).changes === 1;
    });
  }

  /** Stores a new entry; 'conflict' when its id or its (spiffeId, parentId) pair is taken, 'malformed' for bad fields. */
  create(entry: NewRegistrationEntry, now: number): RegistrationEntry {
    const row = newEntryRow(entry, now);
    try {
      this.durable.run(this.insertTransaction, row);
    } catch (error) {
      throw toConflict(error, (code) => createConflictDetail(entry, violationOf(code), code));
    }
    return toEntry(row);
  }

  get(id: string): RegistrationEntry | undefined {
    if (!isEntryId(id)) return undefined;
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
    const plan = planEntryList(query, POSITIONAL);
    let statement = this.listStatements.get(plan.sql);
    if (statement === undefined) {
      statement = this.db.prepare<(string | number)[], EntryRow>(plan.sql);
      this.listStatements.set(plan.sql, statement);
    }
    return toEntryPage(statement.all(...plan.params), plan.limit);
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
    checkUpdate(id, patch, now);
    try {
      return this.durable.run(this.updateTransaction, id, patch, now);
    } catch (error) {
      throw toConflict(error, (code) => updateConflictDetail(id, patch, violationOf(code), code));
    }
  }

  /** false when there was no such entry. */
  delete(id: string): boolean {
    if (!isEntryId(id)) return false;
    return this.durable.run(this.deleteTransaction, id);
  }

  private selectById(id: string): EntryRow | undefined {
    this.selectByIdStatement ??= this.db.prepare<[string], EntryRow>(`SELECT ${ENTRY_COLUMNS} FROM registration_entries WHERE id = ?`);
    return this.selectByIdStatement.get(id);
  }
}

function violationOf(code: string): EntryViolation {
  return code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? 'primaryKey' : code === 'SQLITE_CONSTRAINT_UNIQUE' ? 'unique' : 'other';
}
