import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { caInitLockFor } from '../../../src/cli/ca-join.js';
import { AdvisoryLock, openLedgerBackend, type OpenedLedger } from '../../../src/ledger/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

/**
 * Which lock CA initialisation takes on each backend: on PostgreSQL an
 * advisory lock that two nodes (two pools on one real database) take one
 * after the other; on SQLite none (one process per file).
 */
describe('caInitLockFor', () => {
  let database: TestDatabase;
  let nodes: OpenedLedger[] = [];
  let dir: string;

  before(async () => {
    database = await createTestDatabase('ca_lock');
    dir = mkdtempSync(join(tmpdir(), 'keysmith-ca-lock-'));
  });

  after(async () => {
    for (const opened of nodes) await opened.ledger.close();
    await database?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is none on SQLite', async () => {
    const opened = await openLedgerBackend({ kind: 'sqlite', path: join(dir, 'ledger.db') });
    nodes.push(opened);
    assert.equal(caInitLockFor(opened), undefined);
  });

  it('is an advisory lock on PostgreSQL that two nodes hold one after the other', async () => {
    const a = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 1 });
    const b = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 1 });
    nodes = [...nodes, a, b];
    const [lockA, lockB] = [caInitLockFor(a), caInitLockFor(b)];
    assert.ok(lockA instanceof AdvisoryLock && lockB instanceof AdvisoryLock);
    const events: string[] = [];
    const work = (name: string) => async (): Promise<void> => {
      events.push(`${name}+`);
      await sleep(150);
      events.push(`${name}-`);
    };
    await Promise.all([lockA.exclusive(work('a')), lockB.exclusive(work('b'))]);
    assert.ok(events.join(' ') === 'a+ a- b+ b-' || events.join(' ') === 'b+ b- a+ a-', events.join(' '));
  });
});
