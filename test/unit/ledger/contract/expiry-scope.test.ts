import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateQuery, CertificateRecord, NewCertificateRecord } from '../../../../src/domain/certificates.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { DAY, HOUR, makeRecord, NOW } from '../ledger-fixtures.js';
import { assertFailsWith, collectPages, useCertificateLedger, type CertificateLedger } from './certificate-fixtures.js';

/**
 * Expiry views for humans default to what needs a person,
 * i.e. every profile but svid, plus SVIDs whose SPIFFE ID stopped renewing (the
 * newest certificate of that SPIFFE ID, past its renewal point at half its
 * lifetime); include: 'all' lists every valid one. On both backends, real
 * migrations. (How migrations/0006 fills spiffe_latest on SQLite: ../expiry-scope.test.ts.)
 */

const MINUTE = 60_000;
const WEEK = 7 * DAY;

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

function server(dns: string, issuedAt: number, lifetimeMs = 90 * DAY): NewCertificateRecord {
  return makeRecord({
    profile: 'tls-server',
    spiffeId: null,
    subject: `CN=${dns}`,
    sans: [{ type: 'dns', value: dns }],
    issuedAt,
    notBefore: issuedAt - MINUTE,
    notAfter: issuedAt + lifetimeMs,
  });
}

for (const backend of BACKENDS) {
  describe(`expiry listings: what needs a person by default, everything with include=all (${backend.name})`, () => {
    let ledger: CertificateLedger;
    useCertificateLedger(backend, (opened) => {
      ledger = opened;
    });

    const tls = server('api.example.org', NOW - 87 * DAY);
    const revokedTls = server('old.example.org', NOW - 88 * DAY);
    const tlsLater = server('later.example.org', NOW - 10 * DAY);
    const node = makeRecord({
      profile: 'node',
      spiffeId: 'spiffe://keysmith.local/node/n1',
      sans: [{ type: 'uri', value: 'spiffe://keysmith.local/node/n1' }],
      issuedAt: NOW - 5 * DAY,
      notAfter: NOW + 2 * DAY,
    });
    // A healthy workload: renewed at half-life, so the old SVID has a newer one and the new one is not due yet.
    const renewingOld = svid('renewing', NOW - 40 * MINUTE);
    const renewingNew = svid('renewing', NOW - 10 * MINUTE);
    // Stopped: the newest of its SPIFFE ID, 45 minutes into a 1-hour life.
    const stopped = svid('stopped', NOW - 45 * MINUTE);
    // Exactly at its renewal point (an odd lifetime: the half is rounded down to whole ms), so it counts.
    const dueNow = svid('due-now', NOW - 30 * MINUTE, HOUR + 1);
    const young = svid('young', NOW - 5 * MINUTE);
    const expired = svid('expired', NOW - 2 * HOUR);

    const serials = (items: readonly CertificateRecord[]): string[] => items.map((c) => c.serial);
    const list = async (query: CertificateQuery): Promise<string[]> =>
      serials((await ledger.certificates.list({ now: NOW, limit: 500, ...query })).items);
    const inOrder = (records: readonly NewCertificateRecord[]): string[] =>
      [...records].sort((a, b) => a.notAfter - b.notAfter || (a.serial < b.serial ? -1 : 1)).map((r) => r.serial);

    it('records the fleet', async () => {
      for (const record of [tls, revokedTls, tlsLater, node, renewingOld, renewingNew, stopped, dueNow, young, expired])
        await ledger.certificates.recordIssued(record);
      await ledger.certificates.revoke(revokedTls.serial, 'superseded', NOW - DAY);
    });

    it('lists other profiles and SVIDs that stopped renewing by default, in (notAfter, serial) order', async () => {
      assert.deepEqual(await list({ expiringWithinMs: WEEK }), inOrder([tls, node, stopped, dueNow]));
      assert.deepEqual(await list({ expiringWithinMs: WEEK, include: 'attention' }), inOrder([tls, node, stopped, dueNow]));
    });

    it('lists every valid certificate expiring in the window with include=all', async () => {
      assert.deepEqual(
        await list({ expiringWithinMs: WEEK, include: 'all' }),
        inOrder([tls, node, renewingOld, renewingNew, stopped, dueNow, young]),
      );
    });

    it('combines the scope with a profile filter', async () => {
      assert.deepEqual(await list({ expiringWithinMs: WEEK, profile: 'svid' }), inOrder([stopped, dueNow]));
      assert.deepEqual(
        await list({ expiringWithinMs: WEEK, profile: 'svid', include: 'all' }),
        inOrder([renewingOld, renewingNew, stopped, dueNow, young]),
      );
      assert.deepEqual(await list({ expiringWithinMs: WEEK, profile: 'tls-server' }), [tls.serial]);
      assert.deepEqual(await list({ expiringWithinMs: 90 * DAY, profile: 'tls-server' }), inOrder([tls, tlsLater]));
    });

    it('pages the default view one row at a time without losing or repeating a row', async () => {
      const pages = await collectPages(ledger.certificates, { expiringWithinMs: WEEK, now: NOW, limit: 1 }, 10);
      assert.deepEqual(serials(pages.items), inOrder([tls, node, stopped, dueNow]));
      assert.equal(pages.pages, 4);
    });

    it('drops an SVID from the default view once its SPIFFE ID renews', async () => {
      const renewed = svid('stopped', NOW - MINUTE);
      await ledger.certificates.recordIssued(renewed);
      assert.deepEqual(await list({ expiringWithinMs: WEEK, profile: 'svid' }), [dueNow.serial]);
    });

    it('refuses an unknown scope as malformed', async () => {
      await assertFailsWith(
        () => ledger.certificates.list({ expiringWithinMs: WEEK, include: 'some' as 'all' }),
        'malformed',
        /include is one of attention, all/,
      );
    });
  });
}
