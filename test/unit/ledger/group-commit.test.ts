import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { GroupCommit, type Ledger } from '../../../src/ledger/index.js';
import { useLedgerFile } from './ledger-fixtures.js';
import { counting, records } from './group-commit-fixtures.js';

/**
 * GroupCommit over a real CertificateRepository on a real SQLite file: what
 * only SQLite shows (row order on disk, a write lock held by another
 * connection). Everything both backends share is in contract/group-commit.test.ts.
 * The only wrapper is a pass-through that counts the calls reaching the
 * repository, i.e. the durable transactions actually run.
 */

describe('GroupCommit on SQLite', () => {
  let path: string;
  let ledger: Ledger;
  useLedgerFile((file) => ({ path, ledger } = file), { each: true, busyTimeoutMs: 50 });

  it('commits in call order and settles the promises in call order', async () => {
    const committer = new GroupCommit(ledger.certificates, { maxBatchRows: 16 });
    const batch = records(50);
    const settled: string[] = [];
    await Promise.all(batch.map((record) => committer.recordIssued(record).then(() => settled.push(record.serial))));
    assert.deepEqual(
      settled,
      batch.map((record) => record.serial),
    );
    const stored = new Database(path, { readonly: true });
    try {
      const byRowid = stored.prepare<[], string>('SELECT serial FROM certificates ORDER BY rowid').pluck().all();
      assert.deepEqual(
        byRowid,
        batch.map((record) => record.serial),
      );
    } finally {
      stored.close();
    }
  });

  it('has committed the queue when close() returns, before any await (the composition root closes the ledger right after)', () => {
    const committer = new GroupCommit(ledger.certificates);
    const pending = records(5).map((record) => committer.recordIssued(record));
    void committer.close();
    assert.equal(ledger.certificates.count(), 5);
    return Promise.all(pending).then(() => undefined);
  });

  it('never resolves when the commit cannot happen: a write lock held elsewhere rejects the whole batch, once', async () => {
    const { target, batches, singles } = counting(ledger);
    const committer = new GroupCommit(target);
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    let outcomes: PromiseSettledResult<void>[];
    const failedSerials: string[] = [];
    try {
      const failing = records(5);
      const pending = failing.map((record) => committer.recordIssued(record));
      for (const record of failing) assert.equal(committer.isSerialTaken(record.serial), true);
      failedSerials.push(...failing.map((record) => record.serial));
      outcomes = await Promise.allSettled(pending);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(outcome.status === 'rejected' && outcome.reason instanceof Database.SqliteError);
      assert.equal(outcome.status === 'rejected' && outcome.reason.code, 'SQLITE_BUSY');
    }
    // Not the rows' fault: no row-by-row retry that would wait out the busy timeout five more times.
    assert.deepEqual(batches, [5]);
    assert.deepEqual(singles, []);
    assert.equal(ledger.certificates.count(), 0);
    // Their serials are free again: nothing holds them.
    for (const serial of failedSerials) assert.equal(committer.isSerialTaken(serial), false);
    // With the lock gone, the next rows land.
    await Promise.all(records(2).map((record) => committer.recordIssued(record)));
    assert.equal(ledger.certificates.count(), 2);
  });

  it('refuses a maxBatchRows outside 1..10000', () => {
    for (const maxBatchRows of [0, -1, 1.5, 10_001]) {
      assert.throws(() => new GroupCommit(ledger.certificates, { maxBatchRows }), RangeError);
    }
  });
});
