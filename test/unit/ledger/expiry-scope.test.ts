import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger } from '../../../src/ledger/index.js';
import type { CertificateQuery, CertificateRecord, NewCertificateRecord } from '../../../src/shared/records.js';
import {
  assertDomainError,
  collectPages,
  DAY,
  HOUR,
  makeMigrationsDir,
  makeRecord,
  makeTempDir,
  NOW,
  useLedgerFile,
  withRawDatabase,
  type LedgerFile,
} from './ledger-fixtures.js';

/**
 * Expiry views for humans default to what needs a person,
 * i.e. every profile but svid, plus SVIDs whose SPIFFE ID stopped renewing (the
 * newest certificate of that SPIFFE ID, past its renewal point at half its
 * lifetime); include: 'all' lists every valid one. Real file, real migrations.
 */

const MINUTE = 60_000;
const WEEK = 7 * DAY;

function svid(name: string, issuedAt: number, lifetimeMs = HOUR): NewCertificateRecord {
  const spiffeId = `spiffe://keysmith.local/ns/prod/sa/${name}`;
  return makeRecord({ spiffeId, sans: [{ type: 'uri', value: spiffeId }], issuedAt, notBefore: issuedAt - MINUTE, notAfter: issuedAt + lifetimeMs });
}

function server(dns: string, issuedAt: number, lifetimeMs = 90 * DAY): NewCertificateRecord {
  return makeRecord({ profile: 'tls-server', spiffeId: null, subject: `CN=${dns}`, sans: [{ type: 'dns', value: dns }], issuedAt, notBefore: issuedAt - MINUTE, notAfter: issuedAt + lifetimeMs });
}

describe('expiry listings: what needs a person by default, everything with include=all', () => {
  let file: LedgerFile;
  useLedgerFile((f) => {
    file = f;
  });

  const tls = server('api.example.org', NOW - 87 * DAY);
  const revokedTls = server('old.example.org', NOW - 88 * DAY);
  const tlsLater = server('later.example.org', NOW - 10 * DAY);
  const node = makeRecord({ profile: 'node', spiffeId: 'spiffe://keysmith.local/node/n1', sans: [{ type: 'uri', value: 'spiffe://keysmith.local/node/n1' }], issuedAt: NOW - 5 * DAY, notAfter: NOW + 2 * DAY });
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
  const list = (query: CertificateQuery): string[] => serials(file.ledger.certificates.list({ now: NOW, limit: 500, ...query }).items);
  const inOrder = (records: readonly NewCertificateRecord[]): string[] =>
    [...records].sort((a, b) => a.notAfter - b.notAfter || (a.serial < b.serial ? -1 : 1)).map((r) => r.serial);

  it('records the fleet', () => {
    for (const record of [tls, revokedTls, tlsLater, node, renewingOld, renewingNew, stopped, dueNow, young, expired]) file.ledger.certificates.recordIssued(record);
    file.ledger.certificates.revoke(revokedTls.serial, 'superseded', NOW - DAY);
  });

  it('lists other profiles and SVIDs that stopped renewing by default, in (notAfter, serial) order', () => {
    assert.deepEqual(list({ expiringWithinMs: WEEK }), inOrder([tls, node, stopped, dueNow]));
    assert.deepEqual(list({ expiringWithinMs: WEEK, include: 'attention' }), inOrder([tls, node, stopped, dueNow]));
  });

  it('lists every valid certificate expiring in the window with include=all', () => {
    assert.deepEqual(list({ expiringWithinMs: WEEK, include: 'all' }), inOrder([tls, node, renewingOld, renewingNew, stopped, dueNow, young]));
  });

  it('combines the scope with a profile filter', () => {
    assert.deepEqual(list({ expiringWithinMs: WEEK, profile: 'svid' }), inOrder([stopped, dueNow]));
    assert.deepEqual(list({ expiringWithinMs: WEEK, profile: 'svid', include: 'all' }), inOrder([renewingOld, renewingNew, stopped, dueNow, young]));
    assert.deepEqual(list({ expiringWithinMs: WEEK, profile: 'tls-server' }), [tls.serial]);
    assert.deepEqual(list({ expiringWithinMs: 90 * DAY, profile: 'tls-server' }), inOrder([tls, tlsLater]));
  });

  it('pages the default view one row at a time without losing or repeating a row', () => {
    const pages = collectPages((q: CertificateQuery) => file.ledger.certificates.list(q), { expiringWithinMs: WEEK, now: NOW, limit: 1 }, 10);
    assert.deepEqual(serials(pages.items), inOrder([tls, node, stopped, dueNow]));
    assert.equal(pages.pages, 4);
  });

  it('drops an SVID from the default view once its SPIFFE ID renews', () => {
    const renewed = svid('stopped', NOW - MINUTE);
    file.ledger.certificates.recordIssued(renewed);
    assert.deepEqual(list({ expiringWithinMs: WEEK, profile: 'svid' }), [dueNow.serial]);
  });

  it('refuses an unknown scope as malformed', () => {
    assertDomainError(() => file.ledger.certificates.list({ expiringWithinMs: WEEK, include: 'some' as 'all' }), 'malformed', /include is one of attention, all/);
  });
});

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
      withRawDatabase(path, (db) => {
        const insert = db.prepare(
          `INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after, issued_at, der, fingerprint, sans)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')`,
        );
        for (const r of [a2, a1, b1, b2]) insert.run(r.serial, r.issuer, r.subject, r.spiffeId, r.profile, r.requester, r.notBefore, r.notAfter, r.issuedAt, Buffer.from(r.der), r.fingerprint);
      });
      openLedger({ path }).close();
      const latest = withRawDatabase(path, (db) =>
        db.prepare<[], { spiffe_id: string; serial: string; renewal_due_at: number }>('SELECT spiffe_id, serial, renewal_due_at FROM spiffe_latest ORDER BY spiffe_id').all(),
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
