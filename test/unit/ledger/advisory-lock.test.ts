import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AdvisoryLock, CA_INIT_LOCK_KEY, PostgresDatabase } from '../../../src/ledger/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';

/**
 * The lock CA initialisation takes on PostgreSQL, on a real server: two
 * nodes (two pools, as two processes would have) asking at once run their
 * work one after the other, and a holder that fails releases the lock.
 */
describe('AdvisoryLock on PostgreSQL', () => {
  let database: TestDatabase;
  let nodeA: PostgresDatabase;
  let nodeB: PostgresDatabase;

  before(async () => {
    database = await createTestDatabase('advisory_lock');
    nodeA = new PostgresDatabase({ url: database.url, poolSize: 1 });
    nodeB = new PostgresDatabase({ url: database.url, poolSize: 1 });
  });

  after(async () => {
    await nodeA?.close();
    await nodeB?.close();
    await database?.drop();
  });

  it('runs the work of two nodes asking at once one after the other, never interleaved', async () => {
    const events: string[] = [];
    const work = (name: string) => async (): Promise<string> => {
      events.push(`${name} in`);
      // Long enough that the other node is surely waiting on the lock by now.
      await sleep(200);
      events.push(`${name} out`);
      return name;
    };
    const results = await Promise.all([
      new AdvisoryLock(nodeA, CA_INIT_LOCK_KEY).exclusive(work('a')),
      new AdvisoryLock(nodeB, CA_INIT_LOCK_KEY).exclusive(work('b')),
    ]);
    assert.deepEqual(results, ['a', 'b']);
    assert.equal(events.length, 4);
    assert.deepEqual(
      [events[0]?.split(' ')[1], events[1]?.split(' ')[1], events[2]?.split(' ')[1], events[3]?.split(' ')[1]],
      ['in', 'out', 'in', 'out'],
    );
    assert.equal(events[0]?.split(' ')[0], events[1]?.split(' ')[0]);
  });

  it('releases the lock when the work throws, so the next node gets it', async () => {
    await assert.rejects(
      new AdvisoryLock(nodeA, CA_INIT_LOCK_KEY).exclusive(async () => {
        throw new Error('init failed');
      }),
      /init failed/,
    );
    const got = await new AdvisoryLock(nodeB, CA_INIT_LOCK_KEY).exclusive(async () => 'b');
    assert.equal(got, 'b');
    const held = await nodeA.rows<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()",
    );
    assert.deepEqual(held, [{ n: 0 }]);
  });
});
