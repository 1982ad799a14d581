import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import type { AcmeAccountRecord, NewAcmeAccount } from '../domain/acme.js';
import { ACCOUNT_COLUMNS, ACCOUNT_DEACTIVATED_PROBLEM, EAB_COLUMNS, toAccount, type AccountRow, type EabRow } from './acme-rows.js';
import { toConflict } from './connection.js';

/**
 * ACME accounts (RFC 8555 §7.3, migrations/0004): creation with its EAB
 * binding, contact and key changes, deactivation. Every write is one
 * IMMEDIATE transaction, so a state change is whole or absent.
 */
export class AcmeAccountRepository {
  private preparedStatements: AccountStatements | undefined;
  private readonly createAccountTx: Database.Transaction<(account: NewAcmeAccount) => void>;
  private readonly deactivateAccountTx: Database.Transaction<(id: string) => void>;

  constructor(private readonly db: Database.Database) {
    this.createAccountTx = db.transaction((account: NewAcmeAccount): void => {
      const statements = this.statements;
      statements.insertAccount.run(
        account.id,
        account.keyThumbprint,
        account.jwk,
        JSON.stringify(account.contact),
        account.eabKeyId,
        account.createdAt,
      );
      if (account.eabKeyId !== null) {
        if (statements.selectEab.get(account.eabKeyId) === undefined) throw new DomainError('notFound', 'unknown EAB key');
        const bound = statements.bindEab.run(account.id, account.createdAt, account.eabKeyId);
        if (bound.changes !== 1) throw new DomainError('conflict', 'the EAB key is already bound to an account');
      }
    });

    // RFC 8555 §7.3.6: the account, its live orders and its live authorizations together.
    this.deactivateAccountTx = db.transaction((id: string): void => {
      const statements = this.statements;
      if (statements.updateAccountStatus.run('deactivated', id).changes !== 1) throw new DomainError('notFound', `no ACME account ${id}`);
      statements.invalidateAccountOrders.run(ACCOUNT_DEACTIVATED_PROBLEM, id);
      statements.deactivateAccountAuthorizations.run(id);
    });
  }

  /** Prepared on first use, so a ledger opened at an older schema version (before 0004) still opens. */
  private get statements(): AccountStatements {
    return (this.preparedStatements ??= prepareAccountStatements(this.db));
  }

  createAccount(account: NewAcmeAccount): AcmeAccountRecord {
    try {
      this.createAccountTx.immediate(account);
    } catch (error) {
      throw toConflict(error, () => 'an account with this key exists');
    }
    return this.mustFindAccount(account.id);
  }

  findAccount(id: string): AcmeAccountRecord | undefined {
    const row = this.statements.selectAccount.get(id);
    return row === undefined ? undefined : toAccount(row);
  }

  findAccountByThumbprint(thumbprint: string): AcmeAccountRecord | undefined {
    const row = this.statements.selectAccountByThumbprint.get(thumbprint);
    return row === undefined ? undefined : toAccount(row);
  }

  updateAccountContact(id: string, contact: readonly string[]): AcmeAccountRecord {
    if (this.statements.updateContact.run(JSON.stringify(contact), id).changes !== 1)
      throw new DomainError('notFound', `no ACME account ${id}`);
    return this.mustFindAccount(id);
  }

  deactivateAccount(id: string): AcmeAccountRecord {
    this.deactivateAccountTx.immediate(id);
    return this.mustFindAccount(id);
  }

  changeAccountKey(id: string, jwk: string, thumbprint: string): AcmeAccountRecord {
    try {
      if (this.statements.updateKey.run(jwk, thumbprint, id).changes !== 1) throw new DomainError('notFound', `no ACME account ${id}`);
    } catch (error) {
      throw toConflict(error, () => 'another account holds this key');
    }
    return this.mustFindAccount(id);
  }

  private mustFindAccount(id: string): AcmeAccountRecord {
    const account = this.findAccount(id);
    if (account === undefined) throw new DomainError('notFound', `no ACME account ${id}`);
    return account;
  }
}

function prepareAccountStatements(db: Database.Database) {
  return {
    selectEab: db.prepare<[string], EabRow>(`SELECT ${EAB_COLUMNS} FROM acme_eab_keys WHERE key_id = ?`),
    bindEab: db.prepare<[string, number, string]>(
      'UPDATE acme_eab_keys SET bound_account = ?, bound_at = ? WHERE key_id = ? AND bound_account IS NULL AND revoked_at IS NULL',
    ),
    insertAccount: db.prepare<[string, string, string, string, string | null, number]>(
      `INSERT INTO acme_accounts (id, key_thumbprint, jwk, status, contact, eab_key_id, created_at)
       VALUES (?, ?, ?, 'valid', ?, ?, ?)`,
    ),
    selectAccount: db.prepare<[string], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM acme_accounts WHERE id = ?`),
    selectAccountByThumbprint: db.prepare<[string], AccountRow>(`SELECT ${ACCOUNT_COLUMNS} FROM acme_accounts WHERE key_thumbprint = ?`),
    updateContact: db.prepare<[string, string]>('UPDATE acme_accounts SET contact = ? WHERE id = ?'),
    updateAccountStatus: db.prepare<[string, string]>('UPDATE acme_accounts SET status = ? WHERE id = ?'),
    updateKey: db.prepare<[string, string, string]>('UPDATE acme_accounts SET jwk = ?, key_thumbprint = ? WHERE id = ?'),
    invalidateAccountOrders: db.prepare<[string, string]>(
      `UPDATE acme_orders SET status = 'invalid', error = ? WHERE account_id = ? AND status IN ('pending', 'ready')`,
    ),
    deactivateAccountAuthorizations: db.prepare<[string]>(
      `UPDATE acme_authorizations SET status = 'deactivated' WHERE account_id = ? AND status IN ('pending', 'valid')`,
    ),
  } as const;
}

type AccountStatements = ReturnType<typeof prepareAccountStatements>;
