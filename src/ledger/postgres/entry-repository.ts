import type { EntryPage, EntryQuery, NewRegistrationEntry, RegistrationEntry, RegistrationEntryPatch } from '../../domain/entries.js';
import * as entryRows from '../entry-rows.js';
import { describeViolation, toPostgresConflict, type ConstraintViolation } from './constraint.js';
import type { PostgresDatabase } from './database.js';

const NUMBERED = (position: number): string => `$${position}`;
/** Ids sort bytewise, as on SQLite, whatever the database's default collation (see entryRows.planEntryList). */
const BYTEWISE = ' COLLATE "C"';

/**
 * The `registration_entries` aggregate (migrations/postgres/0003) on
 * PostgreSQL: the same methods and answers as the SQLite EntryRepository,
 * as promises. Checks, row mapping and the listing's SQL are shared
 * (entry-rows.ts). A write returns once PostgreSQL has committed it; how
 * durable a commit is (synchronous_commit, synchronous standbys) is the
 * operator's setting. An update reads the row FOR UPDATE in its transaction,
 * so two nodes patching one entry at once apply one patch after the other.
 */
export class PostgresEntryRepository {
  constructor(private readonly db: PostgresDatabase) {}

  /** Stores a new entry; 'conflict' when its id or its (spiffeId, parentId) pair is taken, 'malformed' for bad fields. */
  async create(entry: NewRegistrationEntry, now: number): Promise<RegistrationEntry> {
    const row = entryRows.newEntryRow(entry, now);
    try {
      await this.db.run(entryRows.insertEntrySql(NUMBERED), entryRows.insertValues(row));
    } catch (error) {
      throw toPostgresConflict(error, (violation) =>
        entryRows.createConflictDetail(entry, violationOf(violation), describeViolation(violation)),
      );
    }
    return entryRows.toEntry(row);
  }

  async get(id: string): Promise<RegistrationEntry | undefined> {
    if (!entryRows.isEntryId(id)) return undefined;
    const row = await this.db.row<entryRows.EntryRow>(`SELECT ${entryRows.ENTRY_COLUMNS} FROM registration_entries WHERE id = $1`, [id]);
    return row === undefined ? undefined : entryRows.toEntry(row);
  }

  /** Entries in (createdAt, id) order with keyset pagination, as EntryRepository.list. */
  async list(query: EntryQuery): Promise<EntryPage> {
    const plan = entryRows.planEntryList(query, NUMBERED, BYTEWISE);
    return entryRows.toEntryPage(await this.db.rows<entryRows.EntryRow>(plan.sql, plan.params), plan.limit);
  }

  /** Every entry naming this SPIFFE ID (one per parent), oldest first. */
  async findBySpiffeId(spiffeId: string): Promise<readonly RegistrationEntry[]> {
    const rows = await this.db.rows<entryRows.EntryRow>(
      `SELECT ${entryRows.ENTRY_COLUMNS} FROM registration_entries WHERE spiffe_id = $1 ORDER BY created_at, id${BYTEWISE}`,
      [spiffeId],
    );
    return rows.map(entryRows.toEntry);
  }

  /**
   * Applies a patch and sets updatedAt, as EntryRepository.update: 'notFound'
   * for an unknown id, 'conflict' when the new parent already has an entry for
   * this SPIFFE ID (nothing is changed then).
   */
  async update(id: string, patch: RegistrationEntryPatch, now: number): Promise<RegistrationEntry> {
    entryRows.checkUpdate(id, patch, now);
    try {
      return await this.db.transaction(async (tx) => {
        const current = await tx.row<entryRows.EntryRow>(
          `SELECT ${entryRows.ENTRY_COLUMNS} FROM registration_entries WHERE id = $1 FOR UPDATE`,
          [id],
        );
        const next = entryRows.patchedRow(id, current, patch, now);
        await tx.run(entryRows.updateEntrySql(NUMBERED), entryRows.updateValues(next));
        return entryRows.toEntry(next);
      });
    } catch (error) {
      throw toPostgresConflict(error, (violation) =>
        entryRows.updateConflictDetail(id, patch, violationOf(violation), describeViolation(violation)),
      );
    }
  }

  /** false when there was no such entry. */
  async delete(id: string): Promise<boolean> {
    if (!entryRows.isEntryId(id)) return false;
    return (await this.db.run('DELETE FROM registration_entries WHERE id = $1', [id])) === 1;
  }
}

function violationOf(violation: ConstraintViolation): entryRows.EntryViolation {
  if (violation.state !== '23505') return 'other';
  return violation.constraint === 'registration_entries_pkey' ? 'primaryKey' : 'unique';
}
