import { DomainError } from '../../shared/errors.js';
import type { AcmeAccountRecord, AcmeEabKeyRecord, NewAcmeAccount } from '../../shared/acme-records.js';
import { ACCOUNT_COLUMNS, ACCOUNT_DEACTIVATED_PROBLEM, EAB_COLUMNS, toAccount, toEabKey, type AccountRow, type EabRow } from '../acme-rows.js';
import { toPostgresConflict } from './constraint.js';
import type { PostgresDatabase, SqlRunner } from './database.js';

/**
 * ACME accounts and External Account Binding keys on PostgreSQL (the
 * accounts half of acme-repository.ts). Each change is one statement or one
 * transaction; the races SQLite settled by serializing writers are settled
 * here by conditional UPDATEs and unique constraints, which PostgreSQL
 * re-checks against the committed row when two nodes collide.
 */

export async function createEabKey(db: SqlRunner, key: AcmeEabKeyRecord): Promise<void> {
  try {
    await db.run('INSERT INTO acme_eab_keys (key_id, hmac_key, created_at, created_by) VALUES ($1, $2, $3, $4)', [
      key.keyId,
      Buffer.from(key.hmacKey),
      key.createdAt,
      key.createdBy,
    ]);
  } catch (error) {
    throw toPostgresConflict(error, () => `EAB key ${key.keyId} exists`);
  }
}

export async function findEabKey(db: SqlRunner, keyId: string): Promise<AcmeEabKeyRecord | undefined> {
  const row = await db.row<EabRow>(`SELECT ${EAB_COLUMNS} FROM acme_eab_keys WHERE key_id = $1`, [keyId]);
  return row === undefined ? undefined : toEabKey(row);
}

/**
 * The account and, with an eabKeyId, the binding of that key (RFC 8555
 * §7.3.4), in one transaction. Two nodes binding one key: the second's
 * UPDATE waits for the first's row lock, then finds bound_account set and
 * changes nothing (conflict), or its INSERT meets the UNIQUE eab_key_id.
 */
export async function createAccount(database: PostgresDatabase, account: NewAcmeAccount): Promise<AcmeAccountRecord> {
  try {
    await database.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO acme_accounts (id, key_thumbprint, jwk, status, contact, eab_key_id, created_at)
         VALUES ($1, $2, $3, 'valid', $4, $5, $6)`,
        [account.id, account.keyThumbprint, account.jwk, JSON.stringify(account.contact), account.eabKeyId, account.createdAt],
      );
      if (account.eabKeyId === null) return;
      if ((await findEabKey(tx, account.eabKeyId)) === undefined) throw new DomainError('notFound', 'unknown EAB key');
      const bound = await tx.run('UPDATE acme_eab_keys SET bound_account = $1, bound_at = $2 WHERE key_id = $3 AND bound_account IS NULL AND revoked_at IS NULL', [
        account.id,
        account.createdAt,
        account.eabKeyId,
      ]);
      if (bound !== 1) throw new DomainError('conflict', 'the EAB key is already bound to an account');
    });
  } catch (error) {
    throw toPostgresConflict(error, () => 'an account with this key exists');
  }
  return mustFindAccount(database, account.id);
}

export async function findAccount(db: SqlRunner, id: string): Promise<AcmeAccountRecord | undefined> {
  const row = await db.row<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = $1`, [id]);
  return row === undefined ? undefined : toAccount(row);
}

export async function findAccountByThumbprint(db: SqlRunner, thumbprint: string): Promise<AcmeAccountRecord | undefined> {
  const row = await db.row<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM acme_accounts WHERE key_thumbprint = $1`, [thumbprint]);
  return row === undefined ? undefined : toAccount(row);
}

export async function updateAccountContact(db: SqlRunner, id: string, contact: readonly string[]): Promise<AcmeAccountRecord> {
  const row = await db.row<AccountRow>(`UPDATE acme_accounts SET contact = $1 WHERE id = $2 RETURNING ${ACCOUNT_COLUMNS}`, [JSON.stringify(contact), id]);
  if (row === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
  return toAccount(row);
}

/**
 * RFC 8555 §7.3.6: the account, its live orders and its live authorizations,
 * in one transaction. Rows are locked account, orders, authorizations: the
 * order the other ACME transactions take them in, so they wait, not deadlock.
 */
export async function deactivateAccount(database: PostgresDatabase, id: string): Promise<AcmeAccountRecord> {
  return database.transaction(async (tx) => {
    const row = await tx.row<AccountRow>(`UPDATE acme_accounts SET status = 'deactivated' WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`, [id]);
    if (row === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
    await tx.run(`UPDATE acme_orders SET status = 'invalid', error = $1 WHERE account_id = $2 AND status IN ('pending', 'ready')`, [
      ACCOUNT_DEACTIVATED_PROBLEM,
      id,
    ]);
    await tx.run(`UPDATE acme_authorizations SET status = 'deactivated' WHERE account_id = $1 AND status IN ('pending', 'valid')`, [id]);
    return toAccount(row);
  });
}

export async function changeAccountKey(db: SqlRunner, id: string, jwk: string, thumbprint: string): Promise<AcmeAccountRecord> {
  let row: AccountRow | undefined;
  try {
    row = await db.row<AccountRow>(`UPDATE acme_accounts SET jwk = $1, key_thumbprint = $2 WHERE id = $3 RETURNING ${ACCOUNT_COLUMNS}`, [
      jwk,
      thumbprint,
      id,
    ]);
  } catch (error) {
    throw toPostgresConflict(error, () => 'another account holds this key');
  }
  if (row === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
  return toAccount(row);
}

async function mustFindAccount(db: SqlRunner, id: string): Promise<AcmeAccountRecord> {
  const account = await findAccount(db, id);
  if (account === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
  return account;
}
