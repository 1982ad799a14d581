import { createHash, randomBytes } from 'node:crypto';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { Authority, crlIssuerFor, initCertificateAuthority, type CaMaterial } from '../../src/ca/index.js';
import { openLedger, type Ledger } from '../../src/ledger/index.js';
import { systemClock } from '../../src/shared/clock.js';
import { randomSerial } from '../../src/x509/index.js';
import type { NewCertificateRecord, RevocationReason } from '../../src/domain/certificates.js';

/**
 * A ledger with many revoked, unexpired rows of a real CA, for the CRL bench
 * and its scaled-down test. The CRL reads only serial, revoked_at, reason,
 * issuer and not_after, so the rows carry a few random bytes as DER (the
 * ledger stores bytes, it does not parse them); they are written in large
 * transactions without fsync. Seeding is not what is measured.
 */
export interface RevokedLedger {
  readonly dataDir: string;
  readonly databasePath: string;
  readonly ledger: Ledger;
  readonly material: CaMaterial;
  readonly authority: Authority;
  readonly issuerName: string;
}

const REASONS: readonly RevocationReason[] = [
  'unspecified',
  'keyCompromise',
  'superseded',
  'cessationOfOperation',
  'affiliationChanged',
  'privilegeWithdrawn',
];

export async function revokedLedger(dataDir: string, revoked: number, options: { validRows?: number } = {}): Promise<RevokedLedger> {
  const databasePath = join(dataDir, 'keysmith.db');
  const ledger = openLedger({ path: databasePath });
  const { material } = await initCertificateAuthority({
    dataDir,
    trustDomain: 'bench.local',
    store: ledger.certificates,
    clock: systemClock,
  });
  const { issuerName } = crlIssuerFor(material);
  const now = Date.now();
  const db = ledger.certificates;
  const total = revoked + (options.validRows ?? 0);
  const batch = 20_000;
  for (let start = 0; start < total; start += batch) {
    const records: NewCertificateRecord[] = [];
    for (let i = start; i < Math.min(total, start + batch); i++) {
      const der = randomBytes(16);
      const serial = randomSerial();
      records.push({
        serial,
        issuer: issuerName,
        subject: `CN=bench ${i}`,
        sans: [],
        spiffeId: null,
        profile: 'svid',
        requester: 'system',
        notBefore: now - 60_000,
        notAfter: now + 24 * 3_600_000,
        issuedAt: now,
        der,
        fingerprint: createHash('sha256').update(der).digest('hex'),
      });
    }
    db.recordIssuedMany(records);
  }
  // One UPDATE per seeding batch, in the ledger's own connection (the bench owns the file).
  const raw = openRawRevoker(databasePath);
  try {
    raw(revoked, now, REASONS, issuerName);
  } finally {
    raw.close();
  }
  const authority = new Authority({ material, store: ledger.certificates, clock: systemClock, crlUrl: 'http://127.0.0.1/crl' });
  return { dataDir, databasePath, ledger, material, authority, issuerName };
}

/** Marks the first `count` leaves of `issuer` (by rowid) revoked, with reasons in turn, in one transaction. */
function openRawRevoker(
  path: string,
): ((count: number, now: number, reasons: readonly RevocationReason[], issuer: string) => void) & { close(): void } {
  const db = new Database(path);
  db.pragma('busy_timeout = 10000');
  const run = (count: number, now: number, reasons: readonly RevocationReason[], issuer: string): void => {
    const update = db.prepare<[number, string, number]>(
      "UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ? WHERE rowid = ?",
    );
    // The CA's own rows (root, intermediate) are not the intermediate's leaves: leave them be.
    const ids = db
      .prepare<[string, number], number>('SELECT rowid FROM certificates WHERE issuer = ? ORDER BY rowid LIMIT ?')
      .pluck()
      .all(issuer, count);
    db.transaction(() => {
      for (const [i, id] of ids.entries()) update.run(now - 1000 - i, reasons[i % reasons.length] ?? 'unspecified', id);
    })();
  };
  return Object.assign(run, { close: () => db.close() });
}
