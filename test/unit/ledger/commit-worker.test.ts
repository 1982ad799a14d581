import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { GroupCommit, openLedger, type CommitWorker, type Ledger } from '../../../src/ledger/index.js';
import { isDomainError } from '../../../src/shared/errors.js';
import { makeRecord, useLedgerFile } from './ledger-fixtures.js';
import { counting, records } from './group-commit-fixtures.js';

/**
 * GroupCommit over the commit worker (commit-worker.ts): a worker thread with
 * its own connection to a real SQLite file does the durable commits; reads
 * and revocations stay on the main connection. The contract is GroupCommit's
 * (contract/group-commit.test.ts), with the asynchronous target's batching;
 * here also what only the worker has: a row acknowledged is readable on the
 * main connection at once, a worker killed mid-commit fails its rows with
 * 'unavailable' and is replaced, close() drains and stops the thread.
 */

/** Lets the scheduled flush (setImmediate) run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function countRows(path: string, serials: readonly string[]): number {
  const db = new Database(path, { readonly: true });
  try {
    const has = db.prepare<[string], number>('SELECT 1 FROM certificates WHERE serial = ?').pluck();
    return serials.filter((serial) => has.get(serial) !== undefined).length;
  } finally {
    db.close();
  }
}

describe('GroupCommit over the commit worker (SQLite)', () => {
  let path: string;
  let ledger: Ledger;
  let worker: CommitWorker | undefined;
  // 300 ms: long enough that a worker waiting for a lock is still waiting when a test kills it, short for SQLITE_BUSY.
  useLedgerFile((file) => ({ path, ledger } = file), { each: true, busyTimeoutMs: 300 });
  afterEach(async () => {
    await worker?.close();
    worker = undefined;
  });

  function startWorker(): CommitWorker {
    worker = ledger.commitWorker();
    return worker;
  }

  it('starts no thread until the first write, and answers reads from the main connection meanwhile', async () => {
    const commits = startWorker();
    assert.deepEqual(commits.stats(), { workersStarted: 0, workersLost: 0, inFlight: 0 });
    const record = makeRecord();
    assert.equal(commits.isSerialTaken(record.serial), false);
    assert.equal(commits.findBySerial(record.serial), undefined);
    await commits.recordIssued(record);
    assert.deepEqual(commits.stats(), { workersStarted: 1, workersLost: 0, inFlight: 0 });
  });

  it('resolves each row only once the main connection sees it: findBySerial and statusOf right after the ack', async () => {
    const committer = new GroupCommit(startWorker());
    const batch = records(300);
    const seen = await Promise.all(
      batch.map((record) =>
        committer.recordIssued(record).then(() => {
          // Same turn as the ack: a read transaction on the main connection, started after the worker's commit.
          const found = ledger.certificates.findBySerial(record.serial);
          const status = ledger.certificates.statusOf(record.serial);
          return found?.fingerprint === record.fingerprint && status?.status === 'valid';
        }),
      ),
    );
    assert.equal(seen.filter(Boolean).length, 300);
    assert.equal(ledger.certificates.count(), 300);
  });

  it('commits in call order and settles the promises in call order', async () => {
    const committer = new GroupCommit(startWorker(), { maxBatchRows: 16 });
    const batch = records(50);
    const settled: string[] = [];
    await Promise.all(batch.map((record) => committer.recordIssued(record).then(() => settled.push(record.serial))));
    assert.deepEqual(
      settled,
      batch.map((record) => record.serial),
    );
    const stored = new Database(path, { readonly: true });
    try {
      assert.deepEqual(stored.prepare<[], string>('SELECT serial FROM certificates ORDER BY rowid').pluck().all(), settled);
    } finally {
      stored.close();
    }
  });

  it('keeps one batch in flight: rows of a later turn join the next batch instead of adding a transaction', async () => {
    const { target, batches, singles } = counting({ certificates: startWorker() });
    const committer = new GroupCommit(target, { maxBatchRows: 10 });
    const first = records(25).map((record) => committer.recordIssued(record));
    await nextTurn();
    const second = records(3).map((record) => committer.recordIssued(record));
    await Promise.all([...first, ...second]);
    // The first 10 were in the worker when the 3 came: they joined the 15 still queued (as on PostgreSQL).
    assert.deepEqual(batches, [10, 10, 8]);
    assert.deepEqual(singles, []);
    assert.deepEqual(committer.stats(), { transactions: 3, rowsCommitted: 28, rowsRejected: 0, batchRetries: 0, queued: 0 });
    assert.equal(ledger.certificates.count(), 28);
  });

  it('lets the good rows of a batch land and rejects only the conflicting one with conflict', async () => {
    const taken = makeRecord();
    ledger.certificates.recordIssued(taken);
    const { target, batches, singles } = counting({ certificates: startWorker() });
    const committer = new GroupCommit(target);
    const batch = records(9);
    batch.splice(4, 0, makeRecord({ serial: taken.serial }));
    const outcomes = await Promise.allSettled(batch.map((record) => committer.recordIssued(record)));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'],
    );
    const conflict = outcomes[4];
    assert.ok(
      conflict?.status === 'rejected' && isDomainError(conflict.reason, 'conflict') && conflict.reason.detail.includes(taken.serial),
      String(conflict),
    );
    assert.deepEqual(batches, [10]);
    assert.deepEqual(
      singles,
      batch.map((record) => record.serial),
    );
    assert.deepEqual(committer.stats(), { transactions: 11, rowsCommitted: 9, rowsRejected: 1, batchRetries: 1, queued: 0 });
    assert.equal(ledger.certificates.count(), 10);
    assert.equal(ledger.certificates.findBySerial(taken.serial)?.fingerprint, taken.fingerprint);
  });

  it('rejects a malformed record with malformed: GroupCommit at once, without spoiling its batch; the worker writing none of a bad batch', async () => {
    const commits = startWorker();
    const bad = { ...makeRecord(), fingerprint: 'f'.repeat(64) };
    const { target, batches } = counting({ certificates: commits });
    const committer = new GroupCommit(target);
    const outcomes = await Promise.allSettled([...records(3), bad].map((record) => committer.recordIssued(record)));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
    );
    const [, , , rejected] = outcomes;
    assert.ok(rejected?.status === 'rejected' && isDomainError(rejected.reason, 'malformed'));
    assert.deepEqual(batches, [3]);
    // Straight to the worker (no GroupCommit in front): its repository checks every record first, all or nothing.
    const good = makeRecord();
    await assert.rejects(commits.recordIssuedMany([good, bad]), (error: unknown) => isDomainError(error, 'malformed'));
    await assert.rejects(commits.recordIssued(bad), (error: unknown) => isDomainError(error, 'malformed'));
    assert.equal(ledger.certificates.findBySerial(good.serial), undefined);
    assert.equal(ledger.certificates.count(), 3);
  });

  it('rejects the whole batch once, with the SQLite error, when another connection holds the write lock', async () => {
    const { target, batches, singles } = counting({ certificates: startWorker() });
    const committer = new GroupCommit(target);
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    let outcomes: PromiseSettledResult<void>[];
    const failing = records(5);
    try {
      outcomes = await Promise.allSettled(failing.map((record) => committer.recordIssued(record)));
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    for (const outcome of outcomes) {
      assert.ok(outcome.status === 'rejected' && outcome.reason instanceof Database.SqliteError, String(outcome.status));
      assert.equal(outcome.reason.code, 'SQLITE_BUSY');
    }
    assert.deepEqual(batches, [5]);
    assert.deepEqual(singles, []);
    for (const record of failing) assert.equal(committer.isSerialTaken(record.serial), false);
    await Promise.all(records(2).map((record) => committer.recordIssued(record)));
    assert.equal(ledger.certificates.count(), 2);
  });

  it('fails the rows in flight with unavailable when the worker dies, never writes them, and starts a new worker', async () => {
    const commits = startWorker();
    const { target, batches, singles } = counting({ certificates: commits });
    const committer = new GroupCommit(target);
    // The worker waits for this lock (busy timeout) while it is killed: its batch cannot have committed.
    const blocker = new Database(path);
    blocker.exec('BEGIN IMMEDIATE');
    const doomed = records(6);
    let outcomes: PromiseSettledResult<void>[];
    try {
      const pending = doomed.map((record) => committer.recordIssued(record));
      await nextTurn();
      assert.equal(commits.stats().inFlight, 1);
      await commits.kill();
      outcomes = await Promise.allSettled(pending);
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    for (const outcome of outcomes) {
      assert.ok(outcome.status === 'rejected' && isDomainError(outcome.reason, 'unavailable'), String(outcome.status));
      assert.match(outcome.reason.detail, /commit worker stopped before confirming the commit/);
    }
    // Not the rows' fault, and maybe committed: no retry, row by row or otherwise.
    assert.deepEqual(batches, [6]);
    assert.deepEqual(singles, []);
    assert.deepEqual(commits.stats(), { workersStarted: 1, workersLost: 1, inFlight: 0 });

    const later = records(4);
    await Promise.all(later.map((record) => committer.recordIssued(record)));
    assert.deepEqual(commits.stats(), { workersStarted: 2, workersLost: 1, inFlight: 0 });
    assert.equal(
      countRows(
        path,
        doomed.map((record) => record.serial),
      ),
      0,
    );
    assert.equal(
      countRows(
        path,
        later.map((record) => record.serial),
      ),
      4,
    );
    assert.equal(ledger.certificates.count(), 4);
  });

  it('close() commits what is queued, stops the thread and refuses later rows', async () => {
    const commits = startWorker();
    const committer = new GroupCommit(commits);
    const queued = records(7).map((record) => committer.recordIssued(record));
    await committer.close();
    await commits.close();
    await Promise.all(queued);
    assert.equal(ledger.certificates.count(), 7);
    assert.deepEqual(commits.stats(), { workersStarted: 1, workersLost: 0, inFlight: 0 });
    await assert.rejects(commits.recordIssued(makeRecord()), /closed/);
    await assert.rejects(committer.recordIssued(makeRecord()), /closed/);
    await commits.close();
  });

  it('passes revocation and status through to the main connection', async () => {
    const committer = new GroupCommit(startWorker());
    const record = makeRecord();
    await committer.recordIssued(record);
    const revoked = await committer.revoke(record.serial, 'keyCompromise', record.issuedAt + 1);
    assert.equal(revoked.status, 'revoked');
    assert.equal(ledger.certificates.statusOf(record.serial)?.reason, 'keyCompromise');
  });

  it('refuses to run on an in-memory or closed ledger', () => {
    const memory = openLedger({ path: ':memory:' });
    try {
      assert.throws(() => memory.commitWorker(), /open, writable file ledger/);
    } finally {
      memory.close();
    }
    ledger.close();
    assert.throws(() => ledger.commitWorker(), /open, writable file ledger/);
  });
});
