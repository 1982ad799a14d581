import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openLedger } from '../../../src/ledger/ledger.js';
import { databaseFiles, tightenDatabaseFiles } from '../../../src/ledger/connection.js';
import { tempDir } from '../ca/helpers.js';

/**
 * The ledger file and its WAL companions hold every certificate issued and
 * the wrapped OCSP responder keys: 0600 from their first byte whatever the
 * umask, and tightened with a warning when found looser.
 */
const modeOf = (path: string): number => statSync(path).mode & 0o777;

describe('ledger file modes', () => {
  const dir = tempDir('ledger-modes');
  after(() => dir.remove());

  it('creates keysmith.db, -wal and -shm 0600 under a permissive umask (022)', () => {
    const path = join(dir.path, 'new.db');
    const previous = process.umask(0o022);
    try {
      const ledger = openLedger({ path });
      // A write makes SQLite create the WAL and shared-memory files.
      ledger.certificates.count();
      for (const file of databaseFiles(path)) {
        assert.ok(existsSync(file), `${file} exists while the ledger is open`);
        assert.equal(modeOf(file), 0o600, file);
      }
      ledger.close();
    } finally {
      process.umask(previous);
    }
  });

  it('tightens a 0644 ledger and its -wal to 0600, one warning each naming the file and the old mode', () => {
    const path = join(dir.path, 'loose.db');
    writeFileSync(path, '');
    writeFileSync(`${path}-wal`, '');
    chmodSync(path, 0o644);
    chmodSync(`${path}-wal`, 0o640);
    const warnings: string[] = [];
    tightenDatabaseFiles(path, (message) => warnings.push(message));
    assert.equal(modeOf(path), 0o600);
    assert.equal(modeOf(`${path}-wal`), 0o600);
    assert.deepEqual(warnings, [
      `${path} had mode 0644 (readable by group or others); set to 0600`,
      `${path}-wal had mode 0640 (readable by group or others); set to 0600`,
    ]);
  });

  it('says nothing about files already private', () => {
    const path = join(dir.path, 'private.db');
    writeFileSync(path, '', { mode: 0o600 });
    chmodSync(path, 0o600);
    const warnings: string[] = [];
    tightenDatabaseFiles(path, (message) => warnings.push(message));
    assert.deepEqual(warnings, []);
  });
});
