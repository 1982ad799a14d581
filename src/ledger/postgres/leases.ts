import type { AwaitableMethods } from '../../shared/awaitable.js';
import { leaseParams, type LeaseRepository } from '../alert-leases.js';
import type { PostgresDatabase } from './database.js';

/**
 * Named leases on PostgreSQL: the SQLite LeaseRepository's semantics (see
 * there for fencing by holder token), for several nodes on one database.
 * Each operation is one conditional statement, so the row lock PostgreSQL
 * takes for it decides between two nodes: of two acquires racing for a free
 * or expired lease, one inserts (or updates) the row and the other, after
 * waiting on that lock, re-checks the condition against the new row and
 * changes nothing. No read-then-write, so no window for both to hold it.
 *
 * Times are the callers' clocks (ms): node clocks must agree to well within
 * the lease lifetime (NTP; keysmith's default lease is 2 minutes).
 */
export class PostgresLeases implements AwaitableMethods<LeaseRepository> {
  constructor(private readonly db: PostgresDatabase) {}

  /** True when `holder` now holds `name` until now + ttlMs: it was free, expired, or already `holder`'s. */
  async acquire(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const params = leaseParams(name, holder, now, ttlMs);
    const changed = await this.db.run(
      `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3::bigint)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
        WHERE leases.expires_at <= $4::bigint OR leases.holder = excluded.holder`,
      [params.name, params.holder, params.expiresAt, params.now],
    );
    return changed === 1;
  }

  /** Extends a live lease `holder` holds; false when it ran out or someone else holds it (the caller must stop). */
  async renew(name: string, holder: string, now: number, ttlMs: number): Promise<boolean> {
    const params = leaseParams(name, holder, now, ttlMs);
    const changed = await this.db.run(
      'UPDATE leases SET expires_at = $1::bigint WHERE name = $2 AND holder = $3 AND expires_at > $4::bigint',
      [params.expiresAt, params.name, params.holder, params.now],
    );
    return changed === 1;
  }

  /** Gives the lease up at once (only if we hold it), so the next holder need not wait for the expiry. */
  async release(name: string, holder: string): Promise<void> {
    await this.db.run('DELETE FROM leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  /** Who holds `name` at `now`, if anyone. */
  async holderOf(name: string, now: number): Promise<string | undefined> {
    const row = await this.db.row<{ holder: string }>('SELECT holder FROM leases WHERE name = $1 AND expires_at > $2::bigint', [name, now]);
    return row?.holder;
  }
}
