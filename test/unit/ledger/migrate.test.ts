import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { LedgerVersionError, openLedger } from '../../../src/ledger/index.js';
import { findMigrationsDir, readMigrations } from '../../../src/ledger/migrate.js';
import {
  REPO_MIGRATIONS,
  integrityCheck,
  makeMigrationsDir,
  makeRecord,
  makeTempDir,
  recordedVersions,
  withRawDatabase,
  type TempDir,
} from './ledger-fixtures.js';

/** The migration runner over real SQLite files and real (or copied) migration files. */

const ADD_NOTICES = `
  -- a stand-in for the next real migration
  CREATE TABLE expiry_notices (
    serial  TEXT    NOT NULL REFERENCES certificates (serial) ON DELETE CASCADE,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY (serial, sent_at)
  ) STRICT;
  ALTER TABLE certificates ADD COLUMN note TEXT;
`;

const BROKEN = `
  CREATE TABLE half_done (x INTEGER) STRICT;
  INSERT INTO no_such_table VALUES (1);
`;

function tableNames(path: string): string[] {
  return withRawDatabase(path, (db) =>
    db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all(),
  );
}

describe('migrations', () => {
  let tmp: TempDir;
  before(() => {
    tmp = makeTempDir();
  });
  after(() => tmp.remove());

  it('finds the repository migrations from the compiled module and reads them in order', () => {
    const migrations = readMigrations(REPO_MIGRATIONS);
    assert.ok(migrations.length >= 1);
    assert.deepEqual(
      migrations.map((m) => m.version),
      migrations.map((_, i) => i + 1),
    );
    assert.equal(migrations[0]?.name, 'certificates');
    assert.match(migrations[0]?.sql ?? '', /^-- 0001/);
  });

  it('finds migrations/ from a source layout (src/ledger) as well as from dist/src/ledger', () => {
    const root = tmp.file('clone');
    mkdirSync(join(root, 'src', 'ledger'), { recursive: true });
    mkdirSync(join(root, 'migrations'));
    writeFileSync(join(root, 'package.json'), '{}');
    const fromSource = pathToFileURL(join(root, 'src', 'ledger', 'migrate.ts')).href;
    assert.equal(findMigrationsDir(fromSource), join(root, 'migrations'));
    mkdirSync(join(root, 'dist', 'src', 'ledger'), { recursive: true });
    const fromDist = pathToFileURL(join(root, 'dist', 'src', 'ledger', 'migrate.js')).href;
    assert.equal(findMigrationsDir(fromDist), join(root, 'migrations'));
  });

  it('migrates an empty database to the latest version and records every step', () => {
    const path = tmp.file('empty.db');
    const latest = readMigrations(REPO_MIGRATIONS).length;
    const ledger = openLedger({ path });
    assert.equal(ledger.schemaVersion, latest);
    ledger.close();
    assert.deepEqual(
      recordedVersions(path),
      Array.from({ length: latest }, (_, i) => i + 1),
    );
    assert.ok(tableNames(path).includes('certificates'));
    assert.ok(tableNames(path).includes('certificate_names'));
    assert.equal(integrityCheck(path), 'ok');
  });

  it('is a no-op when reopened at the latest version', () => {
    const path = tmp.file('reopen.db');
    openLedger({ path }).close();
    const appliedAt = withRawDatabase(path, (db) => db.prepare('SELECT * FROM schema_migrations').all());
    const again = openLedger({ path });
    assert.equal(again.schemaVersion, readMigrations(REPO_MIGRATIONS).length);
    again.close();
    assert.deepEqual(
      withRawDatabase(path, (db) => db.prepare('SELECT * FROM schema_migrations').all()),
      appliedAt,
    );
  });

  it('upgrades a database from every earlier version, keeping its rows', () => {
    const latest = readMigrations(REPO_MIGRATIONS).length;
    for (let start = 1; start <= latest; start += 1) {
      const path = tmp.file(`from-${start}.db`);
      const old = openLedger({ path, migrationsDir: makeMigrationsDir(tmp, `upto-${start}`, start) });
      assert.equal(old.schemaVersion, start);
      const record = makeRecord();
      old.certificates.recordIssued(record);
      old.close();

      const upgraded = openLedger({ path });
      assert.equal(upgraded.schemaVersion, latest, `from version ${start}`);
      assert.deepEqual(upgraded.certificates.findBySerial(record.serial)?.der, new Uint8Array(record.der));
      upgraded.close();
      assert.equal(integrityCheck(path), 'ok');
    }
  });

  it('applies a new 0002 on top of a database created at 0001', () => {
    const path = tmp.file('two.db');
    const first = openLedger({ path, migrationsDir: makeMigrationsDir(tmp, 'only-1', 1) });
    const record = makeRecord();
    first.certificates.recordIssued(record);
    first.close();

    const dir = makeMigrationsDir(tmp, 'with-2', 1, { '0002_expiry_notices.sql': ADD_NOTICES });
    const second = openLedger({ path, migrationsDir: dir });
    assert.equal(second.schemaVersion, 2);
    assert.equal(second.certificates.findBySerial(record.serial)?.serial, record.serial);
    second.close();

    assert.deepEqual(recordedVersions(path), [1, 2]);
    assert.ok(tableNames(path).includes('expiry_notices'));
    withRawDatabase(path, (db) => {
      const columns = db.prepare<[], string>("SELECT name FROM pragma_table_info('certificates')").pluck().all();
      assert.ok(columns.includes('note'));
      assert.equal(db.prepare<[], string>('SELECT name FROM schema_migrations WHERE version = 2').pluck().get(), 'expiry_notices');
    });
  });

  it('refuses a database newer than the code with LedgerVersionError naming both versions', () => {
    const path = tmp.file('newer.db');
    const ahead = makeMigrationsDir(tmp, 'ahead', 1, { '0002_expiry_notices.sql': ADD_NOTICES });
    openLedger({ path, migrationsDir: ahead }).close();

    const behind = makeMigrationsDir(tmp, 'behind', 1);
    assert.throws(
      () => openLedger({ path, migrationsDir: behind }),
      (error: unknown) => {
        assert.ok(error instanceof LedgerVersionError);
        assert.equal(error.databaseVersion, 2);
        assert.equal(error.codeVersion, 1);
        assert.match(error.message, /schema version 2/);
        assert.match(error.message, /up to version 1/);
        assert.match(error.message, /newer keysmith/);
        assert.match(error.message, /backup/);
        return true;
      },
    );
    // Refusing must not touch the database.
    assert.deepEqual(recordedVersions(path), [1, 2]);
    assert.throws(() => openLedger({ path, migrationsDir: behind, readonly: true }), LedgerVersionError);
  });

  it('rolls a failing migration back and leaves the database at the previous version', () => {
    const path = tmp.file('broken.db');
    const dir = makeMigrationsDir(tmp, 'broken', 1, { '0002_half_done.sql': BROKEN });
    assert.throws(
      () => openLedger({ path, migrationsDir: dir }),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.match(error.message, /migration 2_half_done failed and was rolled back/);
        assert.match(error.message, /stays at schema version 1/);
        assert.match(String(error.cause), /no such table: no_such_table/);
        return true;
      },
    );
    assert.deepEqual(recordedVersions(path), [1]);
    assert.ok(!tableNames(path).includes('half_done'));
    assert.equal(integrityCheck(path), 'ok');

    // Fixing the file lets the next start finish the job.
    const fixed = makeMigrationsDir(tmp, 'fixed', 1, { '0002_half_done.sql': 'CREATE TABLE half_done (x INTEGER) STRICT;' });
    const ledger = openLedger({ path, migrationsDir: fixed });
    assert.equal(ledger.schemaVersion, 2);
    ledger.close();
  });

  it('rolls back a migration that leaves foreign keys broken', () => {
    const path = tmp.file('orphans.db');
    const orphan = "INSERT INTO certificate_names (serial, type, value) VALUES ('abcd', 'dns', 'orphan.example');";
    const dir = makeMigrationsDir(tmp, 'orphans', 1, { '0002_orphan.sql': orphan });
    assert.throws(() => openLedger({ path, migrationsDir: dir }), /rolled back/);
    assert.deepEqual(recordedVersions(path), [1]);
    withRawDatabase(path, (db) => {
      assert.equal(db.prepare('SELECT count(*) FROM certificate_names').pluck().get(), 0);
    });
  });

  it('refuses a gap in the numbering', () => {
    const dir = makeMigrationsDir(tmp, 'gap', 1, { '0003_later.sql': 'SELECT 1;' });
    assert.throws(() => readMigrations(dir), /leaves a gap after version 1/);
    assert.throws(() => openLedger({ path: tmp.file('gap.db'), migrationsDir: dir }), /gap/);
    assert.ok(!existsSync(tmp.file('gap.db')), 'nothing is created when the directory is bad');
  });

  it('refuses two files with one number', () => {
    const dir = makeMigrationsDir(tmp, 'dup', 1, { '0001_again.sql': 'SELECT 1;' });
    assert.throws(() => readMigrations(dir), /duplicates version 1/);
  });

  it('refuses a .sql file not named NNNN_name.sql, and an empty directory', () => {
    assert.throws(() => readMigrations(makeMigrationsDir(tmp, 'badname', 1, { '2_x.sql': 'SELECT 1;' })), /NNNN_name/);
    assert.throws(() => readMigrations(makeMigrationsDir(tmp, 'upper', 1, { '0002_Add.sql': 'SELECT 1;' })), /NNNN_name/);
    assert.throws(() => readMigrations(makeMigrationsDir(tmp, 'none', 0)), /no migrations/);
    // Other files (notes, READMEs) are ignored.
    assert.equal(readMigrations(makeMigrationsDir(tmp, 'notes', 1, { 'README.md': '# notes' })).length, 1);
  });

  it('refuses a database whose recorded history names a different file', () => {
    const path = tmp.file('renamed.db');
    openLedger({ path, migrationsDir: makeMigrationsDir(tmp, 'orig', 1, { '0002_first_name.sql': 'SELECT 1;' }) }).close();
    const renamed = makeMigrationsDir(tmp, 'renamed', 1, { '0002_second_name.sql': 'SELECT 1;' });
    assert.throws(() => openLedger({ path, migrationsDir: renamed }), /records migration 2 as 'first_name'/);
  });

  it('refuses to open read-only a database that still needs migrating', () => {
    const path = tmp.file('readonly-old.db');
    openLedger({ path, migrationsDir: makeMigrationsDir(tmp, 'ro-1', 1) }).close();
    const dir = makeMigrationsDir(tmp, 'ro-2', 1, { '0002_expiry_notices.sql': ADD_NOTICES });
    assert.throws(() => openLedger({ path, migrationsDir: dir, readonly: true }), /open it read-write once/);
    assert.deepEqual(recordedVersions(path), [1]);
  });
});
