import { join } from 'node:path';
import { systemClock, type Clock } from '../../shared/clock.js';
import { checkHistory, readMigrations, type AppliedRow, type Migration } from '../migrate.js';
import type { PostgresDatabase } from './database.js';

/**
 * The PostgreSQL migration runner over `migrations/postgres/NNNN_name.sql`.
 * The files keep the SQLite files' numbers and names (lockstep, checked at
 * start), so one schema version means the same tables on both backends.
 * Nodes starting together serialize on one advisory lock: the first applies
 * what is pending, each later one finds nothing left to do.
 */

/** pg_advisory_lock key: 'keysmith' as ASCII in the low bytes; only the migration runner takes it. */
const MIGRATION_LOCK_KEY = 0x6b65_7973_6d69_7468n;

const CREATE_SCHEMA_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at BIGINT  NOT NULL
  )`;

export function postgresMigrationsDir(sqliteMigrationsDir: string): string {
  return join(sqliteMigrationsDir, 'postgres');
}

/** Reads the PostgreSQL migrations and refuses them unless they match the SQLite ones number for number, name for name. */
export function readPostgresMigrations(sqliteMigrationsDir: string): readonly Migration[] {
  const sqlite = readMigrations(sqliteMigrationsDir);
  const postgres = readMigrations(postgresMigrationsDir(sqliteMigrationsDir));
  const describe = (list: readonly Migration[]): string => list.map((m) => `${m.version}_${m.name}`).join(', ');
  if (describe(sqlite) !== describe(postgres)) {
    throw new Error(
      `the PostgreSQL migrations (${describe(postgres)}) are not in lockstep with the SQLite ones (${describe(sqlite)}): ` +
        'every schema version needs a file of the same number and name in migrations/ and migrations/postgres/',
    );
  }
  return postgres;
}

/** Applies every pending migration under the advisory lock; returns the resulting schema version. */
export async function applyPostgresMigrations(
  db: PostgresDatabase,
  migrations: readonly Migration[],
  clock: Clock = systemClock,
): Promise<number> {
  const client = await db.dedicatedClient();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
    await client.query(CREATE_SCHEMA_TABLE);
    const applied = (await client.query<AppliedRow>('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
    let version = checkHistory(db.location, applied, migrations);
    for (const migration of migrations.slice(version)) {
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
          migration.version,
          migration.name,
          clock.now(),
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(
          `migration ${migration.version}_${migration.name} failed and was rolled back; ` +
            `ledger ${db.location} stays at schema version ${migration.version - 1}`,
          { cause: error },
        );
      }
      version = migration.version;
    }
    return version;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => undefined);
    await client.end();
  }
}

/** The schema version recorded in the database (0 before the first migration); refuses one ahead of the code. */
export async function postgresSchemaVersion(db: PostgresDatabase, migrations: readonly Migration[]): Promise<number> {
  const exists = await db.row<{ found: string | null }>("SELECT to_regclass('schema_migrations')::text AS found");
  if (exists?.found === null || exists === undefined) return 0;
  const applied = await db.rows<AppliedRow>('SELECT version, name FROM schema_migrations ORDER BY version');
  return checkHistory(db.location, applied, migrations);
}
