import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { checkTime } from './certificate-rows.js';
import { DurableWrites } from './connection.js';

export interface LeaseParams {
  readonly name: string;
  readonly holder: string;
  readonly now: number;
  readonly expiresAt: number;
}

/**
 * The lease statements, one text for both backends (`:name` placeholders, as
 * better-sqlite3 binds them; postgres/leases.ts numbers them for PostgreSQL).
 * Each is one conditional statement, so the database's row lock decides a race.
 */
export const TAKE_LEASE_SQL = `
  INSERT INTO leases (name, holder, expires_at) VALUES (:name, :holder, :expiresAt)
  ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
   WHERE leases.expires_at <= :now OR leases.holder = excluded.holder`;
export const RENEW_LEASE_SQL = 'UPDATE leases SET expires_at = :expiresAt WHERE name = :name AND holder = :holder AND expires_at > :now';
export const RELEASE_LEASE_SQL = 'DELETE FROM leases WHERE name = :name AND holder = :holder';
export const LEASE_HOLDER_SQL = 'SELECT holder FROM leases WHERE name = :name AND expires_at > :now';

/**
 * Named leases in the ledger (the `leases` table): with several keysmith
 * processes on one ledger, only the holder of a live lease does the work
 * it guards. A lease is taken when it is free, expired or already ours, and
 * renewed before it runs out; the expiry bounds how long a crashed holder
 * blocks the others. Statements are prepared on first use, so a ledger
 * opened at an older schema version (migration tests) still constructs.
 *
 * Fencing: the holder string is the token. Callers mint one per acquisition
 * (src/alerts HeldLease: `host:pid:random#n`), so renew and release, which
 * compare it, only ever touch the acquisition that made the row; a holder
 * whose lease ran out cannot renew it back even if nobody has taken it yet
 * (someone may have taken and released it meanwhile: its work may overlap).
 */
export class LeaseRepository {
  private readonly durable: DurableWrites;
  private takeStatement: Database.Statement<[LeaseParams]> | undefined;
  private renewStatement: Database.Statement<[LeaseParams]> | undefined;
  private releaseStatement: Database.Statement<[{ name: string; holder: string }]> | undefined;
  private holderStatement: Database.Statement<[{ name: string; now: number }], string> | undefined;

  constructor(private readonly db: Database.Database) {
    this.durable = new DurableWrites(db);
  }

  /** True when `holder` now holds `name` until now + ttlMs. Durable: a lease lost to a power cut could let two run. */
  acquire(name: string, holder: string, now: number, ttlMs: number): boolean {
    const params = leaseParams(name, holder, now, ttlMs);
    this.takeStatement ??= this.db.prepare<[LeaseParams]>(TAKE_LEASE_SQL);
    const take = this.takeStatement;
    return this.durable.run(this.db.transaction(() => take.run(params).changes === 1));
  }

  /** Extends a live lease `holder` holds; false when it ran out or someone else holds it (the caller must stop). */
  renew(name: string, holder: string, now: number, ttlMs: number): boolean {
    const params = leaseParams(name, holder, now, ttlMs);
    this.renewStatement ??= this.db.prepare<[LeaseParams]>(RENEW_LEASE_SQL);
    const renew = this.renewStatement;
    return this.durable.run(this.db.transaction(() => renew.run(params).changes === 1));
  }

  /** Gives the lease up at once (only if we hold it), so the next holder need not wait for the expiry. */
  release(name: string, holder: string): void {
    this.releaseStatement ??= this.db.prepare<[{ name: string; holder: string }]>(RELEASE_LEASE_SQL);
    this.releaseStatement.run({ name, holder });
  }

  /** Who holds `name` at `now`, if anyone. */
  holderOf(name: string, now: number): string | undefined {
    this.holderStatement ??= this.db.prepare<[{ name: string; now: number }], string>(LEASE_HOLDER_SQL).pluck();
    return this.holderStatement.get({ name, now });
  }
}

/** A lease request's values, checked; shared with the PostgreSQL leases (postgres/leases.ts). */
export function leaseParams(name: string, holder: string, now: number, ttlMs: number): LeaseParams {
  if (name === '' || holder === '') throw new DomainError('malformed', 'a lease has a name and a holder');
  checkTime(now, 'now');
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new DomainError('malformed', 'a lease lasts a positive number of milliseconds');
  return { name, holder, now, expiresAt: now + ttlMs };
}
