/**
 * ACME problem documents (RFC 8555 §6.7, RFC 7807): one error type inside
 * src/acme, one table from DomainError kinds, one function that renders a
 * response (Boulder's probs.go + web/probs.go). Internal detail never leaves.
 */
import { isDomainError, type DomainErrorKind } from '../shared/errors.js';
import type { AcmeIdentifierRecord } from '../domain/acme.js';

export const ACME_ERROR_PREFIX = 'urn:ietf:params:acme:error:';

/** RFC 8555 §6.7 (plus alreadyReplaced from RFC 9773 §7.4). */
export type AcmeErrorType =
  | 'accountDoesNotExist'
  | 'alreadyReplaced'
  | 'alreadyRevoked'
  | 'badCSR'
  | 'badNonce'
  | 'badPublicKey'
  | 'badRevocationReason'
  | 'badSignatureAlgorithm'
  | 'compound'
  | 'externalAccountRequired'
  | 'invalidContact'
  | 'malformed'
  | 'orderNotReady'
  | 'rateLimited'
  | 'rejectedIdentifier'
  | 'serverInternal'
  | 'unauthorized'
  | 'unsupportedContact'
  | 'unsupportedIdentifier';

export interface Subproblem {
  readonly type: AcmeErrorType;
  readonly detail: string;
  readonly identifier: AcmeIdentifierRecord;
}

export interface AcmeProblemOptions {
  readonly status?: number;
  readonly subproblems?: readonly Subproblem[];
  readonly retryAfterSeconds?: number;
  /** Extra members of the problem document (e.g. `algorithms` for badSignatureAlgorithm). */
  readonly extra?: Readonly<Record<string, unknown>>;
  /** Extra response headers (e.g. the Location of the account holding a key, RFC 8555 §7.3.5). */
  readonly headers?: Readonly<Record<string, string>>;
  readonly cause?: unknown;
}

const DEFAULT_STATUS: { readonly [K in AcmeErrorType]: number } = {
  accountDoesNotExist: 400,
  alreadyReplaced: 409,
  alreadyRevoked: 400,
  badCSR: 400,
  badNonce: 400,
  badPublicKey: 400,
  badRevocationReason: 400,
  badSignatureAlgorithm: 400,
  compound: 400,
  externalAccountRequired: 400,
  invalidContact: 400,
  malformed: 400,
  orderNotReady: 403,
  rateLimited: 429,
  rejectedIdentifier: 400,
  serverInternal: 500,
  unauthorized: 403,
  unsupportedContact: 400,
  unsupportedIdentifier: 400,
};

export class AcmeProblemError extends Error {
  readonly type: AcmeErrorType;
  readonly detail: string;
  readonly status: number;
  readonly options: AcmeProblemOptions;

  constructor(type: AcmeErrorType, detail: string, options: AcmeProblemOptions = {}) {
    super(`${type}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AcmeProblemError';
    this.type = type;
    this.detail = detail;
    this.status = options.status ?? DEFAULT_STATUS[type];
    this.options = options;
  }
}

/** The STYLE §4 table, ACME column. notFound and conflict reuse malformed with 404 and 409, as Boulder does. */
const FROM_DOMAIN: { readonly [K in DomainErrorKind]: { readonly type: AcmeErrorType; readonly status: number } } = {
  malformed: { type: 'malformed', status: 400 },
  notFound: { type: 'malformed', status: 404 },
  conflict: { type: 'malformed', status: 409 },
  unauthorized: { type: 'unauthorized', status: 403 },
  forbidden: { type: 'unauthorized', status: 403 },
  badCSR: { type: 'badCSR', status: 400 },
  rejectedIdentifier: { type: 'rejectedIdentifier', status: 400 },
  rateLimited: { type: 'rateLimited', status: 429 },
  // RFC 8555 §6.7 has no "unavailable" type; serverInternal with 503 and Retry-After (RFC 9110 §15.6.4) says "try again".
  unavailable: { type: 'serverInternal', status: 503 },
  // Likewise at capacity (a full crypto queue, a worker replaced): the closest §6.7 type, with 503 and Retry-After.
  busy: { type: 'serverInternal', status: 503 },
  internal: { type: 'serverInternal', status: 500 },
};

/** Any thrown value as an ACME problem; `undefined` means internal (the caller logs it). */
export function toAcmeProblem(error: unknown): AcmeProblemError | undefined {
  if (error instanceof AcmeProblemError) return error.type === 'serverInternal' ? undefined : error;
  if (isDomainError(error) && error.kind !== 'internal') {
    const mapped = FROM_DOMAIN[error.kind];
    return new AcmeProblemError(mapped.type, error.detail, {
      status: mapped.status,
      ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
    });
  }
  return undefined;
}

export interface ProblemDocument {
  readonly type: string;
  readonly detail: string;
  readonly status: number;
  readonly subproblems?: readonly { readonly type: string; readonly detail: string; readonly identifier: AcmeIdentifierRecord }[];
  readonly [extra: string]: unknown;
}

export function problemDocument(problem: AcmeProblemError): ProblemDocument {
  const subproblems = problem.options.subproblems;
  return {
    ...(problem.options.extra ?? {}),
    type: ACME_ERROR_PREFIX + problem.type,
    detail: problem.detail,
    status: problem.status,
    ...(subproblems === undefined || subproblems.length === 0
      ? {}
      : { subproblems: subproblems.map((s) => ({ type: ACME_ERROR_PREFIX + s.type, detail: s.detail, identifier: s.identifier })) }),
  };
}

export const INTERNAL_PROBLEM = new AcmeProblemError('serverInternal', 'internal error; the request was not completed');
