/**
 * What a restore carries into the restored SQLite ledger so that it never
 * un-revokes and never forgets a certificate (see restore.ts): rows and
 * revocations of the live ledger, revocations of the published CRLs, and the
 * CRL number, applied in one transaction on the restored copy.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { describeCrl, fromPem } from '../x509/index.js';

const CERTIFICATE_COLUMNS =
  'serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after, issued_at, status, revoked_at, revocation_reason, der, fingerprint, sans';

export interface CrlRevocation {
  readonly issuer: string;
  readonly serial: string;
  readonly revokedAt: number;
  readonly reason: string;
  readonly crlNumber: number;
}

/** Every entry of the CRLs on disk and the ones passed; a file that is not a CRL is an error when passed, skipped when found. */
export function crlRevocations(dataDir: string, passed: readonly string[]): CrlRevocation[] {
  const found: string[] = [];
  const crlDir = join(dataDir, 'crl');
  if (existsSync(crlDir)) for (const name of readdirSync(crlDir).sort()) if (name.endsWith('.crl')) found.push(join(crlDir, name));
  const revocations: CrlRevocation[] = [];
  const read = (path: string, isPassed: boolean): void => {
    try {
      const bytes = readFileSync(path);
      const text = bytes.toString('latin1');
      const der = text.includes('-----BEGIN X509 CRL-----') ? fromPem(text, 'X509 CRL') : new Uint8Array(bytes);
      const crl = describeCrl(der);
      for (const entry of crl.entries) {
        revocations.push({
          issuer: crl.issuer,
          serial: entry.serial,
          revokedAt: entry.revokedAt,
          reason: entry.reason ?? 'unspecified',
          crlNumber: crl.crlNumber ?? 0,
        });
      }
      if (crl.entries.length === 0)
        revocations.push({ issuer: crl.issuer, serial: '', revokedAt: 0, reason: 'unspecified', crlNumber: crl.crlNumber ?? 0 });
    } catch (error) {
      if (isPassed)
        throw new DomainError('malformed', `--crl ${path}: not a readable CRL (${error instanceof Error ? error.message : String(error)})`);
    }
  };
  for (const path of found) read(path, false);
  for (const path of passed) read(resolve(path), true);
  return revocations;
}

/** What reconcile changed in the restored ledger. */
export interface Reconciled {
  readonly carried: number;
  readonly fromLedger: number;
  readonly fromCrl: number;
  readonly unknown: number;
  readonly crlNumber: number;
}

/**
 * Applies what must survive (live rows, live revocations, CRL revocations, the
 * CRL number) to the restored file in one transaction. `live` is the locked
 * live ledger (the restored file is attached to it as `restored`), or undefined.
 * A CRL entry revokes only a certificate of the same issuer (its DN as stored).
 */
export function reconcile(
  restoredPath: string,
  live: Database.Database | undefined,
  crl: readonly CrlRevocation[],
  backupCrlNumber: number,
): Reconciled {
  const db = live ?? new Database(restoredPath);
  const schema = live === undefined ? 'main' : 'restored';
  if (live !== undefined) live.prepare('ATTACH DATABASE ? AS restored').run(restoredPath);
  try {
    const work = db.transaction(() => {
      const fromLive = live === undefined ? NOTHING_FROM_LIVE : carryFromLiveLedger(live);
      const fromCrls = applyCrlRevocations(db, schema, crl);
      // RFC 5280 §5.2.3: the CRL number only grows; the next CRL continues above every one published.
      const crlNumber = Math.max(backupCrlNumber, fromLive.crlNumber, fromCrls.crlNumber);
      db.prepare(
        `INSERT INTO ${schema}.crl_numbers (scope, last_number) VALUES ('crl', ?) ON CONFLICT (scope) DO UPDATE SET last_number = max(last_number, excluded.last_number)`,
      ).run(crlNumber);
      return {
        carried: fromLive.carried,
        fromLedger: fromLive.fromLedger,
        fromCrl: fromCrls.revoked,
        unknown: fromCrls.unknown,
        crlNumber,
      };
    });
    return work.immediate();
  } finally {
    if (live !== undefined) live.exec('DETACH DATABASE restored');
    else db.close();
  }
}

/** What the live ledger gave the restored copy: rows it lacked, revocations, and the live CRL number. */
interface FromLiveLedger {
  readonly carried: number;
  readonly fromLedger: number;
  readonly crlNumber: number;
}

const NOTHING_FROM_LIVE: FromLiveLedger = { carried: 0, fromLedger: 0, crlNumber: 0 };

/**
 * Inside reconcile's transaction, with the restored file attached as `restored`: certificates (and their names) issued
 * after the backup, the newest SPIFFE ID rows, OCSP responders, redeemed join tokens and revocations of the live ledger.
 */
function carryFromLiveLedger(live: Database.Database): FromLiveLedger {
  const hasLiveTable = (name: string): boolean =>
    live.prepare(`SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
  live.exec(
    `CREATE TEMP TABLE carried AS SELECT serial FROM main.certificates l WHERE NOT EXISTS (SELECT 1 FROM restored.certificates r WHERE r.serial = l.serial)`,
  );
  const carried = live
    .prepare(
      `INSERT INTO restored.certificates (${CERTIFICATE_COLUMNS}) SELECT ${CERTIFICATE_COLUMNS} FROM main.certificates WHERE serial IN (SELECT serial FROM temp.carried)`,
    )
    .run().changes;
  live.exec(
    `INSERT OR IGNORE INTO restored.certificate_names (serial, type, value) SELECT serial, type, value FROM main.certificate_names WHERE serial IN (SELECT serial FROM temp.carried)`,
  );
  if (hasLiveTable('spiffe_latest')) {
    live.exec(`INSERT INTO restored.spiffe_latest (spiffe_id, serial, profile, issued_at, not_after, lifetime_ms, renewal_due_at)
            SELECT spiffe_id, serial, profile, issued_at, not_after, lifetime_ms, renewal_due_at FROM main.spiffe_latest WHERE true
            ON CONFLICT (spiffe_id) DO UPDATE SET serial = excluded.serial, profile = excluded.profile, issued_at = excluded.issued_at,
              not_after = excluded.not_after, lifetime_ms = excluded.lifetime_ms, renewal_due_at = excluded.renewal_due_at
            WHERE excluded.issued_at > spiffe_latest.issued_at OR (excluded.issued_at = spiffe_latest.issued_at AND excluded.serial > spiffe_latest.serial)`);
  }
  if (hasLiveTable('ocsp_responders')) live.exec('INSERT OR IGNORE INTO restored.ocsp_responders SELECT * FROM main.ocsp_responders');
  // A join token redeemed after the backup must not work a second time.
  live.exec(`UPDATE restored.join_tokens AS r SET used_at = l.used_at, used_by_serial = l.used_by_serial
                     FROM main.join_tokens AS l WHERE l.token_hash = r.token_hash AND l.used_at IS NOT NULL AND r.used_at IS NULL`);
  const fromLedger = live
    .prepare(
      `UPDATE restored.certificates AS r SET status = 'revoked', revoked_at = l.revoked_at, revocation_reason = l.revocation_reason
                     FROM main.certificates AS l WHERE l.serial = r.serial AND l.status = 'revoked' AND r.status = 'valid'`,
    )
    .run().changes;
  const crlNumber = hasLiveTable('crl_numbers')
    ? Number(live.prepare('SELECT coalesce(max(last_number), 0) FROM main.crl_numbers').pluck().get() ?? 0)
    : 0;
  return { carried, fromLedger, crlNumber };
}

/** Revokes what the CRL entries name (same serial and issuer); counts entries that name no certificate; the highest CRL number seen. */
function applyCrlRevocations(
  db: Database.Database,
  schema: string,
  crl: readonly CrlRevocation[],
): { readonly revoked: number; readonly unknown: number; readonly crlNumber: number } {
  const revoke = db.prepare(
    `UPDATE ${schema}.certificates SET status = 'revoked', revoked_at = :revokedAt, revocation_reason = :reason WHERE serial = :serial AND issuer = :issuer AND status = 'valid'`,
  );
  const known = db.prepare<[string], number>(`SELECT 1 FROM ${schema}.certificates WHERE serial = ?`).pluck();
  let revoked = 0;
  const unknown = new Set<string>();
  let crlNumber = 0;
  for (const entry of crl) {
    crlNumber = Math.max(crlNumber, entry.crlNumber);
    if (entry.serial === '') continue;
    const changed = revoke.run({
      revokedAt: entry.revokedAt,
      reason: entry.reason,
      serial: entry.serial,
      issuer: entry.issuer,
    }).changes;
    revoked += changed;
    if (changed === 0 && known.get(entry.serial) === undefined) unknown.add(entry.serial);
  }
  return { revoked, unknown: unknown.size, crlNumber };
}
