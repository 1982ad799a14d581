import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openLedger } from '../../../src/ledger/index.js';
import { integrityCheck, makeRecord, makeTempDir } from './ledger-fixtures.js';

/**
 * A long reader lets the WAL grow, and it must shrink once the
 * reader is gone, with checkpoints off the event loop (src/ledger/checkpoint.ts).
 * Real file, real worker thread, a real second connection as the long reader.
 */

const LIMIT = 256 * 1024;

function walBytes(path: string): number {
  return existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0;
}

async function waitFor(what: string, condition: () => boolean, withinMs = 20_000): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('WAL checkpoints in a worker thread', () => {
  it('lets a long reader pin the WAL, then truncates it once the reader ends, and then idles', async () => {
    const tmp = makeTempDir();
    const path = tmp.file('ledger.db');
    const ledger = openLedger({ path, walSizeLimitBytes: LIMIT });
    const reports: { mode: string; walBytes: number }[] = [];
    const errors: Error[] = [];
    const reader = new Database(path, { readonly: true });
    try {
      const checkpointer = ledger.startCheckpoints({ everyMs: 50, onCheckpoint: (r) => reports.push(r), onError: (e) => errors.push(e) });
      assert.equal(ledger.walAutocheckpointPages(), 0, "the main connection's own checkpoint is off while the worker runs");

      // The long reader: a read transaction that has read holds its snapshot until it ends.
      reader.exec('BEGIN');
      reader.prepare('SELECT count(*) FROM certificates').get();
      const records = Array.from({ length: 3000 }, () => makeRecord());
      for (let i = 0; i < records.length; i += 100) ledger.certificates.recordIssuedMany(records.slice(i, i + 100));
      await waitFor('a checkpoint while the reader is open', () => reports.length > 0);
      const pinned = walBytes(path);
      assert.ok(pinned > 4 * LIMIT, `the WAL grew past the limit while pinned (${pinned} bytes)`);

      reader.exec('COMMIT');
      await waitFor('the WAL truncated after the reader ended', () => reports.some((r) => r.mode === 'TRUNCATE' && r.walBytes === 0));
      assert.equal(walBytes(path), 0);

      // Nothing changed since: the worker does nothing.
      const settled = reports.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(reports.length, settled, 'no checkpoint while nothing was written');

      await checkpointer.stop();
      assert.equal(ledger.walAutocheckpointPages(), 1000, 'stopping gives the automatic checkpoint back');
      assert.deepEqual(errors, []);
      assert.equal(ledger.certificates.count(), records.length);
    } finally {
      reader.close();
      ledger.close();
    }
    assert.equal(integrityCheck(path), 'ok');
    tmp.remove();
  });

  it('checkpoints again after a commit that rewrote the restarted log in place (same file size)', async () => {
    const tmp = makeTempDir();
    const path = tmp.file('ledger.db');
    const ledger = openLedger({ path });
    const reports: { isComplete: boolean; walBytes: number }[] = [];
    try {
      const checkpointer = ledger.startCheckpoints({ everyMs: 50, onCheckpoint: (r) => reports.push(r) });
      ledger.certificates.recordIssuedMany(Array.from({ length: 200 }, () => makeRecord()));
      await waitFor('a complete checkpoint', () => reports.some((r) => r.isComplete));
      const size = walBytes(path);
      const seen = reports.length;
      // The next commit restarts the log from its start: the file keeps its size, the frames are new.
      ledger.certificates.recordIssued(makeRecord());
      assert.equal(walBytes(path), size);
      await waitFor('a checkpoint of that commit', () => reports.length > seen);
      await checkpointer.stop();
    } finally {
      ledger.close();
    }
    tmp.remove();
  });

  it('refuses to start twice or on an in-memory ledger', async () => {
    const memory = openLedger({ path: ':memory:' });
    assert.throws(() => memory.startCheckpoints(), /open, writable file ledger/);
    memory.close();
    const tmp = makeTempDir();
    const ledger = openLedger({ path: tmp.file('ledger.db') });
    const checkpointer = ledger.startCheckpoints();
    assert.throws(() => ledger.startCheckpoints(), /already running/);
    await checkpointer.stop();
    ledger.close();
    tmp.remove();
  });
});
