import type { PostgresDatabase } from './database.js';

/**
 * Session-level advisory locks (PostgreSQL §13.3.5) on a dedicated
 * connection, held for one piece of work across nodes: the lock goes when
 * the work settles, or with the connection if this process dies.
 */

/** pg_advisory_lock key for creating the CA: 'ks-ca-in' as ASCII; only CA initialisation takes it. */
export const CA_INIT_LOCK_KEY = 0x6b73_2d63_612d_696en;

export class AdvisoryLock {
  constructor(
    private readonly database: PostgresDatabase,
    private readonly key: bigint,
  ) {}

  /** Runs `work` while this node holds the lock; waits for another holder to finish first. */
  async exclusive<T>(work: () => Promise<T>): Promise<T> {
    const client = await this.database.dedicatedClient();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [this.key.toString()]);
      try {
        return await work();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [this.key.toString()]).catch(() => undefined);
      }
    } finally {
      await client.end();
    }
  }
}
