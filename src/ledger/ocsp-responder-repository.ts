import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { checkSerial, checkTime } from './certificate-rows.js';
import type { LeaseRepository } from './alert-leases.js';
import { DurableWrites, toConflict } from './connection.js';

/**
 * The delegated OCSP responders the processes on one ledger share
 * (`ocsp_responders`, migrations/0007; src/ca/ocsp-signer.ts says why): the
 * newest usable one, recording a new one, and the lease that lets one
 * process at a time issue the next (a named lease of the ledger's lease
 * repository). The SQL and row mapping here are the PostgreSQL repository's
 * too (postgres/ocsp-responder-repository.ts).
 */

/** A responder as stored: its certificate (the ledger's row) and its wrapped key. */
export interface StoredOcspResponder {
  readonly serial: string;
  readonly certificateDer: Uint8Array;
  /** Encrypted PKCS#8 PEM (src/ca/responder-key-wrap.ts). */
  readonly wrappedKey: string;
  readonly notAfter: number;
}

/** The lease (alert-leases.ts, the `leases` table) whose holder issues the next responder certificate. */
export const RESPONDER_LEASE_NAME = 'ocsp-responder';

const WRAPPED_KEY_LABEL = '-----BEGIN ENCRYPTED PRIVATE KEY-----';

export interface StoredResponderRow {
  readonly serial: string;
  readonly der: Uint8Array;
  readonly wrappedKey: string;
  readonly notAfter: number;
}

/** The newest responder of `issuer` whose certificate is valid (not revoked) and unexpired at `now`; SQLite placeholders. */
export const NEWEST_RESPONDER_SQL = `
  SELECT r.serial AS serial, c.der AS der, r.wrapped_key AS "wrappedKey", c.not_after AS "notAfter"
    FROM ocsp_responders r JOIN certificates c ON c.serial = r.serial
   WHERE c.issuer = ? AND c.profile = 'ocsp-signer' AND c.status = 'valid' AND c.not_after > ?
   ORDER BY c.not_after DESC, r.serial DESC
   LIMIT 1`;

export function toStoredResponder(row: StoredResponderRow): StoredOcspResponder {
  if (!row.wrappedKey.startsWith(WRAPPED_KEY_LABEL))
    throw new Error(`OCSP responder ${row.serial}: the stored key is not an encrypted PKCS#8 PEM`);
  return { serial: row.serial, certificateDer: new Uint8Array(row.der), wrappedKey: row.wrappedKey, notAfter: row.notAfter };
}

/** What `record` and the lease calls accept; both backends check the same way. */
export function checkResponderRecord(serial: string, wrappedKey: string, recordedAt: number): void {
  checkSerial(serial);
  checkTime(recordedAt, 'recordedAt');
  if (!wrappedKey.startsWith(WRAPPED_KEY_LABEL))
    throw new DomainError('malformed', 'an OCSP responder key is stored only encrypted (PKCS#8 PEM)');
}

export class OcspResponderRepository {
  private readonly durable: DurableWrites;
  private statements: ReturnType<typeof prepare> | undefined;

  /** Statements are prepared on first use, so a ledger opened at an older schema version still constructs. */
  constructor(
    private readonly db: Database.Database,
    private readonly leases: LeaseRepository,
  ) {
    this.durable = new DurableWrites(db);
  }

  /** The newest responder of `issuer` (the intermediate's Name as the ledger stores it) that is valid and unexpired at `now`. */
  newest(issuer: string, now: number): StoredOcspResponder | undefined {
    checkTime(now, 'now');
    const row = this.prepared().newest.get(issuer, now);
    return row === undefined ? undefined : toStoredResponder(row);
  }

  /** Records the wrapped key of a responder certificate already in the ledger; DomainError('conflict') for a serial recorded before or not in the ledger. */
  record(serial: string, wrappedKey: string, recordedAt: number): void {
    checkResponderRecord(serial, wrappedKey, recordedAt);
    const insert = this.prepared().insert;
    try {
      this.durable.run(this.db.transaction(() => insert.run(serial, wrappedKey, recordedAt)));
    } catch (error) {
      throw toConflict(error, () => `OCSP responder ${serial} is recorded already, or its certificate is not in the ledger`);
    }
  }

  /** True when `holder` now holds the right to issue the next responder, until now + ttlMs. */
  claimRotation(holder: string, now: number, ttlMs: number): boolean {
    return this.leases.acquire(RESPONDER_LEASE_NAME, holder, now, ttlMs);
  }

  /** Gives the claim up (only if `holder` has it). */
  releaseRotation(holder: string): void {
    this.leases.release(RESPONDER_LEASE_NAME, holder);
  }

  private prepared(): ReturnType<typeof prepare> {
    return (this.statements ??= prepare(this.db));
  }
}

function prepare(db: Database.Database) {
  return {
    newest: db.prepare<[string, number], StoredResponderRow>(NEWEST_RESPONDER_SQL),
    insert: db.prepare<[string, string, number]>('INSERT INTO ocsp_responders (serial, wrapped_key, recorded_at) VALUES (?, ?, ?)'),
  };
}
