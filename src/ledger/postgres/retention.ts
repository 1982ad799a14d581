import {
  countEligibleSql,
  deleteBatchSql,
  forgetLatestSql,
  isCertificateStep,
  retentionValues,
  type RetentionParams,
  type RetentionStep,
} from '../retention-sql.js';
import type { RetentionStore } from '../retention.js';
import { numberNamedParameters } from '../sql-placeholders.js';
import type { PostgresDatabase, SqlValue } from './database.js';

/** Times are BIGINT; :limit is compared with nothing, so it is cast too. */
const RETENTION_TYPES = { now: 'bigint', cutoff: 'bigint', limit: 'bigint' } as const;

/**
 * Retention on PostgreSQL: the SQLite steps' SQL (retention-sql.ts), each
 * batch one READ COMMITTED transaction. One node runs a pass at a time (the
 * `retention` lease, src/cli/prune.ts); a batch racing a writer only finds
 * fewer rows, since every step deletes rows no request writes any more.
 */
export class PostgresRetention implements RetentionStore {
  constructor(private readonly database: PostgresDatabase) {}

  async pruneBatch(step: RetentionStep, params: RetentionParams): Promise<number> {
    const { text, values } = numberNamedParameters<SqlValue>(
      deleteBatchSql(step, params.keepSerials.length),
      retentionValues(params),
      RETENTION_TYPES,
    );
    return this.database.transaction(async (tx) => {
      const keys = (await tx.rows<{ key: string | number }>(text, values)).map((row) => String(row.key));
      if (isCertificateStep(step) && keys.length > 0) {
        const forget = numberNamedParameters<SqlValue>(
          forgetLatestSql(keys.length),
          Object.fromEntries(keys.map((serial, i) => [`s${i}`, serial])),
        );
        await tx.run(forget.text, forget.values);
      }
      return keys.length;
    });
  }

  async countEligible(step: RetentionStep, params: Omit<RetentionParams, 'limit'>): Promise<number> {
    const named = retentionValues({ ...params, limit: 1 });
    delete named['limit'];
    const { text, values } = numberNamedParameters<SqlValue>(countEligibleSql(step, params.keepSerials.length), named, RETENTION_TYPES);
    const row = await this.database.row<{ n: string | number }>(text, values);
    return Number(row?.n ?? 0);
  }
}
