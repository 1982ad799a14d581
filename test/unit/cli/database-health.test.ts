import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { databaseHealth, ledgerHealthCheck } from '../../../src/cli/database-health.js';
import { openLedgerBackend, type OpenedLedger } from '../../../src/ledger/index.js';
import { createTestDatabase } from '../../helpers/postgres.js';

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now(): number; advance(ms: number): void } {
  let now = start;
  return { now: () => now, advance: (ms) => (now += ms) };
}

describe('databaseHealth (/healthz: the ledger database)', () => {
  it('PostgreSQL: reachable, then unreachable once the database is gone (no throw), at most one ping per second', async () => {
    const database = await createTestDatabase('health');
    const opened: OpenedLedger = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 1, connectTimeoutMs: 1_000 });
    const clock = manualClock();
    try {
      const health = databaseHealth(opened, { clock, timeoutMs: 3_000 });
      const check = ledgerHealthCheck(opened.kind, health);
      assert.equal(check.whenFailing, 'degraded');
      assert.deepEqual(await health.status(), { backend: 'postgres', reachable: true, schemaVersion: opened.ledger.schemaVersion });
      await database.drop();
      // Within the second, the answer is the one already given: a flood of /healthz is not a flood of pings.
      assert.equal((await health.status()).reachable, true);
      clock.advance(1_000);
      assert.deepEqual(await health.status(), { backend: 'postgres', reachable: false, schemaVersion: opened.ledger.schemaVersion });
      assert.deepEqual(await check.check(), { ok: false, detail: 'the ledger database cannot be reached' });
    } finally {
      await opened.ledger.close();
      await database.drop();
    }
  });

  it('SQLite: reachable while open; its ledger check fails the node (not degraded) as before', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-health-'));
    const opened = await openLedgerBackend({ kind: 'sqlite', path: join(dir, 'ledger.db') });
    const clock = manualClock();
    try {
      const health = databaseHealth(opened, { clock });
      assert.deepEqual(await health.status(), { backend: 'sqlite', reachable: true, schemaVersion: opened.ledger.schemaVersion });
      assert.equal(ledgerHealthCheck(opened.kind, health).whenFailing, 'fail');
      void opened.ledger.close();
      clock.advance(1_000);
      assert.equal((await health.status()).reachable, false);
    } finally {
      void opened.ledger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
