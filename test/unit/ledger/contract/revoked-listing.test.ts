import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { crlIssuerFor, initCertificateAuthority, type CaMaterial } from '../../../../src/ca/index.js';
import { WorkerCrlBuilder } from '../../../../src/cli/crl-builder.js';
import {
  openLedger,
  openLedgerBackend,
  openPostgresRevokedReader,
  openRevokedReader,
  PostgresDatabase,
  type LedgerLocation,
  type RevokedReader,
  type RevokedRow,
} from '../../../../src/ledger/index.js';
import { PG_REVOKED_SUMMARY_SQL, PG_REVOKED_UNEXPIRED_SQL } from '../../../../src/ledger/postgres/revoked-listing.js';
import type { NewCertificateRecord, RevocationReason } from '../../../../src/domain/certificates.js';
import { describeCrl } from '../../../../src/x509/index.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { createTestDatabase } from '../../../helpers/postgres.js';
import { FixedClock, openssl } from '../../ca/helpers.js';
import { HOUR, makeRecord, NOW } from '../ledger-fixtures.js';

/**
 * The CRL's read of the ledger on both backends (src/ledger/revoked-listing.ts
 * and postgres/revoked-listing.ts), and a CRL built by the worker
 * (src/cli/crl-worker.ts) from each: the same revoked, unexpired rows of the
 * intermediate, read by a connection of the worker's own.
 */

const OTHER_ISSUER = 'CN=an older intermediate';

let caDir: string;
let material: CaMaterial;
let issuerName: string;

before(async () => {
  caDir = mkdtempSync(join(tmpdir(), 'keysmith-revoked-ca-'));
  // The CA's own rows go to a throw-away SQLite ledger; only its key and Name matter here.
  const caLedger = openLedger({ path: join(caDir, 'ca-ledger.db') });
  try {
    ({ material } = await initCertificateAuthority({
      dataDir: caDir,
      trustDomain: 'example.org',
      store: caLedger.certificates,
      clock: new FixedClock(NOW),
    }));
  } finally {
    caLedger.close();
  }
  issuerName = crlIssuerFor(material).issuerName;
});

after(() => rmSync(caDir, { recursive: true, force: true }));

interface Seeded {
  readonly location: LedgerLocation;
  /** Revoked, unexpired, of our issuer: what the CRL lists. */
  readonly expected: RevokedRow[];
  dispose(): Promise<void>;
}

interface Planned {
  readonly record: NewCertificateRecord;
  readonly revoked?: { readonly at: number; readonly reason: RevocationReason };
}

/** 300 rows: valid, revoked and live, revoked and expired, and some of another issuer. */
function plan(): { rows: Planned[]; expected: RevokedRow[] } {
  const rows: Planned[] = [];
  const expected: RevokedRow[] = [];
  for (let i = 0; i < 300; i++) {
    const isOther = i % 50 === 7;
    const record = makeRecord({
      issuer: isOther ? OTHER_ISSUER : issuerName,
      notBefore: NOW - 2 * HOUR,
      notAfter: i % 3 === 0 ? NOW - HOUR : NOW + HOUR,
    });
    if (i % 5 !== 0 && !isOther) {
      rows.push({ record });
      continue;
    }
    const revoked = { at: NOW - 10_000 + i, reason: (i % 10 === 0 ? 'keyCompromise' : 'superseded') as RevocationReason };
    rows.push({ record, revoked });
    if (!isOther && record.notAfter > NOW) expected.push({ serial: record.serial, revokedAt: revoked.at, reason: revoked.reason });
  }
  return { rows, expected };
}

async function seed(kind: 'sqlite' | 'postgres'): Promise<Seeded> {
  const { rows, expected } = plan();
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-revoked-'));
    const path = join(dir, 'ledger.db');
    const ledger = openLedger({ path });
    ledger.certificates.recordIssuedMany(rows.map((row) => row.record));
    for (const row of rows)
      if (row.revoked !== undefined) ledger.certificates.revoke(row.record.serial, row.revoked.reason, row.revoked.at);
    ledger.close();
    return { location: { kind, path }, expected, dispose: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const database = await createTestDatabase('revoked');
  const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 2 });
  try {
    await opened.ledger.certificates.recordIssuedMany(rows.map((row) => row.record));
    for (const row of rows)
      if (row.revoked !== undefined) await opened.ledger.certificates.revoke(row.record.serial, row.revoked.reason, row.revoked.at);
  } finally {
    await opened.ledger.close();
  }
  return { location: { kind, url: database.url }, expected, dispose: () => database.drop() };
}

function openReader(location: LedgerLocation): { listing: RevokedReader; close(): void | Promise<void> } {
  if (location.kind === 'sqlite') return openRevokedReader(location.path);
  const { kind: _kind, ...options } = location;
  return openPostgresRevokedReader(options);
}

const bySerial = (a: { serial: string }, b: { serial: string }): number => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);

for (const backend of BACKENDS) {
  describe(`the revoked listing and the CRL worker: ${backend.name}`, () => {
    let seeded: Seeded;
    before(async () => {
      seeded = await seed(backend.name);
    });
    after(async () => seeded.dispose());

    it('lists exactly the revoked, unexpired certificates of the issuer, with time and reason, and sums them up', async () => {
      const reader = openReader(seeded.location);
      try {
        const rows = await reader.listing.revokedUnexpired(issuerName, NOW);
        assert.deepEqual([...rows].sort(bySerial), [...seeded.expected].sort(bySerial));
        const summary = await reader.listing.summary(issuerName, NOW);
        assert.deepEqual(summary, {
          count: seeded.expected.length,
          lastRevokedAt: Math.max(...seeded.expected.map((row) => row.revokedAt)),
        });
        assert.deepEqual(await reader.listing.summary('CN=nobody', NOW), { count: 0, lastRevokedAt: 0 });
      } finally {
        await reader.close();
      }
    });

    it('builds, in the worker, a CRL that openssl reads with every revoked serial and nothing else', async () => {
      const { issuer } = crlIssuerFor(material);
      const builder = new WorkerCrlBuilder({
        ledger: seeded.location,
        issuerName,
        issuer,
        signingKey: material.intermediate.keyObject,
        shardCount: 1,
      });
      try {
        const set = await builder.build({ now: NOW, thisUpdate: NOW, nextUpdate: NOW + 24 * HOUR, crlNumber: 42 });
        assert.equal(set.full.entries, seeded.expected.length);
        const described = describeCrl(set.full.der);
        assert.equal(described.crlNumber, 42);
        assert.deepEqual(described.entries.map((entry) => entry.serial).sort(), seeded.expected.map((row) => row.serial).sort());
        const file = join(caDir, `${backend.name}.crl`);
        writeFileSync(file, set.full.der);
        const text = openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text']);
        const listed = [...text.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((match) => (match[1] ?? '').toLowerCase()).sort();
        assert.deepEqual(listed, seeded.expected.map((row) => row.serial).sort());
        assert.deepEqual(await builder.revokedSummary(issuerName, NOW), {
          count: seeded.expected.length,
          lastRevokedAt: Math.max(...seeded.expected.map((row) => row.revokedAt)),
        });
      } finally {
        await builder.close();
      }
    });

    if (backend.name === 'postgres') {
      it('is answered by PostgreSQL from the partial index certificates_revoked_by_issuer alone (index-only scan)', async () => {
        if (seeded.location.kind !== 'postgres') throw new Error('expected PostgreSQL');
        const database = new PostgresDatabase({ url: seeded.location.url, poolSize: 1 });
        try {
          for (const sql of [PG_REVOKED_UNEXPIRED_SQL, PG_REVOKED_SUMMARY_SQL]) {
            const plan = await database.transaction(async (tx) => {
              await tx.run('SET LOCAL enable_seqscan = off');
              await tx.run('SET LOCAL enable_bitmapscan = off');
              const rows = await tx.rows<{ 'QUERY PLAN': string }>(`EXPLAIN ${sql}`, [issuerName, NOW]);
              return rows.map((row) => row['QUERY PLAN']).join('\n');
            });
            assert.match(plan, /Index (Only )?Scan using certificates_revoked_by_issuer on certificates/, plan);
          }
        } finally {
          await database.close();
        }
      });
    }
  });
}
