import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { systemClock, type Clock } from '../shared/clock.js';

/**
 * The forward-only migration runner over `migrations/NNNN_name.sql`. Each
 * pending file runs in its own IMMEDIATE transaction together with its row in
 * `schema_migrations`, so a failure leaves the database at the previous version.
 */

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** The database was migrated by a newer keysmith than this one. */
export class LedgerVersionError extends Error {
  readonly databaseVersion: number;
  readonly codeVersion: number;

  constructor(location: string, databaseVersion: number, codeVersion: number) {
    super(
      `ledger ${location} is at schema version ${databaseVersion}, but this keysmith only knows migrations up to ` +
        `version ${codeVersion}: it was migrated by a newer keysmith. Run that version (or newer) against it, or ` +
        `restore a backup taken before the upgrade; migrations are forward-only and are never undone.`,
    );
    this.name = 'LedgerVersionError';
    this.databaseVersion = databaseVersion;
    this.codeVersion = codeVersion;
  }
}

const FILE_NAME = /^(\d{4})_([a-z0-9][a-z0-9_]*)\.sql$/;

/**
 * Reads and checks the migrations directory: every `.sql` file must be named
 * `NNNN_name.sql`, numbered 1, 2, 3... with no gap or duplicate.
 */
export function readMigrations(dir: string): readonly Migration[] {
  const files = readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_NAME.exec(file);
    if (match === null || match[1] === undefined || match[2] === undefined) {
      throw new Error(`migration file ${join(dir, file)} is not named NNNN_name.sql (lowercase name)`);
    }
    const version = Number(match[1]);
    const expected = migrations.length + 1;
    if (version !== expected) {
      const problem = version < expected ? `duplicates version ${version}` : `leaves a gap after version ${expected - 1}`;
      throw new Error(`migration file ${join(dir, file)} ${problem}; versions must run 1, 2, 3... without gaps`);
    }
    migrations.push({ version, name: match[2], sql: readFileSync(join(dir, file), 'utf8') });
  }
  if (migrations.length === 0) throw new Error(`no migrations found in ${dir}`);
  return migrations;
}

/**
 * The repository's migrations/ directory: the nearest ancestor of this module
 * holding both package.json and migrations/ (src/ledger in a clone run from
 * source, dist/src/ledger once compiled).
 */
export function findMigrationsDir(moduleUrl: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  const { root } = parse(dir);
  for (;;) {
    const candidate = join(dir, 'migrations');
    if (existsSync(join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    if (dir === root) break;
    dir = dirname(dir);
  }
  throw new Error(`no migrations/ directory next to a package.json above ${fileURLToPath(moduleUrl)}; pass migrationsDir`);
}

const CREATE_SCHEMA_TABLE = `
  CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at INTEGER NOT NULL
  ) STRICT`;

export interface AppliedRow {
  readonly version: number;
  readonly name: string;
}

function hasSchemaTable(db: Database.Database): boolean {
  const found = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  return found !== undefined;
}

function readApplied(db: Database.Database): readonly AppliedRow[] {
  if (!hasSchemaTable(db)) return [];
  return db.prepare<[], AppliedRow>('SELECT version, name FROM schema_migrations ORDER BY version').all();
}

/** Refuses a database ahead of the code, or one whose recorded history differs from the files. */
export function checkHistory(location: string, applied: readonly AppliedRow[], migrations: readonly Migration[]): number {
  const databaseVersion = applied.reduce((max, row) => Math.max(max, row.version), 0);
  if (databaseVersion > migrations.length) {
    throw new LedgerVersionError(location, databaseVersion, migrations.length);
  }
  for (const row of applied) {
    const file = migrations[row.version - 1];
    // A renamed or renumbered file would make the recorded history lie about the schema.
    if (file === undefined || file.name !== row.name) {
      throw new Error(
        `ledger ${location} records migration ${row.version} as '${row.name}', ` +
          `but the file with that number is '${file?.name ?? '(none)'}'; migration files must never be renamed or renumbered`,
      );
    }
  }
  return databaseVersion;
}

/** The schema version of a database that must not be written to (read-only use); refuses one that needs migrating. */
export function checkSchemaVersion(db: Database.Database, location: string, migrations: readonly Migration[]): number {
  const version = checkHistory(location, readApplied(db), migrations);
  if (version < migrations.length) {
    throw new Error(
      `ledger ${location} is at schema version ${version} and this keysmith needs ${migrations.length}; ` +
        `open it read-write once to apply the pending migrations`,
    );
  }
  return version;
}

/** Applies every pending migration; returns the resulting schema version. */
export function applyMigrations(
  db: Database.Database,
  location: string,
  migrations: readonly Migration[],
  clock: Clock = systemClock,
): number {
  db.exec(CREATE_SCHEMA_TABLE);
  let version = checkHistory(location, readApplied(db), migrations);
  if (version === migrations.length) return version;

  const currentVersion = db.prepare<[], number>('SELECT coalesce(max(version), 0) FROM schema_migrations').pluck();
  const record = db.prepare<[number, string, number]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const foreignKeyProblems = db.prepare('PRAGMA foreign_key_check');
  const applyOne = db.transaction((migration: Migration): void => {
    // Another process may have migrated between our read and this write lock.
    if ((currentVersion.get() ?? 0) >= migration.version) return;
    db.exec(migration.sql);
    if (foreignKeyProblems.all().length > 0) {
      throw new Error(`migration ${migration.version}_${migration.name} leaves rows that break foreign keys`);
    }
    record.run(migration.version, migration.name, clock.now());
  });

  // SQLite's table-rebuild procedure needs foreign keys off (the pragma is a no-op
  // inside a transaction), else DROP TABLE would cascade; checked above before commit.
  db.pragma('foreign_keys = OFF');
  try {
    for (const migration of migrations.slice(version)) {
      try {
        applyOne.immediate(migration);
      } catch (error) {
        throw new Error(
          `migration ${migration.version}_${migration.name} failed and was rolled back; ` +
            `ledger ${location} stays at schema version ${migration.version - 1}`,
          { cause: error },
        );
      }
      version = migration.version;
    }
  } finally {
    db.pragma('foreign_keys = ON');
  }
  return version;
}
