import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { openLedger, openRevokedReader, type Ledger } from '../../../src/ledger/index.js';
import { REVOKED_SUMMARY_SQL, REVOKED_UNEXPIRED_SQL } from '../../../src/ledger/revoked-listing.js';
import { HOUR, makeRecord, makeTempDir, NOW, type TempDir } from './ledger-fixtures.js';

/**
 * The CRL's reads (src/ledger/revoked-listing.ts) over migrations/0005's
 * partial covering index: what they return, and that SQLite answers them
 * from a range of that index, never a scan of `certificates`.
 */

const ISSUER = 'CN=keysmith intermediate';
const OTHER_ISSUER = 'CN=an older intermediate';

let dir: TempDir;
let ledger: Ledger;
let path: string;

before(() => {
  dir = makeTempDir();
  path = dir.file('keysmith.db');
  ledger = openLedger({ path });
  // Mostly valid rows, as a fleet ledger is; some revoked and live, some revoked and expired, some of another issuer.
  const records = Array.from({ length: 3000 }, (_, i) =>
    makeRecord({
      notBefore: NOW - 2 * HOUR,
      notAfter: i % 3 === 0 ? NOW - HOUR : NOW + HOUR,
      ...(i % 500 === 7 ? { issuer: OTHER_ISSUER } : {}),
    }),
  );
  ledger.certificates.recordIssuedMany(records);
  for (const [i, record] of records.entries()) {
    if (i % 20 !== 0 && i % 500 !== 7) continue;
    ledger.certificates.revoke(record.serial, i % 40 === 0 ? 'keyCompromise' : 'superseded', NOW - 1000 + i);
  }
});

after(() => {
  ledger.close();
  dir.remove();
});

function plan(db: Database.Database, sql: string): string {
  return db
    .prepare<[string, number], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`)
    .all(ISSUER, NOW)
    .map((row) => row.detail)
    .join('\n');
}

/** What the listing returns is a contract test on both backends (contract/revoked-listing.test.ts); here, how SQLite answers it. */
describe('the revoked-and-unexpired listing on SQLite (migrations/0005)', () => {
  for (const analyzed of [false, true]) {
    it(`is answered from certificates_revoked_by_issuer, never a SCAN of certificates${analyzed ? ' (after ANALYZE)' : ''}`, () => {
      const db = new Database(path);
      try {
        if (analyzed) db.exec('ANALYZE');
        for (const sql of [REVOKED_UNEXPIRED_SQL, REVOKED_SUMMARY_SQL]) {
          const detail = plan(db, sql);
          assert.match(
            detail,
            /^SEARCH certificates USING COVERING INDEX certificates_revoked_by_issuer \(issuer=\? AND not_after>\?\)$/,
            detail,
          );
          assert.doesNotMatch(detail, /SCAN/);
        }
      } finally {
        db.close();
      }
    });
  }

  it('reads the same rows over a read-only connection of its own (the CRL worker)', () => {
    const reader = openRevokedReader(path);
    try {
      assert.deepEqual(reader.listing.revokedUnexpired(ISSUER, NOW), ledger.certificates.revokedUnexpired(ISSUER, NOW));
    } finally {
      reader.close();
    }
  });
});
