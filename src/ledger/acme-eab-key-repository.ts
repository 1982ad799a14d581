import type Database from 'better-sqlite3';
import type { AcmeEabKeyPage, AcmeEabKeyQuery, AcmeEabKeyRecord, AcmeEabKeySummary } from '../domain/acme.js';
import { EAB_COLUMNS, toEabKey, type EabRow } from './acme-rows.js';
import { toConflict } from './connection.js';
import { checkEabKeyId, planEabList, REVOKE_EAB_SQL, revokeEabRefusal, SELECT_EAB_SUMMARY_SQL, toEabPage } from './eab-keys.js';

type EabParams = Record<string, string | number>;

/**
 * External Account Binding keys (RFC 8555 §7.3.4, migrations/0004): what an
 * operator creates, lists and revokes. Binding a key to an account happens
 * in the account's own transaction (acme-account-repository.ts).
 */
export class AcmeEabKeyRepository {
  private preparedStatements: ReturnType<typeof prepareEabStatements> | undefined;

  constructor(private readonly db: Database.Database) {}

  /** Prepared on first use, so a ledger opened at an older schema version (before 0004) still opens. */
  private get statements(): ReturnType<typeof prepareEabStatements> {
    return (this.preparedStatements ??= prepareEabStatements(this.db));
  }

  createEabKey(key: AcmeEabKeyRecord): void {
    try {
      this.statements.insertEab.run(key.keyId, Buffer.from(key.hmacKey), key.createdAt, key.createdBy);
    } catch (error) {
      throw toConflict(error, () => `EAB key ${key.keyId} exists`);
    }
  }

  findEabKey(keyId: string): AcmeEabKeyRecord | undefined {
    const row = this.statements.selectEab.get(keyId);
    return row === undefined ? undefined : toEabKey(row);
  }

  /** One page of EAB keys in creation order, without their HMAC keys (eab-keys.ts). */
  listEabKeys(query: AcmeEabKeyQuery): AcmeEabKeyPage {
    const plan = planEabList(query, 'sqlite');
    return toEabPage(this.db.prepare<[EabParams], AcmeEabKeySummary>(plan.sql).all(plan.params), plan.limit);
  }

  /** Revokes a key: it binds no new account. 'notFound' for an unknown id, 'conflict' when already revoked. */
  revokeEabKey(keyId: string, now: number): AcmeEabKeySummary {
    checkEabKeyId(keyId);
    const revoked = this.db.prepare<[EabParams], AcmeEabKeySummary>(REVOKE_EAB_SQL).get({ keyId, now });
    if (revoked !== undefined) return revoked;
    throw revokeEabRefusal(keyId, this.db.prepare<[EabParams], AcmeEabKeySummary>(SELECT_EAB_SUMMARY_SQL).get({ keyId }));
  }
}

function prepareEabStatements(db: Database.Database) {
  return {
    insertEab: db.prepare<[string, Buffer, number, string]>(
      'INSERT INTO acme_eab_keys (key_id, hmac_key, created_at, created_by) VALUES (?, ?, ?, ?)',
    ),
    selectEab: db.prepare<[string], EabRow>(`SELECT ${EAB_COLUMNS} FROM acme_eab_keys WHERE key_id = ?`),
  } as const;
}
