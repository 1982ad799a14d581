import '../../../helpers/fast-check-seed.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  PROFILE_NAMES,
  REVOCATION_REASONS,
  type CertificateQuery,
  type CertificateRecord,
  type NewCertificateRecord,
  type RevocationReason,
} from '../../../../src/domain/certificates.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { DAY, HOUR, NOW, makeRecord } from '../ledger-fixtures.js';
import {
  assertFailsWith,
  collectPages,
  openCertificateLedger,
  useCertificateLedger,
  type CertificateLedger,
} from './certificate-fixtures.js';

/**
 * The certificates aggregate, one suite on both backends: the SQLite
 * CertificateRepository on a real file and PostgresCertificateRepository on a
 * real database, each with the real migrations. Every call is awaited (SQLite
 * answers at once, PostgreSQL later); failures are throws or rejections alike.
 */

/** Every page of a listing, following nextCursor. */
async function listAll(ledger: CertificateLedger, query: CertificateQuery): Promise<{ serials: string[]; pages: number }> {
  const { items, pages } = await collectPages(ledger.certificates, query, 10_000);
  return { serials: items.map((item) => item.serial), pages };
}

function byExpiry(a: NewCertificateRecord, b: NewCertificateRecord): number {
  return a.notAfter - b.notAfter || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);
}

function byNewest(a: NewCertificateRecord, b: NewCertificateRecord): number {
  return b.issuedAt - a.issuedAt || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);
}

for (const backend of BACKENDS) {
  describe(`CertificateRepository (${backend.name})`, () => {
    let ledger: CertificateLedger;
    useCertificateLedger(backend, (opened) => {
      ledger = opened;
    });

    describe('recordIssued and findBySerial', () => {
      it('round-trips every field, with the DER bytes intact', async () => {
        const record = makeRecord({
          sans: [
            { type: 'uri', value: 'spiffe://keysmith.local/api' },
            { type: 'dns', value: 'API.Example.org' },
            { type: 'ip', value: '10.0.0.7' },
            { type: 'email', value: 'ops@example.org' },
          ],
          spiffeId: 'spiffe://keysmith.local/api',
          requester: 'cli:alice',
          profile: 'tls-server',
        });
        await ledger.certificates.recordIssued(record);
        const found = await ledger.certificates.findBySerial(record.serial);
        assert.ok(found !== undefined);
        const expected: CertificateRecord = {
          ...record,
          der: new Uint8Array(record.der),
          status: 'valid',
          revokedAt: null,
          revocationReason: null,
        };
        assert.deepEqual(found, expected);
        assert.ok(!Buffer.isBuffer(found.der), 'public types carry Uint8Array, not Buffer');
        assert.ok(await ledger.certificates.isSerialTaken(record.serial));
        assert.deepEqual(await ledger.certificates.statusOf(record.serial), {
          status: 'valid',
          notAfter: record.notAfter,
          revokedAt: null,
          reason: null,
        });
      });

      it('stores a null SPIFFE ID and no SANs', async () => {
        const record = makeRecord({ spiffeId: null, sans: [], profile: 'intermediate' });
        await ledger.certificates.recordIssued(record);
        const found = await ledger.certificates.findBySerial(record.serial);
        assert.equal(found?.spiffeId, null);
        assert.deepEqual(found?.sans, []);
      });

      it('explodes DNS and IP SANs into certificate_names, DNS lowercased and duplicates dropped; URIs stay in the record only', async () => {
        const record = makeRecord({
          sans: [
            { type: 'dns', value: 'Www.Example.org' },
            { type: 'dns', value: 'www.example.org' },
            { type: 'uri', value: 'spiffe://keysmith.local/web' },
          ],
        });
        await ledger.certificates.recordIssued(record);
        const names = await ledger.rows('SELECT type, value FROM certificate_names WHERE serial = ? ORDER BY type, value', [record.serial]);
        // Nothing searches by URI (the SPIFFE ID has its own column and index): migrations/0006.
        assert.deepEqual(names, [{ type: 'dns', value: 'www.example.org' }]);
        // The record keeps the SANs exactly as issued.
        assert.deepEqual((await ledger.certificates.findBySerial(record.serial))?.sans, record.sans);
      });

      it('returns undefined for a serial never issued', async () => {
        assert.equal(await ledger.certificates.findBySerial('deadbeef00'), undefined);
        assert.equal(await ledger.certificates.statusOf('deadbeef00'), undefined);
        assert.equal(await ledger.certificates.isSerialTaken('deadbeef00'), false);
      });

      it('throws conflict on a duplicate serial and writes nothing', async () => {
        const record = makeRecord({ sans: [{ type: 'dns', value: 'dup.example' }] });
        await ledger.certificates.recordIssued(record);
        const before = await ledger.certificates.count();
        const again = makeRecord({ serial: record.serial, sans: [{ type: 'dns', value: 'other.example' }] });
        await assertFailsWith(() => ledger.certificates.recordIssued(again), 'conflict', /already recorded/);
        assert.equal(await ledger.certificates.count(), before);
        assert.equal((await ledger.certificates.list({ dnsName: 'other.example' })).items.length, 0);
      });

      it('throws conflict when the same DER (fingerprint) is recorded under another serial', async () => {
        const record = makeRecord();
        await ledger.certificates.recordIssued(record);
        await assertFailsWith(() => ledger.certificates.recordIssued(makeRecord({ der: record.der })), 'conflict', /fingerprint/);
      });

      it('accepts every profile name and every revocation reason the shared types define', async () => {
        for (const profile of PROFILE_NAMES) {
          const record = makeRecord({ profile });
          await ledger.certificates.recordIssued(record);
          assert.equal((await ledger.certificates.findBySerial(record.serial))?.profile, profile);
        }
        for (const reason of Object.keys(REVOCATION_REASONS)) {
          const record = makeRecord();
          await ledger.certificates.recordIssued(record);
          const revoked = await ledger.certificates.revoke(record.serial, reason as RevocationReason, NOW);
          assert.equal(revoked.revocationReason, reason);
        }
      });

      it('rejects malformed records before they reach SQLite', async () => {
        const cases: Partial<NewCertificateRecord>[] = [
          { serial: 'ABCD' },
          { serial: '0x12' },
          { serial: '' },
          { serial: '00ab' },
          { serial: 'abc' },
          { serial: 'a'.repeat(41) },
          { notBefore: NOW + 1, notAfter: NOW },
          { issuedAt: NOW + 0.5 },
          { notAfter: Number.NaN },
          { der: new Uint8Array(0) },
          { fingerprint: 'A'.repeat(64) },
          { fingerprint: '0'.repeat(64) },
          { sans: [{ type: 'dns', value: '' }] },
        ];
        const before = await ledger.certificates.count();
        for (const overrides of cases) {
          await assertFailsWith(() => ledger.certificates.recordIssued(makeRecord(overrides)), 'malformed');
        }
        const badProfile = { ...makeRecord(), profile: 'web' } as unknown as NewCertificateRecord;
        await assertFailsWith(() => ledger.certificates.recordIssued(badProfile), 'malformed', /profile/);
        assert.equal(await ledger.certificates.count(), before);
        assert.ok((await ledger.certificates.isSerialTaken('a'.repeat(40))) === false);
      });

      it('rejects lookups by anything but lowercase hex', async () => {
        for (const serial of ['AB12', '', 'xyz', "ab' OR 1=1 --", ' ab']) {
          await assertFailsWith(() => ledger.certificates.findBySerial(serial), 'malformed');
          await assertFailsWith(() => ledger.certificates.statusOf(serial), 'malformed');
          await assertFailsWith(() => ledger.certificates.isSerialTaken(serial), 'malformed');
          await assertFailsWith(() => ledger.certificates.revoke(serial, 'superseded', NOW), 'malformed');
        }
      });
    });

    describe('revoke', () => {
      it('marks the certificate revoked and returns the updated record', async () => {
        const record = makeRecord();
        await ledger.certificates.recordIssued(record);
        const revoked = await ledger.certificates.revoke(record.serial, 'keyCompromise', NOW + 1000);
        assert.equal(revoked.serial, record.serial);
        assert.equal(revoked.status, 'revoked');
        assert.equal(revoked.revokedAt, NOW + 1000);
        assert.equal(revoked.revocationReason, 'keyCompromise');
        assert.deepEqual(revoked.der, new Uint8Array(record.der));
        assert.deepEqual(await ledger.certificates.findBySerial(record.serial), revoked);
        assert.deepEqual(await ledger.certificates.statusOf(record.serial), {
          status: 'revoked',
          notAfter: record.notAfter,
          revokedAt: NOW + 1000,
          reason: 'keyCompromise',
        });
      });

      it('throws conflict when already revoked, keeping the first revocation', async () => {
        const record = makeRecord();
        await ledger.certificates.recordIssued(record);
        await ledger.certificates.revoke(record.serial, 'superseded', NOW);
        await assertFailsWith(() => ledger.certificates.revoke(record.serial, 'keyCompromise', NOW + 5), 'conflict', /already revoked/);
        assert.equal((await ledger.certificates.statusOf(record.serial))?.reason, 'superseded');
        assert.equal((await ledger.certificates.statusOf(record.serial))?.revokedAt, NOW);
      });

      it('throws notFound for an unknown serial', async () => {
        await assertFailsWith(() => ledger.certificates.revoke('abcdef0123', 'unspecified', NOW), 'notFound');
      });

      it('rejects an unknown reason or a non-integer time as malformed', async () => {
        const record = makeRecord();
        await ledger.certificates.recordIssued(record);
        await assertFailsWith(() => ledger.certificates.revoke(record.serial, 'lostIt' as unknown as RevocationReason, NOW), 'malformed');
        await assertFailsWith(() => ledger.certificates.revoke(record.serial, 'superseded', 1.5), 'malformed');
        assert.equal((await ledger.certificates.statusOf(record.serial))?.status, 'valid');
      });
    });
  });

  describe(`CertificateRepository.list (${backend.name})`, () => {
    let ledger: CertificateLedger;
    const named = new Map<string, NewCertificateRecord>();
    before(async () => {
      ledger = await openCertificateLedger(backend);
      const add = async (name: string, overrides: Partial<NewCertificateRecord>): Promise<void> => {
        const record = makeRecord(overrides);
        await ledger.certificates.recordIssued(record);
        named.set(name, record);
      };
      await add('svid-1h', { notAfter: NOW + HOUR, issuedAt: NOW - 6 * HOUR });
      await add('svid-3d', { notAfter: NOW + 3 * DAY, issuedAt: NOW - 5 * HOUR });
      await add('web-10d', {
        profile: 'tls-server',
        spiffeId: null,
        sans: [
          { type: 'dns', value: 'web.example.org' },
          { type: 'dns', value: 'www.example.org' },
        ],
        notAfter: NOW + 10 * DAY,
        issuedAt: NOW - 4 * HOUR,
      });
      await add('web-2d', {
        profile: 'tls-server',
        spiffeId: null,
        sans: [{ type: 'dns', value: 'WEB.example.org' }],
        notAfter: NOW + 2 * DAY,
        issuedAt: NOW - 3 * HOUR,
      });
      await add('revoked-2h', { notAfter: NOW + 2 * HOUR, issuedAt: NOW - 2 * HOUR });
      await add('expired', { notBefore: NOW - 2 * DAY, notAfter: NOW - 1, issuedAt: NOW - 2 * DAY });
      await add('node-6d', { profile: 'node', notAfter: NOW + 6 * DAY, issuedAt: NOW - HOUR });
      await add('edge-now', { notAfter: NOW, issuedAt: NOW - 7 * HOUR });
      await add('edge-7d', { notAfter: NOW + 7 * DAY, issuedAt: NOW - 8 * HOUR });
      await add('edge-7d+1', { notAfter: NOW + 7 * DAY + 1, issuedAt: NOW - 9 * HOUR });
      const revoked = named.get('revoked-2h');
      assert.ok(revoked !== undefined);
      await ledger.certificates.revoke(revoked.serial, 'keyCompromise', NOW - HOUR);
    });
    after(async () => {
      await ledger.close();
    });

    const serialsOf = (...names: string[]): string[] =>
      names.map((name) => {
        const record = named.get(name);
        assert.ok(record !== undefined, name);
        return record.serial;
      });
    const listed = async (query: CertificateQuery): Promise<string[]> => (await ledger.certificates.list(query)).items.map((c) => c.serial);

    // include: 'all' lists every valid certificate; the default scope (what needs a person) has its own tests (expiry-scope.test.ts).
    it('lists valid certificates expiring within a window of a pinned now, soonest first, both ends included', async () => {
      assert.deepEqual(
        await listed({ expiringWithinMs: 7 * DAY, now: NOW, include: 'all' }),
        serialsOf('edge-now', 'svid-1h', 'web-2d', 'svid-3d', 'node-6d', 'edge-7d'),
      );
      assert.deepEqual(await listed({ expiringWithinMs: 0, now: NOW, include: 'all' }), serialsOf('edge-now'));
      assert.deepEqual(
        await listed({ expiringWithinMs: 7 * DAY, now: NOW + 1, include: 'all' }),
        serialsOf('svid-1h', 'web-2d', 'svid-3d', 'node-6d', 'edge-7d', 'edge-7d+1'),
      );
    });

    it('combines the expiry window with profile, status and name filters', async () => {
      assert.deepEqual(await listed({ expiringWithinMs: 7 * DAY, now: NOW, profile: 'tls-server' }), serialsOf('web-2d'));
      assert.deepEqual(await listed({ expiringWithinMs: 7 * DAY, now: NOW, status: 'valid', profile: 'node' }), serialsOf('node-6d'));
      assert.deepEqual(await listed({ expiringWithinMs: 7 * DAY, now: NOW, status: 'revoked' }), []);
      assert.deepEqual(await listed({ expiringWithinMs: 30 * DAY, now: NOW, dnsName: 'web.example.org' }), serialsOf('web-2d', 'web-10d'));
    });

    it('filters by status, profile, SPIFFE ID and DNS name, newest first', async () => {
      assert.deepEqual(await listed({ status: 'revoked' }), serialsOf('revoked-2h'));
      assert.deepEqual(await listed({ profile: 'tls-server' }), serialsOf('web-2d', 'web-10d'));
      assert.deepEqual(await listed({ profile: 'tls-server', status: 'revoked' }), []);
      const svid = named.get('svid-3d');
      assert.ok(svid?.spiffeId);
      assert.deepEqual(await listed({ spiffeId: svid.spiffeId }), serialsOf('svid-3d'));
      assert.deepEqual(await listed({ spiffeId: 'spiffe://keysmith.local/nobody' }), []);
      // DNS names compare case-insensitively.
      assert.deepEqual(await listed({ dnsName: 'Web.Example.ORG' }), serialsOf('web-2d', 'web-10d'));
      assert.deepEqual(await listed({ dnsName: 'www.example.org' }), serialsOf('web-10d'));
      assert.deepEqual(await listed({ dnsName: 'example.org' }), []);
      assert.equal((await listed({})).length, named.size);
      assert.equal(await ledger.certificates.count(), named.size);
    });

    it('enforces limit bounds: 1..500, default 100', async () => {
      for (const limit of [0, -1, 501, 1.5, Number.NaN]) {
        await assertFailsWith(() => ledger.certificates.list({ limit }), 'malformed', /limit/);
      }
      assert.equal((await ledger.certificates.list({ limit: 1 })).items.length, 1);
      assert.equal((await ledger.certificates.list({ limit: 500 })).items.length, named.size);
      await assertFailsWith(() => ledger.certificates.list({ expiringWithinMs: -1, now: NOW }), 'malformed');
      await assertFailsWith(() => ledger.certificates.list({ expiringWithinMs: DAY, now: 1.5 }), 'malformed');
    });

    it('rejects a bad cursor as malformed', async () => {
      const issuedCursor = (await ledger.certificates.list({ limit: 1 })).nextCursor;
      assert.ok(issuedCursor !== null);
      const b64 = (text: string): string => Buffer.from(text).toString('base64url');
      const bad = [
        'not a cursor!',
        '',
        b64('{"o":"i"'),
        b64('[]'),
        b64('{"o":"x","t":1,"s":"ab"}'),
        b64('{"o":"i","t":"1","s":"ab"}'),
        b64('{"o":"i","t":1.5,"s":"ab"}'),
        b64('{"o":"i","t":1,"s":"AB"}'),
        'A'.repeat(300),
      ];
      for (const cursor of bad) await assertFailsWith(() => ledger.certificates.list({ cursor }), 'malformed', /cursor/);
      // A cursor from one ordering is refused by the other.
      await assertFailsWith(
        () => ledger.certificates.list({ expiringWithinMs: DAY, now: NOW, cursor: issuedCursor }),
        'malformed',
        /order/,
      );
    });
  });

  describe(`CertificateRepository.list pagination (${backend.name})`, () => {
    let ledger: CertificateLedger;
    const records: NewCertificateRecord[] = [];
    before(async () => {
      ledger = await openCertificateLedger(backend);
      // Few distinct times, so most rows tie on the sort key and the serial tie-break is exercised.
      const profiles = ['svid', 'tls-server', 'node'] as const;
      for (let i = 0; i < 237; i += 1) {
        const record = makeRecord({
          profile: profiles[i % 3] ?? 'svid',
          issuedAt: NOW - (i % 5) * HOUR,
          notAfter: NOW + ((i * 7) % 11) * DAY,
          sans: i % 4 === 0 ? [{ type: 'dns', value: 'shared.example.org' }] : [],
        });
        await ledger.certificates.recordIssued(record);
        records.push(record);
      }
    });
    after(async () => {
      await ledger.close();
    });

    it('walks every page of the newest-first order with no duplicates or omissions', async () => {
      const { serials, pages } = await listAll(ledger, { limit: 10 });
      assert.equal(pages, 24);
      assert.deepEqual(
        serials,
        [...records].sort(byNewest).map((r) => r.serial),
      );
    });

    it('walks every page of the expiry order with no duplicates or omissions', async () => {
      const query = { expiringWithinMs: 8 * DAY, now: NOW, limit: 7, include: 'all' as const };
      const expected = records
        .filter((r) => r.notAfter >= NOW && r.notAfter <= NOW + 8 * DAY)
        .sort(byExpiry)
        .map((r) => r.serial);
      assert.ok(expected.length > 100);
      assert.deepEqual((await listAll(ledger, query)).serials, expected);
    });

    it('serves 100 items by default and ends with a null cursor exactly at the last row', async () => {
      const first = await ledger.certificates.list({});
      assert.equal(first.items.length, 100);
      assert.notEqual(first.nextCursor, null);
      const exact = await ledger.certificates.list({ limit: records.length });
      assert.equal(exact.items.length, records.length);
      assert.equal(exact.nextCursor, null);
    });

    it('agrees with a filter applied in memory, for any page size and filter (property)', async () => {
      const profileArb = fc.constantFrom(undefined, 'svid', 'tls-server', 'node');
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 60 }),
          profileArb,
          fc.boolean(),
          fc.option(fc.integer({ min: 0, max: 12 * DAY }), { nil: undefined }),
          async (limit, profile, byDns, within) => {
            const query: CertificateQuery = {
              limit,
              ...(profile === undefined ? {} : { profile }),
              ...(byDns ? { dnsName: 'shared.example.org' } : {}),
              ...(within === undefined ? {} : { expiringWithinMs: within, now: NOW, include: 'all' as const }),
            };
            const expected = records
              .filter((r) => profile === undefined || r.profile === profile)
              .filter((r) => !byDns || r.sans.some((s) => s.value === 'shared.example.org'))
              .filter((r) => within === undefined || (r.notAfter >= NOW && r.notAfter <= NOW + within))
              .sort(within === undefined ? byNewest : byExpiry)
              .map((r) => r.serial);
            assert.deepEqual((await listAll(ledger, query)).serials, expected);
          },
        ),
        { numRuns: 40, seed: 20250101 },
      );
    });

    it('neither repeats nor skips rows when certificates are issued between pages', async () => {
      const first = await ledger.certificates.list({ limit: 50 });
      assert.ok(first.nextCursor !== null);
      // Newer than everything: sorts before the cursor, so it belongs to a page already served.
      const late = makeRecord({ issuedAt: NOW + HOUR });
      await ledger.certificates.recordIssued(late);
      const rest = (await listAll(ledger, { limit: 50, cursor: first.nextCursor })).serials;
      const seen = [...first.items.map((c) => c.serial), ...rest];
      assert.equal(new Set(seen).size, seen.length);
      assert.deepEqual(
        seen,
        [...records].sort(byNewest).map((r) => r.serial),
      );
      records.push(late);
    });
  });
}
