import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { startProcess } from '../helpers/processes.js';
import { psql, withTestBackend } from '../helpers/test-backend.js';

const CHILD = fileURLToPath(new URL('./issue-burst-child.js', import.meta.url));

/** Starts the child with `concurrency` issuers, kills it mid-burst, and checks every serial it printed is in the ledger. */
async function killDuringBurst(concurrency: number, killAfterSerials: number): Promise<void> {
  const dataDir = await mkdtemp(join(tmpdir(), 'keysmith-crash-'));
  try {
    // KEYSMITH_TEST_BACKEND=postgres: the child's ledger is a fresh PostgreSQL database (the commit it waits for is PostgreSQL's).
    const env = withTestBackend({ PATH: process.env['PATH'], KEYSMITH_DATA_DIR: dataDir });
    const child = startProcess(process.execPath, [CHILD, String(concurrency)], { env, lifetimeMs: 60_000 });
    await child.waitFor(/^ready$/m, { timeoutMs: 30_000 });
    // Let a burst run, then kill without warning (bounded: `killAfterSerials` serials or 10 s).
    await child
      .waitFor(new RegExp(`^(?:[0-9a-f]+\\n){${killAfterSerials}}`, 'm'), { timeoutMs: 10_000, from: child.offset() })
      .catch(() => undefined);
    process.kill(child.pid, 'SIGKILL');
    await child.waitForExit(10_000).catch(() => undefined);
    const received = child.stdout.split('\n').filter((line) => /^[0-9a-f]+$/.test(line));
    assert.ok(received.length > 0, 'the child issued nothing before it was killed');

    const databaseUrl = env['KEYSMITH_DATABASE_URL'];
    if (databaseUrl !== undefined) {
      // The serials are hex only (filtered above), so they go into the statement as literals.
      const found = new Set(
        psql(databaseUrl, `SELECT serial FROM certificates WHERE serial IN (${received.map((s) => `'${s}'`).join(',')})`).split('\n'),
      );
      assert.deepEqual(
        received.filter((serial) => !found.has(serial)),
        [],
        'every serial handed out is in the ledger',
      );
      return;
    }
    const db = new Database(join(dataDir, 'keysmith.db'));
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const has = db.prepare('SELECT 1 FROM certificates WHERE serial = ?');
      const missing = received.filter((serial) => has.get(serial) === undefined);
      assert.deepEqual(missing, [], 'every serial handed out is in the ledger');
    } finally {
      db.close();
    }
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

describe('issuance under SIGKILL', () => {
  it('leaves an intact ledger holding every certificate a client received', async () => {
    await killDuringBurst(1, 40);
  });

  it('loses none with 64 issuers at once: group commits in flight (on SQLite in the commit worker) when the kill comes', async () => {
    await killDuringBurst(64, 600);
  });
});
