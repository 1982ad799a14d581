import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { openLedger } from '../../../src/ledger/index.js';
import { configureConnection, DurableWrites } from '../../../src/ledger/connection.js';
import { integrityCheck, makeRecord, makeTempDir, withRawDatabase, type TempDir } from './ledger-fixtures.js';

/** Opening, connection settings, health and closing. */

describe('openLedger', () => {
  let tmp: TempDir;
  before(() => {
    tmp = makeTempDir();
  });
  after(() => tmp.remove());

  it('configures WAL, the busy timeout, synchronous=NORMAL and foreign keys on each connection', () => {
    const db = new Database(tmp.file('pragmas.db'));
    try {
      configureConnection(db, { busyTimeoutMs: 1234, readonly: false });
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
      assert.equal(db.pragma('busy_timeout', { simple: true }), 1234);
      assert.equal(db.pragma('foreign_keys', { simple: true }), 1);
      // 1 = NORMAL; durable writes raise it to FULL (2) for their own commit only.
      assert.equal(db.pragma('synchronous', { simple: true }), 1);
    } finally {
      db.close();
    }
  });

  it('raises synchronous to FULL for a durable write and restores NORMAL afterwards, even when it throws', () => {
    const db = new Database(tmp.file('durable.db'));
    try {
      configureConnection(db, { busyTimeoutMs: 1000, readonly: false });
      db.exec('CREATE TABLE t (x INTEGER PRIMARY KEY) STRICT');
      const durable = new DurableWrites(db);
      const seen: unknown[] = [];
      const insert = db.transaction((x: number) => {
        seen.push(db.pragma('synchronous', { simple: true }));
        db.prepare('INSERT INTO t VALUES (?)').run(x);
      });
      durable.run(insert, 1);
      assert.throws(() => durable.run(insert, 1), /UNIQUE|PRIMARY KEY/);
      assert.deepEqual(seen, [2, 2]);
      assert.equal(db.pragma('synchronous', { simple: true }), 1);
      // Nested in an outer transaction the FULL commit could not be promised.
      assert.throws(() => db.transaction(() => durable.run(insert, 2))(), /must not run inside another transaction/);
    } finally {
      db.close();
    }
  });

  it('leaves the file in WAL mode and passes integrity_check', () => {
    const path = tmp.file('wal.db');
    const ledger = openLedger({ path });
    ledger.certificates.recordIssued(makeRecord());
    assert.ok(existsSync(`${path}-wal`), 'a WAL file exists while open');
    ledger.close();
    withRawDatabase(path, (db) => assert.equal(db.pragma('journal_mode', { simple: true }), 'wal'));
    assert.equal(integrityCheck(path), 'ok');
  });

  it('answers ping while open, checkpoints on close, and closes idempotently', () => {
    const path = tmp.file('close.db');
    const ledger = openLedger({ path });
    assert.equal(ledger.ping(), true);
    for (let i = 0; i < 20; i += 1) ledger.certificates.recordIssued(makeRecord());
    ledger.close();
    ledger.close();
    assert.equal(ledger.ping(), false);
    // wal_checkpoint(TRUNCATE) leaves an empty WAL (or none) behind.
    assert.ok(!existsSync(`${path}-wal`) || statSync(`${path}-wal`).size === 0);
    assert.throws(() => ledger.certificates.count(), /not open/);
    const again = openLedger({ path });
    assert.equal(again.certificates.count(), 20);
    again.close();
  });

  it('works on :memory: for quick tests', () => {
    const ledger = openLedger({ path: ':memory:' });
    ledger.certificates.recordIssued(makeRecord());
    assert.equal(ledger.certificates.count(), 1);
    ledger.close();
  });

  it('opens read-only: reads work, writes fail, the file must exist', () => {
    const path = tmp.file('ro.db');
    const writer = openLedger({ path });
    const record = makeRecord();
    writer.certificates.recordIssued(record);
    writer.close();

    const reader = openLedger({ path, readonly: true });
    assert.equal(reader.certificates.findBySerial(record.serial)?.serial, record.serial);
    assert.throws(() => reader.certificates.recordIssued(makeRecord()), /readonly/i);
    reader.close();
    // A reader never creates the file: SQLite refuses to open what is not there.
    assert.throws(() => openLedger({ path: tmp.file('absent.db'), readonly: true }), { code: 'SQLITE_CANTOPEN' });
  });

  it('lets a second connection read while the first writes (WAL)', () => {
    const path = tmp.file('two.db');
    const writer = openLedger({ path });
    const reader = openLedger({ path, busyTimeoutMs: 100 });
    const record = makeRecord();
    writer.certificates.recordIssued(record);
    assert.equal(reader.certificates.statusOf(record.serial)?.status, 'valid');
    reader.close();
    writer.close();
  });
});
