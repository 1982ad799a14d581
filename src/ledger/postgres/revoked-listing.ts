import { toRevokedRow, type RevokedReader, type RevokedRow, type RevokedSummary, type StoredRevokedRow } from '../revoked-listing.js';
import { PostgresDatabase, type PostgresOptions, type SqlRunner } from './database.js';

/**
 * The CRL's read of the ledger on PostgreSQL, as src/ledger/revoked-listing.ts
 * on SQLite: revoked, not yet expired, by issuer. The literal
 * `status = 'revoked'` matches the partial index certificates_revoked_by_issuer
 * (migrations/postgres/0005), which covers every column read, so PostgreSQL
 * answers from an index-only range of it (checked in test/unit/ledger/contract/revoked-listing.test.ts).
 */

export const PG_REVOKED_UNEXPIRED_SQL = `
  SELECT serial, revoked_at AS "revokedAt", revocation_reason AS reason
    FROM certificates
   WHERE status = 'revoked' AND issuer = $1 AND not_after > $2`;

export const PG_REVOKED_SUMMARY_SQL = `
  SELECT count(*) AS count, coalesce(max(revoked_at), 0) AS "lastRevokedAt"
    FROM certificates
   WHERE status = 'revoked' AND issuer = $1 AND not_after > $2`;

export class PostgresRevokedListing implements RevokedReader {
  constructor(private readonly runner: SqlRunner) {}

  async revokedUnexpired(issuer: string, now: number): Promise<RevokedRow[]> {
    const rows = await this.runner.rows<StoredRevokedRow>(PG_REVOKED_UNEXPIRED_SQL, [issuer, now]);
    return rows.map(toRevokedRow);
  }

  async summary(issuer: string, now: number): Promise<RevokedSummary> {
    return (await this.runner.row<RevokedSummary>(PG_REVOKED_SUMMARY_SQL, [issuer, now])) ?? { count: 0, lastRevokedAt: 0 };
  }
}

/**
 * A connection of the CRL worker's own (one, from a pool of one that closes
 * it when idle): the worker thread reads and decodes the rows, so the
 * service's event loop never parses a large result set. `statementTimeoutMs`
 * should allow for the largest listing (the build's own timeout bounds it).
 */
export function openPostgresRevokedReader(options: PostgresOptions): { readonly listing: PostgresRevokedListing; close(): Promise<void> } {
  const database = new PostgresDatabase({ ...options, poolSize: 1 });
  return { listing: new PostgresRevokedListing(database), close: () => database.close() };
}
