import type { AwaitableMethods } from '../../shared/awaitable.js';
import { DomainError } from '../../shared/errors.js';
import type { AcmeAccountRecord, NewAcmeAccount } from '../../domain/acme.js';
import type { AcmeAccountRepository } from '../acme-account-repository.js';
import { ACCOUNT_COLUMNS, ACCOUNT_DEACTIVATED_PROBLEM, toAccount, type AccountRow } from '../acme-rows.js';
import { findEabKey } from './acme-eab-key-repository.js';
import { toPostgresConflict } from './constraint.js';
import type { PostgresDatabase } from './database.js';

/**
 * ACME accounts on PostgreSQL: the methods of the SQLite
 * AcmeAccountRepository, asynchronous. Each change is one statement or one
 * transaction; the races SQLite settled by serializing writers are settled
 * here by conditional UPDATEs and unique constraints, which PostgreSQL
 * re-checks against the committed row when two nodes collide.
 */
export class PostgresAcmeAccountRepository implements AwaitableMethods<AcmeAccountRepository> {
  constructor(private readonly database: PostgresDatabase) {}

  /**
   * The account and, with an eabKeyId, the binding of that key (RFC 8555
   * §7.3.4), in one transaction. Two nodes binding one key: the second's
   * UPDATE waits for the first's row lock, then finds bound_account set and
   * changes nothing (conflict), or its INSERT meets the UNIQUE eab_key_id.
   */
  async createAccount(account: NewAcmeAccount): Promise<AcmeAccountRecord> {
    try {
      await this.database.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO acme_accounts (id, key_thumbprint, jwk, status, contact, eab_key_id, created_at)
           VALUES ($1, $2, $3, 'valid', $4, $5, $6)`,
          [account.id, account.keyThumbprint, account.jwk, JSON.stringify(account.contact), account.eabKeyId, account.createdAt],
        );
        if (account.eabKeyId === null) return;
        if ((await findEabKey(tx, account.eabKeyId)) === undefined) throw new DomainError('notFound', 'unknown EAB key');
        const bound = await tx.run(
          'UPDATE acme_eab_keys SET bound_account = $1, bound_at = $2 WHERE key_id = $3 AND bound_account IS NULL AND revoked_at IS NULL',
          [account.id, account.createdAt, account.eabKeyId],
        );
        if (bound !== 1) throw new DomainError('conflict', 'the EAB key is already bound to an account');
      });
    } catch (error) {
      throw toPostgresConflict(error, () => 'an account with this key exists');
    }
    const created = await this.findAccount(account.id);
    if (created === undefined) throw new DomainError('notFound', `no ACME account ${account.id}`);
    return created;
  }

  async findAccount(id: string): Promise<AcmeAccountRecord | undefined> {
    const row = await this.database.row<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = $1`, [id]);
    return row === undefined ? undefined : toAccount(row);
  }

  async findAccountByThumbprint(thumbprint: string): Promise<AcmeAccountRecord | undefined> {
    const row = await this.database.row<AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM acme_accounts WHERE key_thumbprint = $1`, [thumbprint]);
    return row === undefined ? undefined : toAccount(row);
  }

  async updateAccountContact(id: string, contact: readonly string[]): Promise<AcmeAccountRecord> {
    const row = await this.database.row<AccountRow>(`UPDATE acme_accounts SET contact = $1 WHERE id = $2 RETURNING ${ACCOUNT_COLUMNS}`, [
      JSON.stringify(contact),
      id,
    ]);
    if (row === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
    return toAccount(row);
  }

  /**
   * RFC 8555 §7.3.6: the account, its live orders and its live authorizations,
   * in one transaction. Rows are locked account, orders, authorizations: the
   * order the other ACME transactions take them in, so they wait, not deadlock.
   */
  deactivateAccount(id: string): Promise<AcmeAccountRecord> {
    return this.database.transaction(async (tx) => {
      const row = await tx.row<AccountRow>(`UPDATE acme_accounts SET status = 'deactivated' WHERE id = $1 RETURNING ${ACCOUNT_COLUMNS}`, [
        id,
      ]);
      if (row === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
      await tx.run(`UPDATE acme_orders SET status = 'invalid', error = $1 WHERE account_id = $2 AND status IN ('pending', 'ready')`, [
        ACCOUNT_DEACTIVATED_PROBLEM,
        id,
      ]);
      await tx.run(`UPDATE acme_authorizations SET status = 'deactivated' WHERE account_id = $1 AND status IN ('pending', 'valid')`, [id]);
      return toAccount(row);
    });
  }

  async changeAccountKey(id: string, jwk: string, thumbprint: string): Promise<AcmeAccountRecord> {
    let row: AccountRow | undefined;
    try {
      row = await this.database.row<AccountRow>(
        `UPDATE acme_accounts SET jwk = $1, key_thumbprint = $2 WHERE id = $3 RETURNING ${ACCOUNT_COLUMNS}`,
        [jwk, thumbprint, id],
      );
    } catch (error) {
      throw toPostgresConflict(error, () => 'another account holds this key');
    }
    if (row === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
    return toAccount(row);
  }
}
