import { checkPrune, checkSpend } from '../nonce-rows.js';
import type { PostgresDatabase } from './database.js';

/**
 * The spent ACME nonces on PostgreSQL: the same contract as the SQLite
 * NonceRepository (src/ledger/nonce-repository.ts). One INSERT per spend,
 * committed on its own; the primary key decides between two nodes spending
 * the same nonce at the same moment: exactly one insert affects a row.
 */
export class PostgresNonceRepository {
  constructor(private readonly database: PostgresDatabase) {}

  async spend(nonceId: string, expiresAt: number, now: number): Promise<boolean> {
    checkSpend(nonceId, expiresAt, now);
    if (now >= expiresAt) return false;
    const inserted = await this.database.run(
      'INSERT INTO acme_spent_nonces (nonce_id, expires_at) VALUES ($1, $2) ON CONFLICT (nonce_id) DO NOTHING',
      [nonceId, expiresAt],
    );
    return inserted === 1;
  }

  /**
   * Deletes up to `limit` expired rows. Every node prunes; SKIP LOCKED lets
   * two nodes pruning at once take different rows instead of waiting on each other.
   */
  async pruneExpired(now: number, limit: number): Promise<number> {
    checkPrune(now, limit);
    return this.database.run(
      `DELETE FROM acme_spent_nonces WHERE nonce_id IN
         (SELECT nonce_id FROM acme_spent_nonces WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [now, limit],
    );
  }
}
