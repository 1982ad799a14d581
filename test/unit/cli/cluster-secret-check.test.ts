import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { clusterSecretPath } from '../../../src/cli/cluster-secret.js';
import { ClusterSecretMismatchError } from '../../../src/cli/cluster-secret-check.js';
import { openCore } from '../../../src/cli/compose.js';
import { loadConfig } from '../../../src/config/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

/**
 * The start-up check of the cluster secret, through openCore as every
 * command runs it: the first start records the check value in the ledger; a
 * node (or a restart) whose ca/cluster.key is another refuses to start,
 * naming the file to copy; with the right file it starts.
 */

function configFor(dataDir: string, databaseUrl?: string): ReturnType<typeof loadConfig> {
  return loadConfig({
    env: {
      KEYSMITH_DATA_DIR: dataDir,
      KEYSMITH_LISTEN: '127.0.0.1:18443',
      KEYSMITH_LOG_LEVEL: 'silent',
      ...(databaseUrl === undefined ? {} : { KEYSMITH_DATABASE_URL: databaseUrl }),
    },
  });
}

async function startsAndCloses(dataDir: string, databaseUrl?: string): Promise<void> {
  const core = await openCore(configFor(dataDir, databaseUrl), { ensureIdentities: false });
  await core.close();
}

function refusal(dataDir: string, created: boolean): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof ClusterSecretMismatchError, String(error));
    const path = clusterSecretPath(dataDir);
    assert.ok(error.message.includes(`copy cluster.key from a running node's <dataDir>/ca/`), error.message);
    assert.ok(error.message.includes(`to ${path}, mode 0600`), error.message);
    assert.equal(error.message.includes('created'), created, error.message);
    return true;
  };
}

describe('cluster secret check at start: SQLite', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'keysmith-secret-check-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('records on first start, refuses another cluster.key (replaced or recreated), starts again with the original', async () => {
    await startsAndCloses(dir);
    const path = clusterSecretPath(dir);
    const original = readFileSync(path);
    writeFileSync(path, randomBytes(32), { mode: 0o600 });
    await assert.rejects(openCore(configFor(dir), { ensureIdentities: false }), refusal(dir, false));
    rmSync(path);
    await assert.rejects(openCore(configFor(dir), { ensureIdentities: false }), refusal(dir, true));
    writeFileSync(path, original, { mode: 0o600 });
    await startsAndCloses(dir);
    assert.equal(statSync(path).mode & 0o777, 0o600);
  });
});

describe('cluster secret check at start: PostgreSQL, three nodes on one ledger', () => {
  let root: string;
  let database: TestDatabase;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'keysmith-secret-check-pg-'));
    database = await createTestDatabase('secretcheck');
  });
  after(async () => {
    await database.drop();
    rmSync(root, { recursive: true, force: true });
  });

  it('a node with a copy of ca/ joins; one whose cluster.key differs, or that has none, refuses to start', async () => {
    const first = join(root, 'first');
    await startsAndCloses(first, database.url);

    const joining = join(root, 'joining');
    cpSync(join(first, 'ca'), join(joining, 'ca'), { recursive: true });
    await startsAndCloses(joining, database.url);

    const stranger = join(root, 'stranger');
    cpSync(join(first, 'ca'), join(stranger, 'ca'), { recursive: true });
    writeFileSync(clusterSecretPath(stranger), randomBytes(32), { mode: 0o600 });
    await assert.rejects(openCore(configFor(stranger, database.url), { ensureIdentities: false }), refusal(stranger, false));

    const withoutSecret = join(root, 'without-secret');
    cpSync(join(first, 'ca'), join(withoutSecret, 'ca'), { recursive: true });
    rmSync(clusterSecretPath(withoutSecret));
    await assert.rejects(openCore(configFor(withoutSecret, database.url), { ensureIdentities: false }), refusal(withoutSecret, true));

    // The remedy the message gives: copy the file; then the node starts.
    cpSync(clusterSecretPath(first), clusterSecretPath(stranger));
    await startsAndCloses(stranger, database.url);
  });
});
