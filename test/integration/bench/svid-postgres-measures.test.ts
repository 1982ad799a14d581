import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { BenchPostgres, type BenchDatabase } from '../../../bench/svid/postgres.js';
import { parentOf, postgresCpuSeconds } from '../../../bench/svid/proc-cpu.js';

/**
 * What bench/svid reads of PostgreSQL to write docs/scaling.md, checked on a
 * real throw-away cluster: the COMMIT records pg_waldump counts in a WAL
 * range are the write transactions in it (read-only ones write none), and
 * the postmaster found through /proc is the server's.
 */
describe('bench/svid PostgreSQL measures', () => {
  let postgres: BenchPostgres;
  let database: BenchDatabase;
  let client: pg.Client;

  before(async () => {
    delete process.env['BENCH_DATABASE_URL'];
    postgres = await BenchPostgres.start();
    // Autovacuum would add its own commits to the window: this cluster is the test's own.
    await postgres.monitor.query('ALTER SYSTEM SET autovacuum = off');
    await postgres.monitor.query('SELECT pg_reload_conf()');
    database = await postgres.createDatabase('measures');
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
    await client.query('CREATE TABLE rows_written (id integer PRIMARY KEY, payload text NOT NULL)');
  });

  after(async () => {
    await client?.end();
    await postgres?.stop();
  });

  it('counts the write transactions between two WAL points, not the read-only ones', async () => {
    const from = await postgres.walPoint();
    for (let batch = 0; batch < 7; batch++) {
      await client.query('BEGIN');
      for (let i = 0; i < 3; i++) await client.query('INSERT INTO rows_written VALUES ($1, $2)', [batch * 3 + i, 'x'.repeat(100)]);
      await client.query('COMMIT');
    }
    for (let i = 0; i < 11; i++) await client.query('SELECT count(*) FROM rows_written');
    const to = await postgres.walPoint();
    assert.equal(postgres.commitRecords(from, to), 7);
    const walBytes = await postgres.walBytes(from, to);
    // 21 rows of ~130 bytes, their index entries and 7 commit records: more than the payload, far less than a page per row.
    assert.ok(walBytes > 21 * 100 && walBytes < 21 * 8192, `WAL bytes ${walBytes}`);
  });

  it('finds the postmaster: the parent of every backend, and the process whose CPU it sums', async () => {
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid;
    assert.ok(backend !== undefined && postgres.postmasterPid !== undefined);
    assert.equal(parentOf(backend), postgres.postmasterPid);
    assert.ok(postgresCpuSeconds(postgres.postmasterPid) > 0);
  });

  it('reports no parent for a process that is not there', () => {
    assert.equal(parentOf(2 ** 22 + 1), undefined);
  });
});
