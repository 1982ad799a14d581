import { checkClusterCheckValue, type RecordedClusterCheck } from '../cluster-check-repository.js';
import type { PostgresDatabase } from './database.js';

/**
 * The cluster secret's check value on PostgreSQL (migrations/postgres/0007),
 * as src/ledger/cluster-check-repository.ts. Two statements, not one: a single
 * INSERT ... ON CONFLICT DO NOTHING with a SELECT in the same statement would
 * read from the statement's snapshot, which misses the row of a node that
 * committed its insert meanwhile (the conflict is seen, the row is not). The
 * SELECT after it takes a new snapshot (READ COMMITTED) and finds whichever row won.
 */
export class PostgresClusterCheckRepository {
  constructor(private readonly database: PostgresDatabase) {}

  async recordOrGet(value: Uint8Array, recordedAt: number): Promise<RecordedClusterCheck> {
    checkClusterCheckValue(value, recordedAt);
    const inserted = await this.database.run(
      "INSERT INTO cluster_key_check (scope, check_value, recorded_at) VALUES ('cluster', $1, $2) ON CONFLICT (scope) DO NOTHING",
      [Buffer.from(value), recordedAt],
    );
    const stored = await this.database.row<{ check_value: Buffer }>(
      "SELECT check_value FROM cluster_key_check WHERE scope = 'cluster'",
      [],
    );
    if (stored === undefined) throw new Error('cluster_key_check holds no row after the insert');
    return { value: new Uint8Array(stored.check_value), isNew: inserted === 1 };
  }
}
