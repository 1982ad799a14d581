import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CertificateRecord, ExpiryTimelineCount, NewCertificateRecord } from '../../../../src/domain/certificates.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { DAY, HOUR, NOW, makeRecord } from '../ledger-fixtures.js';
import { assertFailsWith, collectPages, useCertificateLedger, type CertificateLedger } from './certificate-fixtures.js';

/**
 * The console's expiry reads on both backends: the timeline counted per UTC
 * day and profile by the database (CertificateRepository.expiryTimeline), and
 * the notAfter bounds of the listing (expiresAfter / expiresBefore) with
 * keyset paging. NOW is 2025-01-01T00:00:00Z; the timeline's `now` is 10:00
 * that day, so the window starts at midnight and the morning's certificates
 * have already expired.
 */

const FROM = NOW;
const AT = NOW + 10 * HOUR;
const DAYS = 7;
const TO = FROM + DAYS * DAY;

function sorted(counts: readonly ExpiryTimelineCount[]): ExpiryTimelineCount[] {
  return [...counts].sort((a, b) => a.day - b.day || (a.profile < b.profile ? -1 : a.profile > b.profile ? 1 : 0));
}

function serialsOf(items: readonly CertificateRecord[]): string[] {
  return items.map((item) => item.serial);
}

for (const backend of BACKENDS) {
  describe(`expiry timeline and notAfter bounds (${backend.name})`, () => {
    let ledger: CertificateLedger;
    useCertificateLedger(
      backend,
      (opened) => {
        ledger = opened;
      },
      { each: true },
    );

    async function record(notAfter: number, profile: NewCertificateRecord['profile'] = 'svid'): Promise<NewCertificateRecord> {
      const spiffe = profile === 'svid' || profile === 'node';
      const row = makeRecord({
        notAfter,
        notBefore: Math.min(notAfter, NOW - DAY),
        issuedAt: NOW - DAY,
        profile,
        ...(spiffe ? {} : { spiffeId: null, sans: [{ type: 'dns', value: 'a.example' }] }),
      });
      await ledger.certificates.recordIssued(row);
      return row;
    }

    it('counts certificates not revoked per UTC day and profile, zero days left out, from now to the window end', async () => {
      await record(AT - 1); // expired a millisecond before now: not counted
      await record(AT); // expires exactly now: still valid (RFC 5280 §4.1.2.5), day 0
      await record(FROM + DAY - 1, 'tls-server'); // the last millisecond of day 0
      await record(FROM + DAY); // the first millisecond of day 1
      await record(FROM + DAY + HOUR);
      await record(FROM + DAY + 2 * HOUR, 'node');
      const revoked = await record(FROM + 2 * DAY);
      await ledger.certificates.revoke(revoked.serial, 'keyCompromise', AT - HOUR);
      await record(FROM + 3 * DAY + 5, 'tls-server');
      await record(FROM + 3 * DAY + 6, 'tls-server');
      await record(TO - 1, 'root'); // the window's last millisecond: counted on its last day
      await record(TO); // exactly the window end: outside [now, to)
      await record(TO + DAY);

      const counts = await ledger.certificates.expiryTimeline({ from: FROM, now: AT, to: TO });
      assert.deepEqual(sorted(counts), [
        { day: 0, profile: 'svid', count: 1 },
        { day: 0, profile: 'tls-server', count: 1 },
        { day: 1, profile: 'node', count: 1 },
        { day: 1, profile: 'svid', count: 2 },
        { day: 3, profile: 'tls-server', count: 2 },
        { day: 6, profile: 'root', count: 1 },
      ]);
    });

    it('answers nothing for an empty ledger and a window with no certificates', async () => {
      assert.deepEqual(await ledger.certificates.expiryTimeline({ from: FROM, now: AT, to: TO }), []);
      await record(TO + DAY);
      assert.deepEqual(await ledger.certificates.expiryTimeline({ from: FROM, now: AT, to: TO }), []);
    });

    it('refuses a window that does not hold now, or is longer than 367 days', async () => {
      await assertFailsWith(() => ledger.certificates.expiryTimeline({ from: AT + 1, now: AT, to: TO }), 'malformed', /from <= now <= to/);
      await assertFailsWith(
        () => ledger.certificates.expiryTimeline({ from: FROM, now: TO + 1, to: TO }),
        'malformed',
        /from <= now <= to/,
      );
      await assertFailsWith(
        () => ledger.certificates.expiryTimeline({ from: FROM, now: AT, to: FROM + 368 * DAY }),
        'malformed',
        /367 days/,
      );
      await assertFailsWith(() => ledger.certificates.expiryTimeline({ from: 0.5, now: AT, to: TO }), 'malformed', /from is integer/);
    });

    it('lists one day by notAfter bounds, status valid, in (notAfter, serial) order over several pages', async () => {
      const dayStart = FROM + 2 * DAY;
      const inDay: NewCertificateRecord[] = [];
      for (let i = 0; i < 5; i++) inDay.push(await record(dayStart + i * HOUR, i % 2 === 0 ? 'svid' : 'tls-server'));
      inDay.push(await record(dayStart)); // a tie on notAfter: serial breaks it
      await record(dayStart - 1); // the day before
      await record(dayStart + DAY); // the next day starts: excluded by expires_before
      const revoked = await record(dayStart + 6 * HOUR);
      await ledger.certificates.revoke(revoked.serial, 'superseded', AT);

      const expected = [...inDay].sort((a, b) => a.notAfter - b.notAfter || (a.serial < b.serial ? -1 : 1)).map((row) => row.serial);
      const query = { now: AT, status: 'valid' as const, expiresAfter: dayStart, expiresBefore: dayStart + DAY, limit: 2 };
      const { items, pages } = await collectPages(ledger.certificates, query, 10);
      assert.deepEqual(serialsOf(items), expected);
      assert.equal(pages, 3);

      // Without a status the revoked one is listed too, merged in notAfter order.
      const all = await collectPages(ledger.certificates, { now: AT, expiresAfter: dayStart, expiresBefore: dayStart + DAY, limit: 4 }, 10);
      assert.deepEqual(
        serialsOf(all.items),
        [...inDay, revoked].sort((a, b) => a.notAfter - b.notAfter || (a.serial < b.serial ? -1 : 1)).map((row) => row.serial),
      );
      const onlyRevoked = await ledger.certificates.list({
        now: AT,
        status: 'revoked',
        expiresAfter: dayStart,
        expiresBefore: dayStart + DAY,
      });
      assert.deepEqual(serialsOf(onlyRevoked.items), [revoked.serial]);
    });

    it('combines the bounds with profile and each bound alone', async () => {
      const a = await record(FROM + DAY, 'tls-server');
      const b = await record(FROM + 2 * DAY, 'svid');
      const c = await record(FROM + 3 * DAY, 'tls-server');
      const page = await ledger.certificates.list({
        now: AT,
        profile: 'tls-server',
        expiresAfter: FROM + DAY,
        expiresBefore: FROM + 4 * DAY,
      });
      assert.deepEqual(serialsOf(page.items), [a.serial, c.serial]);
      assert.deepEqual(serialsOf((await ledger.certificates.list({ now: AT, expiresAfter: FROM + 2 * DAY })).items), [b.serial, c.serial]);
      assert.deepEqual(serialsOf((await ledger.certificates.list({ now: AT, expiresBefore: FROM + 2 * DAY })).items), [a.serial]);
      // A cursor of the issued-order listing is refused by a bounded one (its order is notAfter).
      const issued = await ledger.certificates.list({ now: AT, limit: 1 });
      assert.ok(issued.nextCursor !== null);
      await assertFailsWith(
        () => ledger.certificates.list({ now: AT, expiresAfter: FROM, limit: 1, cursor: issued.nextCursor ?? '' }),
        'malformed',
        /different order/,
      );
    });
  });
}
