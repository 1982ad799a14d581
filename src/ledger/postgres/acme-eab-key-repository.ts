import type { AwaitableMethods } from '../../shared/awaitable.js';
import type { AcmeEabKeyPage, AcmeEabKeyQuery, AcmeEabKeyRecord, AcmeEabKeySummary } from '../../domain/acme.js';
import type { AcmeEabKeyRepository } from '../acme-eab-key-repository.js';
import { EAB_COLUMNS, toEabKey, type EabRow } from '../acme-rows.js';
import { checkEabKeyId, planEabList, REVOKE_EAB_SQL, revokeEabRefusal, SELECT_EAB_SUMMARY_SQL, toEabPage } from '../eab-keys.js';
import { numberNamedParameters } from '../sql-placeholders.js';
import { toPostgresConflict } from './constraint.js';
import type { PostgresDatabase, SqlRunner } from './database.js';

/** External Account Binding keys on PostgreSQL: the methods of the SQLite AcmeEabKeyRepository, asynchronous. */
export class PostgresAcmeEabKeyRepository implements AwaitableMethods<AcmeEabKeyRepository> {
  constructor(private readonly database: PostgresDatabase) {}

  async createEabKey(key: AcmeEabKeyRecord): Promise<void> {
    try {
      await this.database.run('INSERT INTO acme_eab_keys (key_id, hmac_key, created_at, created_by) VALUES ($1, $2, $3, $4)', [
        key.keyId,
        Buffer.from(key.hmacKey),
        key.createdAt,
        key.createdBy,
      ]);
    } catch (error) {
      throw toPostgresConflict(error, () => `EAB key ${key.keyId} exists`);
    }
  }

  findEabKey(keyId: string): Promise<AcmeEabKeyRecord | undefined> {
    return findEabKey(this.database, keyId);
  }

  /** As AcmeEabKeyRepository.listEabKeys. */
  async listEabKeys(query: AcmeEabKeyQuery): Promise<AcmeEabKeyPage> {
    const plan = planEabList(query, 'postgres');
    const { text, values } = numberNamedParameters(plan.sql, plan.params);
    return toEabPage(await this.database.rows<AcmeEabKeySummary>(text, values), plan.limit);
  }

  /** As AcmeEabKeyRepository.revokeEabKey; the UPDATE and a binding's UPDATE (which requires revoked_at IS NULL) serialise on the row. */
  async revokeEabKey(keyId: string, now: number): Promise<AcmeEabKeySummary> {
    checkEabKeyId(keyId);
    const revoke = numberNamedParameters<string | number>(REVOKE_EAB_SQL, { keyId, now });
    const revoked = await this.database.row<AcmeEabKeySummary>(revoke.text, revoke.values);
    if (revoked !== undefined) return revoked;
    const select = numberNamedParameters(SELECT_EAB_SUMMARY_SQL, { keyId });
    throw revokeEabRefusal(keyId, await this.database.row<AcmeEabKeySummary>(select.text, select.values));
  }
}

/** One key, on the pool or inside a transaction (an account's binding reads it in its own). */
export async function findEabKey(db: SqlRunner, keyId: string): Promise<AcmeEabKeyRecord | undefined> {
  const row = await db.row<EabRow>(`SELECT ${EAB_COLUMNS} FROM acme_eab_keys WHERE key_id = $1`, [keyId]);
  return row === undefined ? undefined : toEabKey(row);
}
