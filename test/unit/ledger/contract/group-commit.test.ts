import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateStore } from '../../../../src/ca/ports.js';
import { GroupCommit, openLedgerBackend } from '../../../../src/ledger/index.js';
import { isDomainError } from '../../../../src/shared/errors.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { makeRecord } from '../ledger-fixtures.js';
import { useCertificateLedger, type CertificateLedger } from './certificate-fixtures.js';
import { counting, records } from '../group-commit-fixtures.js';

/**
 * GroupCommit over a real certificate repository, on both backends: SQLite's
 * answers at once (the whole drain runs synchronously), PostgreSQL's with
 * promises (one batch in flight, rows queued meanwhile join the next). The
 * only wrapper is a pass-through that counts the calls reaching the
 * repository, i.e. the transactions actually run. SQLite-only behaviour (row
 * order on disk, a write lock held by another connection) is in
 * ../group-commit.test.ts.
 */

/** Lets the scheduled flush (setImmediate) run. */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

for (const backend of BACKENDS) {
  describe(`GroupCommit (${backend.name})`, () => {
    let ledger: CertificateLedger;
    useCertificateLedger(
      backend,
      (opened) => {
        ledger = opened;
      },
      { each: true },
    );

    it('resolves each promise only once its row is readable over another connection', async () => {
      const committer = new GroupCommit(ledger.certificates);
      const batch = records(300);
      const seen = await Promise.all(
        batch.map((record) =>
          committer
            .recordIssued(record)
            .then(async () => (await ledger.rows('SELECT 1 AS one FROM certificates WHERE serial = ?', [record.serial])).length === 1),
        ),
      );
      assert.ok(seen.every(Boolean));
      assert.equal(await ledger.certificates.count(), 300);
    });

    it('writes many concurrent callers in far fewer transactions than rows, at most maxBatchRows each', async () => {
      const { target, batches, singles } = counting(ledger);
      const committer = new GroupCommit(target);
      await Promise.all(records(1000).map((record) => committer.recordIssued(record)));
      // 1000 rows queued in one turn, default 256 per transaction: 256, 256, 256, 232.
      assert.deepEqual(batches, [256, 256, 256, 232]);
      assert.deepEqual(singles, []);
      assert.deepEqual(committer.stats(), { transactions: 4, rowsCommitted: 1000, rowsRejected: 0, batchRetries: 0, queued: 0 });
      assert.equal(await ledger.certificates.count(), 1000);
    });

    it('splits a long queue by maxBatchRows; rows of a later turn wait for the batch in flight', async () => {
      const { target, batches } = counting(ledger);
      const committer = new GroupCommit(target, { maxBatchRows: 10 });
      const first = records(25).map((record) => committer.recordIssued(record));
      await nextTurn();
      const second = records(3).map((record) => committer.recordIssued(record));
      await Promise.all([...first, ...second]);
      // SQLite wrote all 25 within the first flush; on PostgreSQL the first batch was still in flight, so the
      // 3 later rows joined the 15 still queued: the batch grows with the load instead of adding a transaction.
      assert.deepEqual(batches, backend.name === 'sqlite' ? [10, 10, 5, 3] : [10, 10, 8]);
      assert.equal(await ledger.certificates.count(), 28);
    });

    it('settles the promises in call order', async () => {
      const committer = new GroupCommit(ledger.certificates, { maxBatchRows: 16 });
      const batch = records(50);
      const settled: string[] = [];
      await Promise.all(batch.map((record) => committer.recordIssued(record).then(() => settled.push(record.serial))));
      assert.deepEqual(
        settled,
        batch.map((record) => record.serial),
      );
    });

    it('lets the good rows of a batch land and rejects only the conflicting one with conflict', async () => {
      const taken = makeRecord();
      await ledger.certificates.recordIssued(taken);
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
      assert.deepEqual(
        singles,
        batch.map((record) => record.serial),
      );
      assert.deepEqual(committer.stats(), { transactions: 11, rowsCommitted: 9, rowsRejected: 1, batchRetries: 1, queued: 0 });
      for (const [index, record] of batch.entries()) {
        if (index === 4) continue;
        assert.equal((await ledger.certificates.findBySerial(record.serial))?.fingerprint, record.fingerprint);
      }
      // The original row is untouched.
      assert.equal((await ledger.certificates.findBySerial(taken.serial))?.fingerprint, taken.fingerprint);
    });

    it('rejects a malformed record at once, without spoiling the batch it would have joined', async () => {
      const { target, batches } = counting(ledger);
      const committer = new GroupCommit(target);
      const good = records(3);
      const bad = { ...makeRecord(), fingerprint: 'f'.repeat(64) };
      const outcomes = await Promise.allSettled([...good, bad].map((record) => committer.recordIssued(record)));
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
      );
      const [, , , rejected] = outcomes;
      assert.ok(rejected?.status === 'rejected' && isDomainError(rejected.reason, 'malformed'));
      assert.deepEqual(batches, [3]);
    });

    it('counts queued serials as taken until they commit, and frees those that fail', async () => {
      const committer = new GroupCommit(ledger.certificates);
      const record = makeRecord();
      const pending = committer.recordIssued(record);
      assert.equal(await committer.isSerialTaken(record.serial), true);
      if (backend.name === 'sqlite') {
        // Only SQLite can be asked "not yet" without racing the flush: its reads answer before the next turn.
        assert.equal(ledger.certificates.isSerialTaken(record.serial), false);
        assert.equal(committer.findBySerial(record.serial), undefined);
        assert.equal(committer.statusOf(record.serial), undefined);
      }
      await pending;
      assert.equal(await ledger.certificates.isSerialTaken(record.serial), true);
      assert.equal((await committer.statusOf(record.serial))?.status, 'valid');

      // The same fresh serial queued twice in one turn: the first lands, the second is the conflict.
      const twin = makeRecord();
      const both = [committer.recordIssued(twin), committer.recordIssued(makeRecord({ serial: twin.serial }))];
      assert.equal(await committer.isSerialTaken(twin.serial), true);
      const [firstTwin, secondTwin] = await Promise.allSettled(both);
      assert.equal(firstTwin?.status, 'fulfilled');
      assert.ok(secondTwin?.status === 'rejected' && isDomainError(secondTwin.reason, 'conflict'));
      assert.equal(committer.stats().queued, 0);
      assert.equal(await committer.isSerialTaken(makeRecord().serial), false);
    });

    it("stands in for the repository as the Authority's CertificateStore, passing revocation through", async () => {
      const committer = new GroupCommit(ledger.certificates);
      const store: CertificateStore = committer;
      assert.equal(store, committer);
      const record = makeRecord();
      await committer.recordIssued(record);
      const revoked = await committer.revoke(record.serial, 'keyCompromise', record.issuedAt + 1);
      assert.equal(revoked.status, 'revoked');
      assert.equal((await ledger.certificates.statusOf(record.serial))?.reason, 'keyCompromise');
    });

    it('rejects every queued row when the ledger closed before the flush, and resolves none', async () => {
      const committer = new GroupCommit(ledger.certificates);
      const pending = records(4).map((record) => committer.recordIssued(record));
      const closing = ledger.test.opened.ledger.close();
      const outcomes = await Promise.allSettled(pending);
      await closing;
      assert.deepEqual(
        outcomes.map((outcome) => outcome.status),
        ['rejected', 'rejected', 'rejected', 'rejected'],
      );
      const location = ledger.test.location;
      const reopened = await openLedgerBackend(location.kind === 'sqlite' ? location : { ...location, poolSize: 1 });
      try {
        assert.equal(await reopened.ledger.certificates.count(), 0);
      } finally {
        await reopened.ledger.close();
      }
    });

    it('close() commits what is queued, then refuses new rows; flush() writes without waiting for the turn', async () => {
      const { target, batches } = counting(ledger);
      const committer = new GroupCommit(target);
      const early = records(2).map((record) => committer.recordIssued(record));
      await committer.flush();
      // Written by flush, before any turn of the event loop.
      assert.deepEqual(batches, [2]);
      assert.equal(await ledger.certificates.count(), 2);

      const queued = records(7).map((record) => committer.recordIssued(record));
      await committer.close();
      assert.equal(await ledger.certificates.count(), 9);
      await Promise.all([...early, ...queued]);
      await assert.rejects(committer.recordIssued(makeRecord()), /closed/);
      await committer.close();
      assert.deepEqual(batches, [2, 7]);
    });

    it('recordIssuedMany writes all rows or none, naming the row that broke the batch', async () => {
      const taken = makeRecord();
      await ledger.certificates.recordIssued(taken);
      const batch = [...records(3), makeRecord({ serial: taken.serial }), ...records(2)];
      await assert.rejects(
        async () => ledger.certificates.recordIssuedMany(batch),
        (error: unknown) => isDomainError(error, 'conflict') && error.detail.includes(taken.serial),
      );
      assert.equal(await ledger.certificates.count(), 1);
      const good = records(4);
      await ledger.certificates.recordIssuedMany(good);
      assert.equal(await ledger.certificates.count(), 5);
      // The newest certificate per SPIFFE ID (spiffe_latest) comes along, as with recordIssued.
      const latest = await ledger.rows<{ serial: string }>('SELECT serial FROM spiffe_latest');
      assert.deepEqual(latest.map((row) => row.serial).sort(), [taken, ...good].map((record) => record.serial).sort());
      await ledger.certificates.recordIssuedMany([]);
      assert.equal(await ledger.certificates.count(), 5);
    });
  });
}
