/**
 * RFC 9457 problem documents: the one translation from internal errors to
 * HTTP for keysmith's own REST routes (after Boulder's web/probs.go). The
 * kind is chosen where a failure is detected; this file only looks it up.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, ResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isDomainError, type DomainErrorKind } from '../shared/errors.js';

/** DomainError kinds plus the refusals only the HTTP edge can detect. */
export type ProblemKind =
  | DomainErrorKind
  | 'certificateRequired'
  | 'certificateRevoked'
  | 'certificateUnknown'
  | 'certificateExpired'
  | 'payloadTooLarge'
  | 'unsupportedMediaType'
  | 'tooEarly';

interface ProblemType {
  /** Last segment of the type URI. */
  readonly slug: string;
  readonly status: number;
  readonly title: string;
}

export const PROBLEM_TYPE_BASE = 'https://keysmith.dev/problems/';
export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';

/** The mapping table (STYLE §4, "SVID REST" column); a Record so a new kind cannot be forgotten. */
export const PROBLEM_TYPES: { readonly [K in ProblemKind]: ProblemType } = {
  malformed: { slug: 'malformed', status: 400, title: 'Malformed request' },
  notFound: { slug: 'not-found', status: 404, title: 'Not found' },
  conflict: { slug: 'conflict', status: 409, title: 'Conflict' },
  unauthorized: { slug: 'unauthorized', status: 403, title: 'Not authorized' },
  forbidden: { slug: 'forbidden', status: 403, title: 'Forbidden' },
  badCSR: { slug: 'bad-csr', status: 400, title: 'Bad certificate signing request' },
  rejectedIdentifier: { slug: 'rejected-identifier', status: 403, title: 'Identifier rejected by policy' },
  rateLimited: { slug: 'rate-limited', status: 429, title: 'Too many requests' },
  unavailable: { slug: 'database-unavailable', status: 503, title: 'The ledger database is unavailable' },
  busy: { slug: 'service-busy', status: 503, title: 'The service is busy; retry shortly' },
  internal: { slug: 'internal', status: 500, title: 'Internal server error' },
  certificateRequired: { slug: 'certificate-required', status: 401, title: 'Client certificate required' },
  certificateRevoked: { slug: 'certificate-revoked', status: 403, title: 'Client certificate revoked' },
  certificateUnknown: { slug: 'certificate-unknown', status: 403, title: 'Client certificate unknown' },
  certificateExpired: { slug: 'certificate-expired', status: 403, title: 'Client certificate expired' },
  payloadTooLarge: { slug: 'payload-too-large', status: 413, title: 'Payload too large' },
  unsupportedMediaType: { slug: 'unsupported-media-type', status: 415, title: 'Unsupported media type' },
  // RFC 8470 §5.2: the request arrived in TLS early data and is not safe to serve from it.
  tooEarly: { slug: 'too-early', status: 425, title: 'Too early' },
};

export const ProblemSchema = z
  .object({
    type: z.string().describe('A URI naming the problem type: https://keysmith.dev/problems/<kind>, or about:blank'),
    title: z.string().describe('Short summary of the problem type'),
    status: z.number().int().min(400).max(599),
    detail: z.string().describe('What went wrong with this request'),
    instance: z.string().optional().describe('The request path'),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem document (application/problem+json)' });
export type ProblemDocument = z.infer<typeof ProblemSchema>;

/** A refusal decided at the HTTP edge (authentication, access policy), rendered by the error handler. */
export class ProblemError extends Error {
  constructor(
    readonly kind: ProblemKind,
    readonly detail: string,
  ) {
    super(`${kind}: ${detail}`);
    this.name = 'ProblemError';
  }
}

export function problemOf(kind: ProblemKind, detail: string, instance?: string): ProblemDocument {
  const type = PROBLEM_TYPES[kind];
  return {
    type: PROBLEM_TYPE_BASE + type.slug,
    title: type.title,
    status: type.status,
    detail,
    ...(instance === undefined ? {} : { instance }),
  };
}

/** Sends a problem already serialized, so nothing in the error path can fail a second time on a schema. */
export function sendProblem(reply: FastifyReply, problem: ProblemDocument, retryAfterSeconds?: number): FastifyReply {
  if (retryAfterSeconds !== undefined) reply.header('retry-after', String(Math.max(0, Math.ceil(retryAfterSeconds))));
  return reply.code(problem.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem));
}

interface ProblemResponse {
  readonly description: string;
  readonly content: { readonly 'application/problem+json': { readonly schema: typeof ProblemSchema } };
}

/** Documents the problem responses a route can produce, for its `schema.response`. */
export function problemResponses(...statuses: readonly number[]): Record<number, ProblemResponse> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem', content: { 'application/problem+json': { schema: ProblemSchema } } },
    ]),
  );
}

/** What each problem status means, as the OpenAPI document describes it. */
export const PROBLEM_DESCRIPTIONS: Readonly<Record<number, string>> = {
  400: 'Malformed request',
  401: 'No client certificate was presented',
  403: 'The client certificate does not grant access, or is revoked or unknown',
  404: 'Not found',
  409: 'Conflict with the current state',
  413: 'The request body is too large',
  425: 'Sent in TLS 1.3 early data (0-RTT), which can be replayed: send it again after the handshake (RFC 8470)',
  429: 'Too many requests; Retry-After says when to try again',
  500: 'Internal error',
  503: 'Not available right now (the ledger database cannot be reached, or the service is at capacity); try again later, after Retry-After when given',
};

/** Retry-After for an `unavailable` refusal that names none: about how long a pooled reconnect takes to be tried again. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;
/** Retry-After for a `busy` refusal that names none: a full work queue drains in milliseconds. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/** RFC 9110 §15.6.4: a 503 says when to come back. */
function defaultRetryAfter(kind: DomainErrorKind): number | undefined {
  if (kind === 'unavailable') return UNAVAILABLE_RETRY_AFTER_SECONDS;
  if (kind === 'busy') return BUSY_RETRY_AFTER_SECONDS;
  return undefined;
}

interface Classified {
  readonly problem: ProblemDocument;
  readonly retryAfterSeconds?: number;
  /** Internal faults are logged with their cause; refusals only with their detail. */
  readonly isInternal: boolean;
}

const VALIDATION_PLACES: Readonly<Record<string, string>> = {
  querystring: 'query parameter',
  params: 'path parameter',
  body: 'body field',
  headers: 'header',
};

/** "query parameter "limit": must be between 1 and 500", one clause per zod issue. */
function describeValidation(context: string | undefined, issues: readonly { instancePath: string; message?: string }[]): string {
  const place = VALIDATION_PLACES[context ?? ''] ?? 'request';
  const whole = context === 'querystring' ? 'query' : (context ?? 'request');
  const clauses = issues.map((issue) => {
    const field = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
    const message = issue.message ?? 'invalid';
    return field === '' ? `${whole}: ${message}` : `${place} "${field}": ${message}`;
  });
  return [...new Set(clauses)].join('; ');
}

function classify(error: FastifyError, request: FastifyRequest): Classified {
  const instance = request.url.split('?', 1)[0] ?? request.url;
  if (error instanceof ProblemError) return { problem: problemOf(error.kind, error.detail, instance), isInternal: false };
  if (isDomainError(error)) {
    if (error.kind === 'internal') return internalProblem(request, instance);
    const retry = error.retryAfterSeconds ?? defaultRetryAfter(error.kind);
    return {
      problem: problemOf(error.kind, error.detail, instance),
      isInternal: false,
      ...(retry === undefined ? {} : { retryAfterSeconds: retry }),
    };
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    return { problem: problemOf('malformed', describeValidation(error.validationContext, error.validation), instance), isInternal: false };
  }
  if (error instanceof ResponseSerializationError) return internalProblem(request, instance);
  const status = error.statusCode;
  if (status !== undefined && status >= 400 && status < 500) {
    // Fastify's own 4xx errors (body parsing, content type, size) carry safe, specific messages.
    const kind =
      status === 413
        ? 'payloadTooLarge'
        : status === 415
          ? 'unsupportedMediaType'
          : status === 404
            ? 'notFound'
            : status === 400
              ? 'malformed'
              : undefined;
    if (kind !== undefined) return { problem: problemOf(kind, error.message, instance), isInternal: false };
    // RFC 9457 §4.2.1: about:blank says no more than the status code does.
    return {
      problem: { type: 'about:blank', title: STATUS_CODES[status] ?? 'Client error', status, detail: error.message, instance },
      isInternal: false,
    };
  }
  return internalProblem(request, instance);
}

function internalProblem(request: FastifyRequest, instance: string): Classified {
  // Internal detail never leaves the process (STYLE §4); the request id ties the reply to the log.
  return { problem: problemOf('internal', `An internal error occurred (request id ${request.id}).`, instance), isInternal: true };
}

/** Longest request path a 404 repeats. */
const MAX_ECHOED_PATH = 256;

/** Installs the error and not-found handlers on the root instance, before any route plugin. */
export function installProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const { problem, retryAfterSeconds, isInternal } = classify(error, request);
    if (isInternal) request.log.error({ err: error }, 'internal error');
    else request.log.info({ problem: problem.type, status: problem.status }, `request refused: ${problem.detail}`);
    return sendProblem(reply, problem, retryAfterSeconds);
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] ?? request.url;
    // A hostile path is not echoed in full (twice): the answer stays small whatever was asked.
    if (path.length > MAX_ECHOED_PATH) {
      return sendProblem(
        reply,
        problemOf('notFound', `No route for ${request.method} ${path.slice(0, MAX_ECHOED_PATH)}… (${path.length} characters).`),
      );
    }
    return sendProblem(reply, problemOf('notFound', `No route for ${request.method} ${path}.`, path));
  });
}

/** The status node:http's own handler would give a 'clientError': 408 for a request timeout, 431 for a head over the size limit, else 400. */
export function clientErrorStatus(error: { code?: string }): 400 | 408 | 431 {
  return error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : error.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
}

/**
 * node:http's 'clientError' (unparsable request, header overflow, request
 * timeout) as a problem document; no request object exists yet, so the
 * bytes are written by hand, as node:http itself does.
 */
export function clientErrorResponse(error: Error & { code?: string }, socket: Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const status = clientErrorStatus(error);
  const detail =
    status === 408
      ? 'The request was not received in time.'
      : status === 431
        ? 'The request headers are too large.'
        : 'The request could not be parsed as HTTP/1.1.';
  const problem: ProblemDocument =
    status === 400
      ? problemOf('malformed', detail)
      : { type: 'about:blank', title: STATUS_CODES[status] ?? 'Client error', status, detail };
  const body = JSON.stringify(problem);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
