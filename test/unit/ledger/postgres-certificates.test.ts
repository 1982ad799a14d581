import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import {
  openLedgerBackend,
  PostgresCertificateRepository,
  PostgresDatabase,
  REVOCATION_CHANNEL,
  type PostgresLedger,
} from '../../../src/ledger/index.js';
import type { SqlRunner } from '../../../src/ledger/postgres/database.js';
import { isDomainError } from '../../../src/shared/errors.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { makeRecord, NOW } from './ledger-fixtures.js';

/**
 * What only PostgreSQL shows of the certificates aggregate: batches are one
 * statement per table and all or nothing, concurrent revocations from two
 * nodes serialize on the row, and a revocation is announced with NOTIFY on
 * commit. The behaviour both backends share is in contract/.
 */

/** A pool that counts the statements run inside transactions: the round trips a write costs. */
class CountingDatabase extends PostgresDatabase {
  statements: string[] = [];

  override transaction<T>(work: (tx: SqlRunner) => Promise<T>, isolation?: 'read committed' | 'serializable'): Promise<T> {
    return super.transaction((tx) => {
      const counted: SqlRunner = {
        rows: (sql, params) => (this.statements.push(sql), tx.rows(sql, params)),
        row: (sql, params) => (this.statements.push(sql), tx.row(sql, params)),
        run: (sql, params) => (this.statements.push(sql), tx.run(sql, params)),
      };
      return work(counted);
    }, isolation);
  }
}

interface TableCounts {
  readonly certificates: number;
  readonly names: number;
  readonly latest: number;
}

async function tableCounts(db: PostgresDatabase): Promise<TableCounts> {
  const row = await db.row<TableCounts>(
    `SELECT (SELECT count(*) FROM certificates) AS certificates, (SELECT count(*) FROM certificate_names) AS names,
            (SELECT count(*) FROM spiffe_latest) AS latest`,
  );
  assert.ok(row !== undefined);
  return row;
}

describe('PostgresCertificateRepository', () => {
  let database: TestDatabase;
  let nodeA: PostgresLedger;
  let nodeB: PostgresLedger;

  before(async () => {
    database = await createTestDatabase('certs');
    // Two nodes of one cluster: two pools on one database.
    const a = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 4 });
    const b = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 4 });
    assert.ok(a.kind === 'postgres' && b.kind === 'postgres');
    nodeA = a.ledger;
    nodeB = b.ledger;
  });

  after(async () => {
    await nodeA.close();
    await nodeB.close();
    await database.drop();
  });

  it('records a batch of 300 in one transaction of one INSERT per table', async () => {
    const counting = new CountingDatabase({ url: database.url, poolSize: 1 });
    try {
      const repository = new PostgresCertificateRepository(counting);
      const batch = Array.from({ length: 300 }, (_, i) => makeRecord({ sans: [{ type: 'dns', value: `host-${i}.example.org` }] }));
      await repository.recordIssuedMany(batch);
      assert.deepEqual(
        counting.statements.map((sql) => /INSERT INTO (\w+)/.exec(sql)?.[1]),
        ['certificates', 'certificate_names', 'spiffe_latest'],
      );
      assert.equal(await nodeB.certificates.count(), 300);
    } finally {
      await counting.close();
    }
  });

  it('writes no row of a batch in which one serial is already recorded, naming that serial', async () => {
    const taken = makeRecord();
    await nodeA.certificates.recordIssued(taken);
    const before = await tableCounts(nodeA.database);
    const batch = [
      ...Array.from({ length: 5 }, () => makeRecord({ sans: [{ type: 'dns', value: 'batch.example.org' }] })),
      makeRecord({ serial: taken.serial }),
      makeRecord(),
    ];
    await assert.rejects(nodeA.certificates.recordIssuedMany(batch), (error: unknown) => {
      assert.ok(isDomainError(error, 'conflict'), String(error));
      assert.equal(error.detail, `serial ${taken.serial} is already recorded`);
      return true;
    });
    assert.deepEqual(await tableCounts(nodeA.database), before);
    for (const record of batch) {
      if (record.serial !== taken.serial) assert.equal(await nodeB.certificates.findBySerial(record.serial), undefined);
    }
    assert.equal((await nodeB.certificates.findBySerial(taken.serial))?.fingerprint, taken.fingerprint);
  });

  it('writes no row of a batch that holds one serial twice', async () => {
    const before = await tableCounts(nodeA.database);
    const twin = makeRecord();
    const batch = [makeRecord(), twin, makeRecord(), makeRecord({ serial: twin.serial })];
    await assert.rejects(
      nodeA.certificates.recordIssuedMany(batch),
      (error: unknown) => isDomainError(error, 'conflict') && error.detail.includes(twin.serial),
    );
    assert.deepEqual(await tableCounts(nodeA.database), before);
  });

  it('gives one of two concurrent revocations of a serial, from two nodes, success and the other conflict; one NOTIFY, on commit', async () => {
    const record = makeRecord();
    await nodeA.certificates.recordIssued(record);
    const missing = makeRecord();
    const listener: pg.Client = await nodeA.database.dedicatedClient();
    const heard: string[] = [];
    try {
      listener.on('notification', (message) => {
        if (message.channel === REVOCATION_CHANNEL) heard.push(message.payload ?? '');
      });
      await listener.query(`LISTEN ${REVOCATION_CHANNEL}`);
      const outcomes = await Promise.allSettled([
        nodeA.certificates.revoke(record.serial, 'keyCompromise', NOW + 1),
        nodeB.certificates.revoke(record.serial, 'superseded', NOW + 2),
      ]);
      const fulfilled = outcomes.filter((outcome) => outcome.status === 'fulfilled');
      const rejected = outcomes.filter((outcome) => outcome.status === 'rejected');
      assert.equal(fulfilled.length, 1);
      assert.equal(rejected.length, 1);
      const [failure] = rejected;
      assert.ok(failure?.status === 'rejected' && isDomainError(failure.reason, 'conflict'), String(failure));
      assert.equal(failure.reason.detail, `certificate ${record.serial} is already revoked`);
      // The winner's revocation is the one stored.
      const [winner] = fulfilled;
      assert.ok(winner?.status === 'fulfilled');
      const stored = await nodeB.certificates.statusOf(record.serial);
      assert.deepEqual(stored, {
        status: 'revoked',
        notAfter: record.notAfter,
        revokedAt: winner.value.revokedAt,
        reason: winner.value.revocationReason,
      });
      // A refused revocation (rolled back) announces nothing.
      await assert.rejects(nodeB.certificates.revoke(missing.serial, 'superseded', NOW), (error: unknown) =>
        isDomainError(error, 'notFound'),
      );
      // NOTIFY is sent at commit; a round trip on the listening connection delivers anything already sent.
      await listener.query('SELECT 1');
      assert.deepEqual(heard, [record.serial]);
    } finally {
      await listener.end();
    }
  });

  it('keeps the newest certificate of a SPIFFE ID renewed twice in one batch', async () => {
    const spiffeId = 'spiffe://keysmith.local/ns/prod/sa/twice';
    const older = makeRecord({ spiffeId, issuedAt: NOW - 1000 });
    const newer = makeRecord({ spiffeId, issuedAt: NOW });
    await nodeA.certificates.recordIssuedMany([newer, older]);
    const rows = await nodeA.database.rows<{ serial: string }>('SELECT serial FROM spiffe_latest WHERE spiffe_id = $1', [spiffeId]);
    assert.deepEqual(rows, [{ serial: newer.serial }]);
  });
});
