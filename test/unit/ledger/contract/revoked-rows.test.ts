import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS } from '../../../helpers/backends.js';
import { HOUR, makeRecord, NOW } from '../ledger-fixtures.js';
import { useCertificateLedger, type CertificateLedger } from './certificate-fixtures.js';

/**
 * The CRL's reads (revokedUnexpired, revokedSummary) on both backends: exactly
 * the revoked, unexpired certificates of one issuer. How SQLite answers them
 * (its query plan, a read-only worker connection) is ../revoked-listing.test.ts.
 */

const ISSUER = 'CN=keysmith intermediate';
const OTHER_ISSUER = 'CN=an older intermediate';

for (const backend of BACKENDS) {
  describe(`the revoked-and-unexpired listing (${backend.name})`, () => {
    let ledger: CertificateLedger;
    const revokedLive: string[] = [];
    const reasons = new Map<string, string>();
    useCertificateLedger(backend, (opened) => {
      ledger = opened;
    });

    before(async () => {
      // Mostly valid rows, as a fleet ledger is; some revoked and live, some revoked and expired, some of another issuer.
      const records = Array.from({ length: 3000 }, (_, i) =>
        makeRecord({
          notBefore: NOW - 2 * HOUR,
          notAfter: i % 3 === 0 ? NOW - HOUR : NOW + HOUR,
          ...(i % 500 === 7 ? { issuer: OTHER_ISSUER } : {}),
        }),
      );
      await ledger.certificates.recordIssuedMany(records);
      for (const [i, record] of records.entries()) {
        if (i % 20 !== 0 && i % 500 !== 7) continue;
        const reason = i % 40 === 0 ? 'keyCompromise' : 'superseded';
        await ledger.certificates.revoke(record.serial, reason, NOW - 1000 + i);
        if (record.notAfter > NOW && record.issuer === ISSUER) {
          revokedLive.push(record.serial);
          reasons.set(record.serial, `${reason}@${NOW - 1000 + i}`);
        }
      }
    });

    it('returns exactly the revoked, unexpired certificates of the issuer, with their time and reason', async () => {
      const rows = await ledger.certificates.revokedUnexpired(ISSUER, NOW);
      assert.deepEqual(rows.map((r) => r.serial).sort(), [...revokedLive].sort());
      for (const row of rows) assert.equal(`${row.reason}@${row.revokedAt}`, reasons.get(row.serial));
      const summary = await ledger.certificates.revokedSummary(ISSUER, NOW);
      assert.deepEqual(summary, { count: revokedLive.length, lastRevokedAt: Math.max(...rows.map((r) => r.revokedAt)) });
    });

    it('answers an empty set for an issuer with nothing revoked, and after everything expired', async () => {
      assert.deepEqual(await ledger.certificates.revokedUnexpired('CN=nobody', NOW), []);
      assert.deepEqual(await ledger.certificates.revokedSummary('CN=nobody', NOW), { count: 0, lastRevokedAt: 0 });
      assert.deepEqual(await ledger.certificates.revokedUnexpired(ISSUER, NOW + HOUR), []);
    });
  });
}
