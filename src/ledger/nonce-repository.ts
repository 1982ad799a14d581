import type Database from 'better-sqlite3';
import { checkPrune, checkSpend } from './nonce-rows.js';

/**
 * The spent ACME nonces (migrations/0007, acme_spent_nonces). Nonces are
 * minted without a write (src/acme/nonces.ts: a MAC under the cluster key
 * proves them ours and carries their expiry); spending one is one INSERT, and
 * the primary key makes a second spend of the same id, from any process on
 * this file, change nothing: that is the replay. Rows go once expired.
 *
 * Not a durable (synchronous=FULL) write: a spend lost to a power cut could at
 * worst let one captured, still-unexpired request replay, and nothing it hands
 * out depends on it; an fsync per ACME request would cost more than that risk.
 */
export class NonceRepository {
  private spendStatement: Database.Statement<[string, number]> | undefined;
  private pruneStatement: Database.Statement<[number, number]> | undefined;

  constructor(private readonly db: Database.Database) {}

  /**
   * Records `nonceId` as spent until `expiresAt`. True the first time (a fresh
   * nonce); false when it was spent before (a replay), or has expired at `now`
   * (nothing is written then).
   */
  spend(nonceId: string, expiresAt: number, now: number): boolean {
    checkSpend(nonceId, expiresAt, now);
    // expiresAt is the first instant at which the nonce no longer works.
    if (now >= expiresAt) return false;
    this.spendStatement ??= this.db.prepare<[string, number]>(
      'INSERT INTO acme_spent_nonces (nonce_id, expires_at) VALUES (?, ?) ON CONFLICT (nonce_id) DO NOTHING',
    );
    return this.spendStatement.run(nonceId, expiresAt).changes === 1;
  }

  /** Deletes up to `limit` rows expired at `now` (expires_at <= now), oldest first; returns how many went. */
  pruneExpired(now: number, limit: number): number {
    checkPrune(now, limit);
    this.pruneStatement ??= this.db.prepare<[number, number]>(
      `DELETE FROM acme_spent_nonces WHERE nonce_id IN
         (SELECT nonce_id FROM acme_spent_nonces WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
    );
    return this.pruneStatement.run(now, limit).changes;
  }
}
