import { createHash, randomBytes } from 'node:crypto';
import type { OpenedLedger } from '../../../../src/ledger/index.js';
import type {
  AcmeChallengeType,
  AcmeIdentifierRecord,
  NewAcmeAccount,
  NewAcmeAuthorization,
  NewAcmeOrder,
} from '../../../../src/domain/acme.js';
import { HOUR, makeRecord, NOW } from '../ledger-fixtures.js';

/** Records for the ACME repository contract tests: unique ids per call, valid for the CHECK constraints. */

export const DAY = 24 * HOUR;

/** A clock the test moves; the ledger reads finalize times from it. */
export class TestClock {
  constructor(public time: number = NOW) {}
  now(): number {
    return this.time;
  }
}

export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('base64url')}`;
}

/** 43 base64url characters, as an RFC 7638 SHA-256 thumbprint is. */
export function thumbprint(): string {
  return createHash('sha256').update(randomBytes(16)).digest('base64url');
}

export function newAccount(overrides: Partial<NewAcmeAccount> = {}): NewAcmeAccount {
  return {
    id: uniqueId('acct'),
    keyThumbprint: thumbprint(),
    jwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y' }),
    contact: ['mailto:ops@example.test'],
    eabKeyId: null,
    createdAt: NOW,
    ...overrides,
  };
}

export function newAuthorization(
  accountId: string,
  value: string,
  types: readonly AcmeChallengeType[] = ['http-01', 'dns-01', 'tls-alpn-01'],
  overrides: Partial<NewAcmeAuthorization> = {},
): NewAcmeAuthorization {
  const id = uniqueId('authz');
  return {
    id,
    accountId,
    identifier: { type: 'dns', value },
    isWildcard: false,
    expiresAt: NOW + DAY,
    createdAt: NOW,
    challenges: types.map((type) => ({ id: uniqueId('chall'), authorizationId: id, type, token: randomBytes(32).toString('base64url') })),
    ...overrides,
  };
}

export function newOrder(accountId: string, fresh: readonly NewAcmeAuthorization[], overrides: Partial<NewAcmeOrder> = {}): NewAcmeOrder {
  const identifiers: AcmeIdentifierRecord[] = fresh.map((authz) => ({
    type: authz.identifier.type,
    value: authz.isWildcard ? `*.${authz.identifier.value}` : authz.identifier.value,
  }));
  return {
    id: uniqueId('order'),
    accountId,
    status: fresh.length === 0 ? 'ready' : 'pending',
    identifiers,
    notBefore: null,
    notAfter: null,
    expiresAt: NOW + 7 * DAY,
    createdAt: NOW,
    replaces: null,
    replacesSerial: null,
    newAuthorizations: fresh,
    reusedAuthorizationIds: [],
    ...overrides,
  };
}

/** A certificate for orders to point at (acme_orders references certificates), recorded by the ledger's certificate repository. */
export async function recordCertificate(opened: OpenedLedger, requester: string): Promise<string> {
  const record = makeRecord({ profile: 'tls-server', requester, spiffeId: null, sans: [{ type: 'dns', value: 'www.example.test' }] });
  await opened.ledger.certificates.recordIssued(record);
  return record.serial;
}
