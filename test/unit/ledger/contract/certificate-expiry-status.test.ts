import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { listedStatus } from '../../../../src/domain/certificates.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { HOUR, NOW, makeRecord } from '../ledger-fixtures.js';
import { collectPages, useBackend } from './contract-fixtures.js';

/**
 * Expiry shown honestly: the ledger stores 'valid' or 'revoked', and a
 * listing judges expiry at query.now. status 'expired' is a stored valid
 * certificate past notAfter (RFC 5280 §4.1.2.5: notAfter itself is still
 * valid), longest expired first; 'valid' no longer includes those.
 */
for (const backend of BACKENDS) {
  describe(`certificate listing by status valid, expired, revoked: ${backend.name}`, () => {
    const open = useBackend(backend);

    it('splits the ledger into exactly valid, expired and revoked at the given now, on every page', async () => {
      const { ledger } = open();
      const profile = 'tls-server';
      // notAfter NOW - 3h, - 2h, - 1h: expired at NOW; notAfter NOW exactly: still valid.
      const expired = [3, 1, 2].map((h) =>
        makeRecord({ profile, spiffeId: null, notBefore: NOW - 10 * HOUR, issuedAt: NOW - 10 * HOUR + h, notAfter: NOW - h * HOUR }),
      );
      const boundary = makeRecord({ profile, spiffeId: null, notBefore: NOW - HOUR, issuedAt: NOW - HOUR, notAfter: NOW });
      const valid = [
        boundary,
        ...Array.from({ length: 4 }, (_, i) =>
          makeRecord({ profile, spiffeId: null, notBefore: NOW - HOUR, issuedAt: NOW - HOUR + i, notAfter: NOW + (i + 1) * HOUR }),
        ),
      ];
      const revokedExpired = makeRecord({
        profile,
        spiffeId: null,
        notBefore: NOW - 10 * HOUR,
        issuedAt: NOW - 9 * HOUR,
        notAfter: NOW - 5 * HOUR,
      });
      for (const record of [...expired, ...valid, revokedExpired]) await ledger.certificates.recordIssued(record);
      await ledger.certificates.revoke(revokedExpired.serial, 'superseded', NOW - 6 * HOUR);

      const serials = async (status: 'valid' | 'expired' | 'revoked'): Promise<string[]> =>
        (
          await collectPages(
            (q: { cursor?: string; limit: number; now: number; status: typeof status; profile: typeof profile }) =>
              ledger.certificates.list(q),
            { now: NOW, status, profile, limit: 2 },
            20,
          )
        ).items.map((c) => c.serial);
      const byNotAfter = [...expired].sort((a, b) => a.notAfter - b.notAfter).map((c) => c.serial);
      assert.deepEqual(await serials('expired'), byNotAfter);
      assert.deepEqual(new Set(await serials('valid')), new Set(valid.map((c) => c.serial)));
      assert.equal((await serials('valid')).length, valid.length);
      assert.deepEqual(await serials('revoked'), [revokedExpired.serial]);

      const all = (await ledger.certificates.list({ now: NOW, profile, limit: 500 })).items;
      assert.equal(all.length, expired.length + valid.length + 1);
      const shown = new Map(all.map((c) => [c.serial, listedStatus(c, NOW)]));
      for (const c of expired) assert.equal(shown.get(c.serial), 'expired');
      for (const c of valid) assert.equal(shown.get(c.serial), 'valid');
      assert.equal(shown.get(revokedExpired.serial), 'revoked');
      // One millisecond later the boundary certificate has expired too.
      assert.ok(
        (await ledger.certificates.list({ now: NOW + 1, profile, status: 'expired', limit: 500 })).items.some(
          (c) => c.serial === boundary.serial,
        ),
      );
    });

    it('an expiry window asked for expired certificates matches nothing', async () => {
      const page = await open().ledger.certificates.list({ now: NOW, expiringWithinMs: 7 * 24 * HOUR, status: 'expired' });
      assert.deepEqual(page, { items: [], nextCursor: null });
    });
  });
}
