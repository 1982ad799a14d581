import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import type { CertificateStore } from '../../../src/ca/ports.js';
import { GroupCommit, openLedger, type GroupCommitTarget, type Ledger } from '../../../src/ledger/index.js';
import { isDomainError } from '../../../src/shared/errors.js';
import type { NewCertificateRecord } from '../../../src/shared/records.js';
import { makeRecord, useLedgerFile } from './ledger-fixtures.js';

/**
 * GroupCommit over a real CertificateRepository on a real SQLite file. The
 * only wrapper is a pass-through that counts the calls reaching the
 * repository, i.e. the durable transactions actually run.
 */

interface CountingTarget {
  readonly target: GroupCommitTarget;
  /** Size of each recordIssuedMany call, in order. */
  readonly batches: number[];
  /** Serials of each single-row recordIssued call, in order. */
  readonly singles: string[];
}

function counting(ledger: Ledger): CountingTarget {
  const repository = ledger.certificates;
  const batches: number[] = [];
  const singles: string[] = [];
  const target: GroupCommitTarget = {
    recordIssuedMany: (records) => {
      batches.push(records.length);
      repository.recordIssuedMany(records);
    },
    recordIssued: (record) => {
      singles.push(record.serial);
      repository.recordIssued(record);
    },
    isSerialTaken: (serial) => repository.isSerialTaken(serial),
    findBySerial: (serial) => repository.findBySerial(serial),
    revoke: (serial, reason, revokedAt) => repository.revoke(serial, reason, revokedAt),
    statusOf: (serial) => repository.statusOf(serial),
  };
  return { target, batches, singles };
}

function records(count: number): NewCertificateRecord[] {
  return Array.from({ length: count }, () => makeRecord());
}

/** Lets the scheduled flush (setImmediate) run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('GroupCommit', () => {
  let path: string;
  let ledger: Ledger;
  useLedgerFile((file) => ({ path, ledger } = file), { each: true, busyTimeoutMs: 50 });

  it('resolves each promise only once its row is readable from a second connection', async () => {
    const committer = new GroupCommit(ledger.certificates);
    const reader = new Database(path, { readonly: true });
    try {
      const lookup = reader.prepare<[string], number>('SELECT 1 FROM certificates WHERE serial = ?').pluck();
      const batch = records(300);
      const seen = await Promise.all(
        batch.map((record) => committer.recordIssued(record).then(() => lookup.get(record.serial) === 1)),
      );
      assert.ok(seen.every(Boolean));
      assert.equal(ledger.certificates.count(), 300);
    } finally {
      reader.close();
    }
  });

  it('writes many concurrent callers in far fewer transactions than rows, at most maxBatchRows each', async () => {
    const { target, batches, singles } = counting(ledger);
    const committer = new GroupCommit(target);
    await Promise.all(records(1000).map((record) => committer.recordIssued(record)));
    // 1000 rows queued in one turn, default 256 per transaction: 256, 256, 256, 232.
    assert.deepEqual(batches, [256, 256, 256, 232]);
    assert.deepEqual(singles, []);
    assert.deepEqual(committer.stats(), { transactions: 4, rowsCommitted: 1000, rowsRejected: 0, batchRetries: 0, queued: 0 });
    assert.equal(ledger.certificates.count(), 1000);
  });

  it('splits a long queue by maxBatchRows and batches each turn of the event loop apart', async () => {
    const { target, batches } = counting(ledger);
    const committer = new GroupCommit(target, { maxBatchRows: 10 });
    const first = records(25).map((record) => committer.recordIssued(record));
    await nextTurn();
    const second = records(3).map((record) => committer.recordIssued(record));
    await Promise.all([...first, ...second]);
    assert.deepEqual(batches, [10, 10, 5, 3]);
  });

  it('commits in call order and settles the promises in call order', async () => {
    const committer = new GroupCommit(ledger.certificates, { maxBatchRows: 16 });
    const batch = records(50);
    const settled: string[] = [];
    await Promise.all(batch.map((record) => committer.recordIssued(record).then(() => settled.push(record.serial))));
    assert.deepEqual(settled, batch.map((record) => record.serial));
    const stored = new Database(path, { readonly: true });
    try {
      const byRowid = stored.prepare<[], string>('SELECT serial FROM certificates ORDER BY rowid').pluck().all();
      assert.deepEqual(byRowid, batch.map((record) => record.serial));
    } finally {
      stored.close();
    }
  });

  it('lets the good rows of a batch land and rejects only the conflicting one with conflict', async () => {
    const taken = makeRecord();
    ledger.certificates.recordIssued(taken);
    const { target, batches, singles } = counting(ledger);
    const committer = new GroupCommit(target);
    const batch = records(9);
    batch.splice(4, 0, makeRecord({ serial: taken.serial }));
    const outcomes = await Promise.allSettled(batch.map((record) => committer.recordIssued(record)));

    outcomes.forEach((outcome, index) => {
      if (index === 4) {
        assert.equal(outcome.status, 'rejected');
        assert.ok(outcome.status === 'rejected' && isDomainError(outcome.reason, 'conflict'), String(outcome));
      } else {
        assert.equal(outcome.status, 'fulfilled', `row ${index}`);
      }
    });
    // One batch failed and rolled back; then one transaction per row.
    assert.deepEqual(batches, [10]);
    assert.deepEqual(singles, batch.map((record) => record.serial));
    assert.deepEqual(committer.stats(), { transactions: 11, rowsCommitted: 9, rowsRejected: 1, batchRetries: 1, queued: 0 });
    for (const [index, record] of batch.entries()) {
      if (index === 4) continue;
      assert.equal(ledger.certificates.findBySerial(record.serial)?.fingerprint, record.fingerprint);
    }
    // The original row is untouched.
    assert.equal(ledger.certificates.findBySerial(taken.serial)?.fingerprint, taken.fingerprint);
  });

  it('rejects a malformed record at once, without spoiling the batch it would have joined', async () => {
    const { target, batches } = counting(ledger);
    const committer = new GroupCommit(target);
    const good = records(3);
    const bad = { ...makeRecord(), fingerprint: 'f'.repeat(64) };
    const outcomes = await Promise.allSettled([...good, bad].map((record) => committer.recordIssued(record)));
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    const [, , , rejected] = outcomes;
    assert.ok(rejected?.status === 'rejected' && isDomainError(rejected.reason, 'malformed'));
    assert.deepEqual(batches, [3]);
  });

  it('counts queued serials as taken until they commit, and frees those that fail', async () => {
    const committer = new GroupCommit(ledger.certificates);
    const record = makeRecord();
    const pending = committer.recordIssued(record);
    assert.equal(committer.isSerialTaken(record.serial), true);
    assert.equal(ledger.certificates.isSerialTaken(record.serial), false);
    // Not issued yet, so not found and without status.
    assert.equal(committer.findBySerial(record.serial), undefined);
    assert.equal(committer.statusOf(record.serial), undefined);
    await pending;
    assert.equal(ledger.certificates.isSerialTaken(record.serial), true);
    assert.equal(committer.statusOf(record.serial)?.status, 'valid');

    // The same fresh serial queued twice in one turn: the first lands, the second is the conflict.
    const twin = makeRecord();
    const both = [committer.recordIssued(twin), committer.recordIssued(makeRecord({ serial: twin.serial }))];
    assert.equal(committer.isSerialTaken(twin.serial), true);
    const [firstTwin, secondTwin] = await Promise.allSettled(both);
    assert.equal(firstTwin?.status, 'fulfilled');
    assert.ok(secondTwin?.status === 'rejected' && isDomainError(secondTwin.reason, 'conflict'));
    assert.equal(committer.stats().queued, 0);
  });

  it('stands in for the repository as the Authority\'s CertificateStore, passing revocation through', async () => {
    const committer = new GroupCommit(ledger.certificates);
    const store: CertificateStore = committer;
    assert.equal(store, committer);
    const record = makeRecord();
    await committer.recordIssued(record);
    const revoked = committer.revoke(record.serial, 'keyCompromise', record.issuedAt + 1);
    assert.equal(revoked.status, 'revoked');
    assert.equal(ledger.certificates.statusOf(record.serial)?.reason, 'keyCompromise');
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

  it('rejects every queued row when the ledger closed before the flush, and resolves none', async () => {
    const committer = new GroupCommit(ledger.certificates);
    const pending = records(4).map((record) => committer.recordIssued(record));
    ledger.close();
    const outcomes = await Promise.allSettled(pending);
    assert.deepEqual(outcomes.map((outcome) => outcome.status), ['rejected', 'rejected', 'rejected', 'rejected']);
    ledger = openLedger({ path });
    assert.equal(ledger.certificates.count(), 0);
  });

  it('close() commits what is queued, then refuses new rows; flush() writes without waiting for the turn', async () => {
    const { target, batches } = counting(ledger);
    const committer = new GroupCommit(target);
    const early = records(2).map((record) => committer.recordIssued(record));
    await committer.flush();
    // Written by flush, before any turn of the event loop.
    assert.deepEqual(batches, [2]);
    assert.equal(ledger.certificates.count(), 2);

    const queued = records(7).map((record) => committer.recordIssued(record));
    await committer.close();
    assert.equal(ledger.certificates.count(), 9);
    await Promise.all([...early, ...queued]);
    await assert.rejects(committer.recordIssued(makeRecord()), /closed/);
    await committer.close();
    assert.deepEqual(batches, [2, 7]);
  });

  it('recordIssuedMany writes all rows or none, naming the row that broke the batch', () => {
    const taken = makeRecord();
    ledger.certificates.recordIssued(taken);
    const batch = [...records(3), makeRecord({ serial: taken.serial }), ...records(2)];
    assert.throws(
      () => ledger.certificates.recordIssuedMany(batch),
      (error: unknown) => isDomainError(error, 'conflict') && error.detail.includes(taken.serial),
    );
    assert.equal(ledger.certificates.count(), 1);
    const good = records(4);
    ledger.certificates.recordIssuedMany(good);
    assert.equal(ledger.certificates.count(), 5);
    // The newest certificate per SPIFFE ID (spiffe_latest) comes along, as with recordIssued.
    const names = new Database(path, { readonly: true });
    try {
      const serials = names.prepare<[], string>('SELECT serial FROM spiffe_latest').pluck().all();
      assert.deepEqual(serials.sort(), [taken, ...good].map((record) => record.serial).sort());
    } finally {
      names.close();
    }
    ledger.certificates.recordIssuedMany([]);
    assert.equal(ledger.certificates.count(), 5);
  });

  it('refuses a maxBatchRows outside 1..10000', () => {
    for (const maxBatchRows of [0, -1, 1.5, 10_001]) {
      assert.throws(() => new GroupCommit(ledger.certificates, { maxBatchRows }), RangeError);
    }
  });
});
