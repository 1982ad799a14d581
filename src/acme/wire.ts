/**
 * ACME wire types (RFC 8555 §7.1): resource URLs, request payload schemas and
 * the JSON each resource is rendered as. Kept apart from the stored records
 * (domain/acme.ts), as Pebble keeps acme/ apart from core/.
 */
import { z } from 'zod';
import type {
  AcmeAccountRecord,
  AcmeAuthorizationRecord,
  AcmeAuthorizationStatus,
  AcmeChallengeRecord,
  AcmeIdentifierRecord,
  AcmeOrderRecord,
  AcmeOrderStatus,
  AcmeStoredProblem,
} from '../domain/acme.js';
import type { AcmeMeta } from './ports.js';

/** Every resource's URL, from one base (paths are stable: clients keep them). */
export class AcmeUrls {
  constructor(readonly base: string) {}
  get directory(): string {
    return `${this.base}/directory`;
  }
  get newNonce(): string {
    return `${this.base}/new-nonce`;
  }
  get newAccount(): string {
    return `${this.base}/new-account`;
  }
  get newOrder(): string {
    return `${this.base}/new-order`;
  }
  get revokeCert(): string {
    return `${this.base}/revoke-cert`;
  }
  get keyChange(): string {
    return `${this.base}/key-change`;
  }
  get renewalInfo(): string {
    return `${this.base}/renewal-info`;
  }
  account(id: string): string {
    return `${this.base}/account/${id}`;
  }
  accountOrders(id: string): string {
    return `${this.base}/account/${id}/orders`;
  }
  order(id: string): string {
    return `${this.base}/order/${id}`;
  }
  finalize(id: string): string {
    return `${this.base}/order/${id}/finalize`;
  }
  authorization(id: string): string {
    return `${this.base}/authz/${id}`;
  }
  challenge(id: string): string {
    return `${this.base}/chall/${id}`;
  }
  certificate(serial: string): string {
    return `${this.base}/cert/${serial}`;
  }
}

// ---------------------------------------------------------------- payloads

const ContactSchema = z.array(z.string().max(320)).max(10);

/** RFC 8555 §7.3; unknown members are ignored, as the RFC asks. */
export const NewAccountSchema = z.object({
  contact: ContactSchema.optional(),
  termsOfServiceAgreed: z.boolean().optional(),
  onlyReturnExisting: z.boolean().optional(),
  externalAccountBinding: z.unknown().optional(),
});

/** RFC 8555 §7.3.2 update, §7.3.6 deactivation. */
export const AccountUpdateSchema = z.object({
  contact: ContactSchema.optional(),
  status: z.string().optional(),
});

/** RFC 8555 §7.3.5: the inner JWS's payload. */
export const KeyChangeSchema = z.object({
  account: z.string().max(2048),
  oldKey: z.record(z.string(), z.unknown()),
});

const Rfc3339 = z.iso.datetime({ offset: true });

/** RFC 8555 §7.4, plus RFC 9773 §5 `replaces`. */
export const NewOrderSchema = z.object({
  identifiers: z.array(z.object({ type: z.string().max(32), value: z.string().max(1024) })).max(1000),
  notBefore: Rfc3339.optional(),
  notAfter: Rfc3339.optional(),
  replaces: z.string().max(512).optional(),
});

export const FinalizeSchema = z.object({
  csr: z
    .string()
    .min(1)
    .max(32 * 1024),
});

/** RFC 8555 §7.5.1: the client says "go" with an empty object. */
export const ChallengeResponseSchema = z.object({});

export const AuthorizationUpdateSchema = z.object({ status: z.literal('deactivated') });

/** RFC 8555 §7.6. */
export const RevocationSchema = z.object({
  certificate: z
    .string()
    .min(1)
    .max(16 * 1024)
    .regex(/^[A-Za-z0-9_-]+$/),
  reason: z.number().int().optional(),
});

// ---------------------------------------------------------------- resources

const time = (ms: number): string => new Date(ms).toISOString();

export function renderDirectory(urls: AcmeUrls, meta: AcmeMeta, isEabRequired: boolean): object {
  return {
    newNonce: urls.newNonce,
    newAccount: urls.newAccount,
    newOrder: urls.newOrder,
    revokeCert: urls.revokeCert,
    keyChange: urls.keyChange,
    renewalInfo: urls.renewalInfo,
    meta: {
      ...(meta.termsOfService === undefined ? {} : { termsOfService: meta.termsOfService }),
      ...(meta.website === undefined ? {} : { website: meta.website }),
      externalAccountRequired: isEabRequired,
    },
  };
}

export function renderAccount(urls: AcmeUrls, account: AcmeAccountRecord): object {
  return {
    status: account.status,
    contact: account.contact,
    orders: urls.accountOrders(account.id),
  };
}

export function renderOrder(urls: AcmeUrls, order: AcmeOrderRecord, status: AcmeOrderStatus): object {
  return {
    status,
    expires: time(order.expiresAt),
    identifiers: order.identifiers,
    ...(order.notBefore === null ? {} : { notBefore: time(order.notBefore) }),
    ...(order.notAfter === null ? {} : { notAfter: time(order.notAfter) }),
    ...(order.error === null ? {} : { error: renderStoredProblem(order.error) }),
    authorizations: order.authorizationIds.map((id) => urls.authorization(id)),
    finalize: urls.finalize(order.id),
    ...(order.certificateSerial === null || status !== 'valid' ? {} : { certificate: urls.certificate(order.certificateSerial) }),
    ...(order.replaces === null ? {} : { replaces: order.replaces }),
  };
}

export type AuthorizationView = AcmeAuthorizationStatus | 'expired';

export function renderAuthorization(urls: AcmeUrls, authz: AcmeAuthorizationRecord, status: AuthorizationView): object {
  return {
    identifier: authz.identifier,
    status,
    expires: time(authz.expiresAt),
    challenges: authz.challenges.map((challenge) => renderChallenge(urls, challenge)),
    ...(authz.isWildcard ? { wildcard: true } : {}),
  };
}

export function renderChallenge(urls: AcmeUrls, challenge: AcmeChallengeRecord): object {
  return {
    type: challenge.type,
    url: urls.challenge(challenge.id),
    status: challenge.status,
    token: challenge.token,
    ...(challenge.validatedAt === null ? {} : { validated: time(challenge.validatedAt) }),
    ...(challenge.error === null ? {} : { error: renderStoredProblem(challenge.error) }),
  };
}

function renderStoredProblem(problem: AcmeStoredProblem): object {
  return { type: problem.type, detail: problem.detail, status: 400 };
}

export function identifierKey(identifier: AcmeIdentifierRecord): string {
  return `${identifier.type}:${identifier.value}`;
}
