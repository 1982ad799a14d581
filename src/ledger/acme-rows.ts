import type {
  AcmeAccountRecord,
  AcmeAccountStatus,
  AcmeAuthorizationRecord,
  AcmeAuthorizationStatus,
  AcmeChallengeRecord,
  AcmeChallengeStatus,
  AcmeChallengeType,
  AcmeEabKeyRecord,
  AcmeIdentifierRecord,
  AcmeOrderRecord,
  AcmeOrderStatus,
  AcmeStoredProblem,
  NewAcmeOrder,
} from '../domain/acme.js';

/**
 * The ACME tables' rows (migrations/0004_acme.sql and its PostgreSQL twin) and
 * their translation to the records src/acme uses, shared by both backends'
 * repositories. The column lists alias to camelCase with quoted names, which
 * both SQLite and PostgreSQL keep as written (PostgreSQL folds unquoted ones).
 */

export interface AccountRow {
  readonly id: string;
  readonly keyThumbprint: string;
  readonly jwk: string;
  readonly status: string;
  readonly contact: string;
  readonly eabKeyId: string | null;
  readonly createdAt: number;
}

export interface EabRow {
  readonly keyId: string;
  readonly hmacKey: Buffer;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly boundAccount: string | null;
  readonly boundAt: number | null;
  readonly revokedAt: number | null;
}

export interface OrderRow {
  readonly id: string;
  readonly accountId: string;
  readonly status: string;
  readonly identifiers: string;
  readonly notBefore: number | null;
  readonly notAfter: number | null;
  readonly expiresAt: number;
  readonly createdAt: number;
  readonly error: string | null;
  readonly certificateSerial: string | null;
  readonly replaces: string | null;
  readonly replacesSerial: string | null;
}

export interface AuthorizationRow {
  readonly id: string;
  readonly accountId: string;
  readonly identifierType: string;
  readonly identifierValue: string;
  readonly isWildcard: number;
  readonly status: string;
  readonly expiresAt: number;
  readonly createdAt: number;
}

export interface ChallengeRow {
  readonly id: string;
  readonly authorizationId: string;
  readonly type: string;
  readonly token: string;
  readonly status: string;
  readonly validatedAt: number | null;
  readonly error: string | null;
}

export const ACCOUNT_COLUMNS = `id, key_thumbprint AS "keyThumbprint", jwk, status, contact, eab_key_id AS "eabKeyId", created_at AS "createdAt"`;
export const EAB_COLUMNS = `key_id AS "keyId", hmac_key AS "hmacKey", created_at AS "createdAt", created_by AS "createdBy",
  bound_account AS "boundAccount", bound_at AS "boundAt", revoked_at AS "revokedAt"`;
export const ORDER_COLUMNS = `id, account_id AS "accountId", status, identifiers, not_before AS "notBefore", not_after AS "notAfter",
  expires_at AS "expiresAt", created_at AS "createdAt", error, certificate_serial AS "certificateSerial",
  replaces, replaces_serial AS "replacesSerial"`;
export const AUTHORIZATION_COLUMNS = `id, account_id AS "accountId", identifier_type AS "identifierType", identifier_value AS "identifierValue",
  is_wildcard AS "isWildcard", status, expires_at AS "expiresAt", created_at AS "createdAt"`;
export const CHALLENGE_COLUMNS = `id, authorization_id AS "authorizationId", type, token, status, validated_at AS "validatedAt", error`;

/** The problem stored on orders of a deactivated account (RFC 8555 §7.3.6). */
export const ACCOUNT_DEACTIVATED_PROBLEM = JSON.stringify({
  type: 'urn:ietf:params:acme:error:unauthorized',
  detail: 'the account was deactivated',
});

/** The problem stored on orders one of whose authorizations was deactivated (RFC 8555 §7.5.2). */
export const AUTHORIZATION_DEACTIVATED_PROBLEM = JSON.stringify({
  type: 'urn:ietf:params:acme:error:unauthorized',
  detail: 'an authorization of this order was deactivated',
});

// ------------------------------------------------------------ row decoding (the CHECK constraints hold the enums)

const ACCOUNT_STATUSES: readonly AcmeAccountStatus[] = ['valid', 'deactivated', 'revoked'];
const ORDER_STATUSES: readonly AcmeOrderStatus[] = ['pending', 'ready', 'processing', 'valid', 'invalid'];
const AUTHORIZATION_STATUSES: readonly AcmeAuthorizationStatus[] = ['pending', 'valid', 'invalid', 'deactivated', 'revoked'];
const CHALLENGE_STATUSES: readonly AcmeChallengeStatus[] = ['pending', 'processing', 'valid', 'invalid'];
const CHALLENGE_TYPES: readonly AcmeChallengeType[] = ['http-01', 'dns-01', 'tls-alpn-01'];

function oneOf<T extends string>(values: readonly T[], value: string, what: string): T {
  const found = values.find((candidate) => candidate === value);
  if (found === undefined) throw new Error(`ledger holds an unknown ${what} '${value}'`);
  return found;
}

export function toEabKey(row: EabRow): AcmeEabKeyRecord {
  return { ...row, hmacKey: new Uint8Array(row.hmacKey) };
}

export function toAccount(row: AccountRow): AcmeAccountRecord {
  return {
    id: row.id,
    keyThumbprint: row.keyThumbprint,
    jwk: row.jwk,
    status: oneOf(ACCOUNT_STATUSES, row.status, 'account status'),
    contact: stringArray(row.contact),
    eabKeyId: row.eabKeyId,
    createdAt: row.createdAt,
  };
}

export function toOrder(row: OrderRow, authorizationIds: readonly string[]): AcmeOrderRecord {
  return {
    id: row.id,
    accountId: row.accountId,
    status: oneOf(ORDER_STATUSES, row.status, 'order status'),
    identifiers: identifierArray(row.identifiers),
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    error: storedProblem(row.error),
    certificateSerial: row.certificateSerial,
    replaces: row.replaces,
    replacesSerial: row.replacesSerial,
    authorizationIds,
  };
}

/**
 * The record of an order just inserted, from what was inserted: both backends
 * answer createOrder with it instead of reading the rows back (the outcome
 * columns start empty; links are the reused authorizations, then the new ones).
 */
export function createdOrder(order: NewAcmeOrder): AcmeOrderRecord {
  return {
    id: order.id,
    accountId: order.accountId,
    status: order.status,
    identifiers: order.identifiers.map((identifier) => ({ type: identifier.type, value: identifier.value })),
    notBefore: order.notBefore,
    notAfter: order.notAfter,
    expiresAt: order.expiresAt,
    createdAt: order.createdAt,
    error: null,
    certificateSerial: null,
    replaces: order.replaces,
    replacesSerial: order.replacesSerial,
    authorizationIds: [...order.reusedAuthorizationIds, ...order.newAuthorizations.map((authz) => authz.id)],
  };
}

export function toAuthorization(row: AuthorizationRow, challenges: readonly AcmeChallengeRecord[]): AcmeAuthorizationRecord {
  return {
    id: row.id,
    accountId: row.accountId,
    identifier: { type: row.identifierType === 'ip' ? 'ip' : 'dns', value: row.identifierValue },
    isWildcard: row.isWildcard === 1,
    status: oneOf(AUTHORIZATION_STATUSES, row.status, 'authorization status'),
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    challenges,
  };
}

export function toChallenge(row: ChallengeRow): AcmeChallengeRecord {
  return {
    id: row.id,
    authorizationId: row.authorizationId,
    type: oneOf(CHALLENGE_TYPES, row.type, 'challenge type'),
    token: row.token,
    status: oneOf(CHALLENGE_STATUSES, row.status, 'challenge status'),
    validatedAt: row.validatedAt,
    error: storedProblem(row.error),
  };
}

function stringArray(json: string): string[] {
  const value: unknown = JSON.parse(json);
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function identifierArray(json: string): AcmeIdentifierRecord[] {
  const value: unknown = JSON.parse(json);
  if (!Array.isArray(value)) throw new Error('ledger holds order identifiers that are not an array');
  return value.map((item: unknown) => {
    if (typeof item !== 'object' || item === null) throw new Error('ledger holds a malformed order identifier');
    const type: unknown = Reflect.get(item, 'type');
    const text: unknown = Reflect.get(item, 'value');
    if ((type !== 'dns' && type !== 'ip') || typeof text !== 'string') throw new Error('ledger holds a malformed order identifier');
    return { type, value: text };
  });
}

function storedProblem(json: string | null): AcmeStoredProblem | null {
  if (json === null) return null;
  const value: unknown = JSON.parse(json);
  if (typeof value !== 'object' || value === null) return null;
  const type: unknown = Reflect.get(value, 'type');
  const detail: unknown = Reflect.get(value, 'detail');
  return {
    type: typeof type === 'string' ? type : 'urn:ietf:params:acme:error:serverInternal',
    detail: typeof detail === 'string' ? detail : '',
  };
}
