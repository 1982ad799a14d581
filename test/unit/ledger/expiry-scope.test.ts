import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger } from '../../../src/ledger/index.js';
import type { NewCertificateRecord } from '../../../src/domain/certificates.js';
import { HOUR, makeMigrationsDir, makeRecord, makeTempDir, NOW, withRawDatabase } from './ledger-fixtures.js';

/**
 * How migrations/0006 fills spiffe_latest on an existing SQLite ledger. The
 * expiry views it serves are contract tests on both backends (contract/expiry-scope.test.ts).
 */

const MINUTE = 60_000;

function svid(name: string, issuedAt: number, lifetimeMs = HOUR): NewCertificateRecord {
  const spiffeId = `spiffe://keysmith.local/ns/prod/sa/${name}`;
  return makeRecord({
    spiffeId,
    sans: [{ type: 'uri', value: spiffeId }],
    issuedAt,
    notBefore: issuedAt - MINUTE,
    notAfter: issuedAt + lifetimeMs,
  });
}

describe('migrations/0006 fills spiffe_latest from the rows already there', () => {
  it('keeps the newest certificate of each SPIFFE ID, by issued_at then serial', () => {
    const tmp = makeTempDir();
    try {
      const path = tmp.file('ledger.db');
      openLedger({ path, migrationsDir: makeMigrationsDir(tmp, 'upto-5', 5) }).close();
      const a1 = svid('a', NOW - 50 * MINUTE);
      const a2 = svid('a', NOW - 20 * MINUTE);
      const b1 = svid('b', NOW - 50 * MINUTE);
      const b2 = { ...svid('b', NOW - 50 * MINUTE), serial: 'ff' + b1.serial };
      // Raw SQL on purpose: rows as a ledger at version 5 held them, before spiffe_latest existed (the repository would fill it).
      withRawDatabase(path, (db) => {
        const insert = db.prepare(
          `INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after, issued_at, der, fingerprint, sans)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')`,
        );
        for (const r of [a2, a1, b1, b2])
          insert.run(
            r.serial,
            r.issuer,
            r.subject,
            r.spiffeId,
            r.profile,
            r.requester,
            r.notBefore,
            r.notAfter,
            r.issuedAt,
            Buffer.from(r.der),
            r.fingerprint,
          );
      });
      openLedger({ path }).close();
      const latest = withRawDatabase(path, (db) =>
        db
          .prepare<[], { spiffe_id: string; serial: string; renewal_due_at: number }>(
            'SELECT spiffe_id, serial, renewal_due_at FROM spiffe_latest ORDER BY spiffe_id',
          )
          .all(),
      );
      assert.deepEqual(latest, [
        { spiffe_id: a2.spiffeId, serial: a2.serial, renewal_due_at: a2.issuedAt + HOUR / 2 },
        { spiffe_id: b2.spiffeId, serial: b2.serial, renewal_due_at: b2.issuedAt + HOUR / 2 },
      ]);
    } finally {
      tmp.remove();
    }
  });
});
