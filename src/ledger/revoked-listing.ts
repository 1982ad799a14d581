import Database from 'better-sqlite3';
import type { Awaitable } from '../shared/awaitable.js';
import type { RevocationReason } from '../domain/certificates.js';
import { configureConnection } from './connection.js';
import { isRevocationReason } from './certificate-rows.js';

/**
 * The CRL's read of the ledger: revoked, not yet expired, by issuer. Both
 * statements are answered from the partial covering index
 * `certificates_revoked_by_issuer` (migrations/0005): a range of it bounded by
 * what the CRL lists, never a scan of `certificates` (checked with EXPLAIN
 * QUERY PLAN in test/unit/ledger/revoked-listing.test.ts). The literal
 * `status = 'revoked'` lets the planner match the partial index. The texts
 * serve both backends (PostgreSQL numbers the `?`: postgres/certificate-repository.ts).
 */

export const REVOKED_UNEXPIRED_SQL = `
  SELECT serial, revoked_at AS "revokedAt", revocation_reason AS reason
    FROM certificates
   WHERE status = 'revoked' AND issuer = ? AND not_after > ?`;

export const REVOKED_SUMMARY_SQL = `
  SELECT count(*) AS count, coalesce(max(revoked_at), 0) AS "lastRevokedAt"
    FROM certificates
   WHERE status = 'revoked' AND issuer = ? AND not_after > ?`;

/** One CRL entry as stored. */
export interface RevokedRow {
  readonly serial: string;
  readonly revokedAt: number;
  readonly reason: RevocationReason;
}

/** What tells the CRL publisher whether the revoked set changed: a few index pages, not the rows. */
export interface RevokedSummary {
  readonly count: number;
  readonly lastRevokedAt: number;
}

/** A row as either backend returns it (the same column aliases on both). */
export interface StoredRevokedRow {
  readonly serial: string;
  readonly revokedAt: number;
  readonly reason: string;
}

/** Checks a stored reason against RFC 5280 §5.3.1's list; both backends map rows through this. */
export function toRevokedRow(row: StoredRevokedRow): RevokedRow {
  if (!isRevocationReason(row.reason)) throw new Error(`certificate ${row.serial}: unknown stored revocation reason '${row.reason}'`);
  return { serial: row.serial, revokedAt: row.revokedAt, reason: row.reason };
}

/** The two reads, on either backend (src/ledger/postgres/revoked-listing.ts answers asynchronously). */
export interface RevokedReader {
  revokedUnexpired(issuer: string, now: number): Awaitable<RevokedRow[]>;
  summary(issuer: string, now: number): Awaitable<RevokedSummary>;
}

/** The two reads over one connection (the service's own, or a worker's read-only one). */
export class RevokedListing implements RevokedReader {
  private readonly selectRows: Database.Statement<[string, number], StoredRevokedRow>;
  private readonly selectSummary: Database.Statement<[string, number], RevokedSummary>;

  constructor(db: Database.Database) {
    this.selectRows = db.prepare<[string, number], StoredRevokedRow>(REVOKED_UNEXPIRED_SQL);
    this.selectSummary = db.prepare<[string, number], RevokedSummary>(REVOKED_SUMMARY_SQL);
  }

  /** Every certificate of `issuer` (its Name as the ledger stores it) revoked and with notAfter after `now`, in index order. */
  revokedUnexpired(issuer: string, now: number): RevokedRow[] {
    const rows: RevokedRow[] = [];
    for (const row of this.selectRows.iterate(issuer, now)) rows.push(toRevokedRow(row));
    return rows;
  }

  /** Count and latest revocation time of the same set: equal summaries, unchanged set (barring an expiry, which only shrinks it). */
  summary(issuer: string, now: number): RevokedSummary {
    return this.selectSummary.get(issuer, now) ?? { count: 0, lastRevokedAt: 0 };
  }
}

/**
 * A read-only connection for a worker thread (the CRL build): WAL lets it read
 * beside the service's writer, and a reader never blocks issuance. The schema
 * is the service's; this connection migrates nothing.
 */
export function openRevokedReader(path: string, busyTimeoutMs = 5000): { readonly listing: RevokedListing; close(): void } {
  const db = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  try {
    configureConnection(db, { busyTimeoutMs, readonly: true });
    const listing = new RevokedListing(db);
    return { listing, close: () => db.close() };
  } catch (error) {
    db.close();
    throw error;
  }
}
