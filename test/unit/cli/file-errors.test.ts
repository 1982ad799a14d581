import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openCore } from '../../../src/cli/compose.js';
import { explainFileError, FileAccessError } from '../../../src/cli/file-errors.js';
import { loadConfig } from '../../../src/config/index.js';

/**
 * File-system refusals as sentences: real errors from node:fs, from openCore
 * on a bad data directory, and from the keysmith command run as another user
 * (uid 65534) against files it may not touch.
 */

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const NOBODY = 65534;

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keysmith-file-errors-'));
  // The user of the child processes must be able to reach what is inside.
  chmodSync(dir, 0o755);
});

after(() => rmSync(dir, { recursive: true, force: true }));

function thrown(action: () => unknown): unknown {
  try {
    action();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

describe('explainFileError', () => {
  it('EEXIST: names the path and says to move it aside', () => {
    const path = join(dir, 'exists');
    writeFileSync(path, '');
    const err = explainFileError(
      thrown(() => openSync(path, 'wx')),
      'the ledger',
      '/elsewhere',
    );
    assert.ok(err instanceof FileAccessError);
    assert.equal(
      err.message,
      `cannot open ${path} (the ledger): it already exists. If it was left by an interrupted start or command, move it aside and try again.`,
    );
    assert.equal(err.code, 'EEXIST');
  });

  it('ENOENT: names the path and what to set', () => {
    const path = join(dir, 'missing', 'keysmith.db');
    const err = explainFileError(
      thrown(() => openSync(path, 'r')),
      'the ledger',
      '/elsewhere',
    );
    assert.ok(err instanceof FileAccessError);
    assert.equal(
      err.message,
      `cannot open ${path} (the ledger): it does not exist. Create its parent directory, or set dataDir (KEYSMITH_DATA_DIR) to an existing location; a missing CA file must be restored from a copy of ca/.`,
    );
  });

  it('passes any other error through unchanged', () => {
    const other = new Error('boom');
    assert.equal(explainFileError(other, 'the ledger', '/x'), other);
  });
});

describe('openCore on a data directory it cannot use', () => {
  it('a data directory path that is a file: a sentence naming it, nothing created', async () => {
    const path = join(dir, 'a-file');
    writeFileSync(path, '');
    const config = loadConfig({ env: { KEYSMITH_DATA_DIR: path, KEYSMITH_LISTEN: '127.0.0.1:8443' } });
    await assert.rejects(openCore(config), {
      message: `the data directory ${path} is not a directory: set KEYSMITH_DATA_DIR (dataDir) to a directory keysmith may create or own`,
    });
  });

  it('a data directory below a file: ENOTDIR as a sentence', async () => {
    const file = join(dir, 'plain-file');
    writeFileSync(file, '');
    const path = join(file, 'data');
    const config = loadConfig({ env: { KEYSMITH_DATA_DIR: path, KEYSMITH_LISTEN: '127.0.0.1:8443' } });
    await assert.rejects(openCore(config), {
      name: 'FileAccessError',
      message: `cannot create ${path} (the data directory): a part of that path is a file, not a directory. Set dataDir (KEYSMITH_DATA_DIR) to a directory.`,
    });
  });
});

// Running a child as another user needs root (CI containers run as root; elsewhere these two are skipped).
const AS_OTHER_USER = { skip: process.getuid?.() === 0 ? false : 'needs root to run keysmith as uid 65534' };

describe('keysmith run as a user that may not touch the files', AS_OTHER_USER, () => {
  function runAsNobody(dataDir: string): { status: number | null; stderr: string } {
    const result = spawnSync(process.execPath, [MAIN, 'certs', 'list'], {
      uid: NOBODY,
      gid: NOBODY,
      encoding: 'utf8',
      timeout: 30_000,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LISTEN: '127.0.0.1:8443' },
    });
    return { status: result.status, stderr: result.stderr };
  }

  it('EPERM on a data directory owned by another user: says whose it must be, creates nothing', () => {
    const dataDir = join(dir, 'root-owned');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const { status, stderr } = runAsNobody(dataDir);
    assert.equal(status, 1);
    assert.equal(
      stderr,
      `keysmith certs list: cannot change the mode of ${dataDir} (the data directory): operation not permitted; it belongs to another user or is protected. Run keysmith as its owner, or chown the data directory to the user keysmith runs as.\n`,
    );
    assert.deepEqual(readdirSync(dataDir), []);
  });

  it('EACCES on a ledger file of another user: names the file, creates nothing', () => {
    const dataDir = join(dir, 'nobody-owned');
    mkdirSync(dataDir, { mode: 0o700 });
    chownSync(dataDir, NOBODY, NOBODY);
    const database = join(dataDir, 'keysmith.db');
    writeFileSync(database, '', { mode: 0o600 });
    const { status, stderr } = runAsNobody(dataDir);
    assert.equal(status, 1);
    assert.equal(
      stderr,
      `keysmith certs list: cannot open ${database} (the ledger): permission denied. Run keysmith as the user that owns it, or give that user access (the data directory should be mode 0700 and owned by that user).\n`,
    );
    assert.deepEqual(readdirSync(dataDir), ['keysmith.db']);
  });
});
