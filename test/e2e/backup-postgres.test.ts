import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { openLedgerBackend } from '../../src/ledger/index.js';
import { makeRecord } from '../unit/ledger/ledger-fixtures.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { hasCommand, runProcess } from '../helpers/processes.js';
import { psql } from '../helpers/test-backend.js';

/**
 * `keysmith backup` on a PostgreSQL ledger: pg_dump --format=custom inside a
 * snapshot keysmith exports (the manifest's counts describe the dump), the
 * dump restores with the documented pg_restore line, and without pg_dump on
 * PATH the command refuses with the sentence that names what to run instead.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'keysmith-backup-pg-'));
const databases: TestDatabase[] = [];
after(async () => {
  for (const database of databases) await database.drop();
  rmSync(scratch, { recursive: true, force: true });
});

async function database(label: string): Promise<TestDatabase> {
  const made = await createTestDatabase(label);
  databases.push(made);
  return made;
}

describe(
  'keysmith backup on PostgreSQL',
  { skip: hasCommand('pg_dump') && hasCommand('pg_restore') ? false : 'pg_dump and pg_restore are not installed' },
  () => {
    it('dumps the ledger with pg_dump in an exported snapshot; the dump restores with pg_restore; keysmith restore names that command', async () => {
      const source = await database('backup_src');
      const opened = await openLedgerBackend({ kind: 'postgres', url: source.url, poolSize: 2 });
      const serials: string[] = [];
      try {
        for (let i = 0; i < 3; i++) {
          const record = makeRecord();
          await opened.ledger.certificates.recordIssued(record);
          serials.push(record.serial);
        }
        await opened.ledger.certificates.revoke(serials[0] ?? '', 'keyCompromise', Date.now());
        await opened.ledger.crlNumbers.next(7);
      } finally {
        await opened.ledger.close();
      }
      const env = { PATH: process.env['PATH'], KEYSMITH_DATA_DIR: join(scratch, 'data'), KEYSMITH_DATABASE_URL: source.url };
      const archive = join(scratch, 'pg.tar');
      const backup = await runProcess(process.execPath, [MAIN, 'backup', '--out', archive, '--json'], { env, timeoutMs: 60_000 });
      assert.equal(backup.code, 0, backup.stderr);
      const manifest = JSON.parse(backup.stdout) as {
        backend: string;
        schema_version: number;
        highest_crl_number: number;
        row_counts: Record<string, number>;
        files: { path: string }[];
      };
      assert.equal(manifest.backend, 'postgres');
      assert.equal(manifest.highest_crl_number, 7);
      assert.equal(manifest.row_counts['certificates'], 3);
      assert.equal(manifest.row_counts['revoked_certificates'], 1);
      assert.deepEqual(
        manifest.files.map((f) => f.path),
        ['ledger.pgdump'],
      );

      const unpacked = join(scratch, 'unpacked');
      const tar = await runProcess('tar', ['-xf', archive, '-C', scratch, '--one-top-level=unpacked', 'ledger.pgdump'], {
        timeoutMs: 30_000,
      });
      assert.equal(tar.code, 0, tar.stderr);
      const target = await database('backup_dst');
      const restore = await runProcess(
        'pg_restore',
        ['--no-owner', '--single-transaction', `--dbname=${target.url}`, join(unpacked, 'ledger.pgdump')],
        { timeoutMs: 60_000 },
      );
      assert.equal(restore.code, 0, restore.stderr);
      assert.equal(
        psql(target.url, `SELECT string_agg(serial || ':' || status, ',' ORDER BY serial) FROM certificates`).trim(),
        serials
          .map((s, i) => `${s}:${i === 0 ? 'revoked' : 'valid'}`)
          .sort()
          .join(','),
      );

      const refused = await runProcess(process.execPath, [MAIN, 'restore', archive, '--data-dir', join(scratch, 'restored')], {
        env: { PATH: process.env['PATH'] },
        timeoutMs: 60_000,
      });
      assert.equal(refused.code, 1);
      assert.match(
        refused.stderr,
        /holds a PostgreSQL dump: restore it with `tar -xf .* ledger\.pgdump && pg_restore --clean --if-exists --single-transaction --dbname="\$KEYSMITH_DATABASE_URL" ledger\.pgdump`/,
      );
    });

    it('without pg_dump on PATH, refuses with the command to run instead and writes nothing', async () => {
      const source = await database('backup_nodump');
      const opened = await openLedgerBackend({ kind: 'postgres', url: source.url, poolSize: 1 });
      await opened.ledger.close();
      const archive = join(scratch, 'nodump.tar');
      const env = { PATH: join(scratch, 'empty-path'), KEYSMITH_DATA_DIR: join(scratch, 'data'), KEYSMITH_DATABASE_URL: source.url };
      const result = await runProcess(process.execPath, [MAIN, 'backup', '--out', archive], { env, timeoutMs: 60_000 });
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        /pg_dump is not on PATH: back up the PostgreSQL ledger with `pg_dump --format=custom --file=keysmith\.pgdump "\$KEYSMITH_DATABASE_URL"`/,
      );
      assert.equal((await runProcess('ls', [scratch], { timeoutMs: 10_000 })).stdout.includes('nodump.tar'), false);
    });
  },
);
