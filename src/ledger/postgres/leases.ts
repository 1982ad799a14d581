import type { AwaitableMethods } from '../../shared/awaitable.js';
import {
  LEASE_HOLDER_SQL,
  leaseParams,
  RELEASE_LEASE_SQL,
  RENEW_LEASE_SQL,
  TAKE_LEASE_SQL,
  type LeaseRepository,
} from '../alert-leases.js';
import { numberNamedParameters } from '../sql-placeholders.js';
import type { PostgresDatabase, SqlValue } from './database.js';

/** Times are BIGINT: a parameter compared only with a column or another parameter is cast so PostgreSQL does not infer a narrower type. */
const LEASE_TYPES = { expiresAt: 'bigint', now: 'bigint' } as const;

function bound(sql: string, params: Readonly<Record<string, SqlValue>>): { text: string; values: SqlValue[] } {
  return numberNamedParameters<SqlValue>(sql, params, LEASE_TYPES);
}

/**
 * Named leases on PostgreSQL: the SQLite LeaseRepository's statements and
 * semantics (see there for fencing by holder token), for several nodes on one
 * database. Each operation is one conditional statement, so the row lock
 * PostgreSQL takes for it decides between two nodes: of two acquires racing
 * for a free or expired lease, one inserts (or updates) the row and the
 * other, after waiting on that lock, re-checks the condition against the new
 * row and changes nothing. No read-then-write, so no window for both to hold it.
 *
 * Times are the callers' clocks (ms): node clocks must agree to well within
 * the lease lifetime (NTP; keysmith's default lease is 2 minutes).
 */
export class PostgresLeases implements AwaitableMethods<LeaseRepository> {
  constructor(private readonly db: PostgresDatabase) {}

  /** True when `holder` now holds `name` until now + ttlMs: it was free, expired, or already `holder`'s. */
  async acquire(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const { text, values } = bound(TAKE_LEASE_SQL, { ...leaseParams(name, holder, now, ttlMs) });
    return (await this.db.run(text, values)) === 1;
  }

  /** Extends a live lease `holder` holds; false when it ran out or someone else holds it (the caller must stop). */
  async renew(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const { text, values } = bound(RENEW_LEASE_SQL, { ...leaseParams(name, holder, now, ttlMs) });
    return (await this.db.run(text, values)) === 1;
  }

  /** Gives the lease up at once (only if we hold it), so the next holder need not wait for the expiry. */
  async release(name: string, holder: string): Promise<void> {
    const { text, values } = bound(RELEASE_LEASE_SQL, { name, holder });
    await this.db.run(text, values);
  }

  /** Who holds `name` at `now`, if anyone. */
  async holderOf(name: string, now: number): Promise<string | undefined> {
    const { text, values } = bound(LEASE_HOLDER_SQL, { name, now });
    const row = await this.db.row<{ holder: string }>(text, values);
    return row?.holder;
  }
}
