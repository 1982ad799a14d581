/**
 * The EAB key listing and revocation (RFC 8555 §7.3.4 keys), shared by the
 * SQLite and PostgreSQL ACME repositories: the SQL (SQLite's `:name`
 * placeholders; PostgreSQL numbers them), the page, and why a revocation
 * changed nothing. A listing never reads hmac_key.
 */
import { EAB_KEY_STATUSES, type AcmeEabKeyQuery, type AcmeEabKeySummary } from '../domain/acme.js';
import { DomainError } from '../shared/errors.js';
import type { SqlDialect } from './certificate-list.js';
import { planCreatedList, toSummaryPage, type CreatedListPlan } from './created-listing.js';

export const EAB_SUMMARY_COLUMNS = `key_id AS "keyId", created_at AS "createdAt", created_by AS "createdBy",
  bound_account AS "boundAccount", bound_at AS "boundAt", revoked_at AS "revokedAt"`;

const MAX_KEY_ID_LENGTH = 256;

function isKeyId(value: string): boolean {
  return value.length >= 1 && value.length <= MAX_KEY_ID_LENGTH;
}

export function checkEabKeyId(keyId: string): void {
  if (typeof keyId !== 'string' || !isKeyId(keyId))
    throw new DomainError('malformed', `an EAB key id is 1 to ${MAX_KEY_ID_LENGTH} characters`);
}

/**
 * Revokes a key not yet revoked, in one statement. A bound key may be revoked
 * too (the record says so); the account it bound is not touched.
 */
export const REVOKE_EAB_SQL = `UPDATE acme_eab_keys SET revoked_at = :now
  WHERE key_id = :keyId AND revoked_at IS NULL RETURNING ${EAB_SUMMARY_COLUMNS}`;

export const SELECT_EAB_SUMMARY_SQL = `SELECT ${EAB_SUMMARY_COLUMNS} FROM acme_eab_keys WHERE key_id = :keyId`;

export function revokeEabRefusal(keyId: string, row: AcmeEabKeySummary | undefined): DomainError {
  if (row === undefined) return new DomainError('notFound', `no EAB key ${keyId}`);
  return new DomainError('conflict', `EAB key ${keyId} is already revoked`);
}

export function planEabList(query: AcmeEabKeyQuery, dialect: SqlDialect): CreatedListPlan {
  const where: string[] = [];
  switch (query.status) {
    case undefined:
      break;
    case 'revoked':
      where.push('revoked_at IS NOT NULL');
      break;
    case 'bound':
      where.push('revoked_at IS NULL', 'bound_account IS NOT NULL');
      break;
    case 'unbound':
      where.push('revoked_at IS NULL', 'bound_account IS NULL');
      break;
    default:
      throw new DomainError('malformed', `status is one of ${EAB_KEY_STATUSES.join(', ')}`);
  }
  return planCreatedList({
    table: 'acme_eab_keys',
    columns: EAB_SUMMARY_COLUMNS,
    idColumn: 'key_id',
    where,
    params: {},
    cursor: query.cursor,
    limit: query.limit,
    dialect,
    isId: isKeyId,
  });
}

export function toEabPage(rows: readonly AcmeEabKeySummary[], limit: number): { items: AcmeEabKeySummary[]; nextCursor: string | null } {
  return toSummaryPage(rows, limit, (item) => item.keyId);
}
