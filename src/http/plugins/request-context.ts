/**
 * Request ids and logging: every request gets an id (the caller's
 * `x-request-id` when it is a sane token, else a UUID), echoed in the
 * response; the request's logger carries it and the caller's SPIFFE ID.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AppLoggerOptions } from '../ports.js';
import { ProblemError } from '../problem.js';

export const REQUEST_ID_HEADER = 'x-request-id';
/** Accepted incoming ids: short, and free of anything that could forge a log line. */
const INCOMING_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export function genRequestId(raw: IncomingMessage): string {
  const incoming = raw.headers[REQUEST_ID_HEADER];
  if (typeof incoming === 'string' && INCOMING_ID.test(incoming)) return incoming;
  // A correlation id, not a secret: it needs uniqueness, not the injected randomness of shared/random.
  return randomUUID();
}

/**
 * Credentials never reach the log. Fastify's request serializer logs no
 * headers or bodies; these paths catch anything logged explicitly.
 */
export const REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers["proxy-authorization"]',
  'req.headers.cookie',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'body',
  'req.body',
  '*.key',
  '*.privateKey',
  '*.private_key',
  '*.token',
  '*.password',
  '*.secret',
];

/** buildApp's `logger` option as fastify logger options: level info unless told otherwise, always redacting. */
export function loggerOptions(logger: boolean | AppLoggerOptions | undefined): false | Record<string, unknown> {
  if (logger === false) return false;
  const given = logger === true || logger === undefined ? {} : logger;
  return {
    level: 'info',
    ...given,
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
  };
}

/**
 * RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request with no
 * Host field, more than one, or an invalid value. node:http keeps the first
 * of several and answers a missing one with a bare 400 of its own
 * (`requireHostHeader` is off in buildApp so the refusal is ours, a problem
 * document, or an OCSP response under /ocsp).
 */
function hostFieldProblem(rawHeaders: readonly string[], httpVersion: string): string | undefined {
  let count = 0;
  let value = '';
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]?.length === 4 && rawHeaders[i]?.toLowerCase() === 'host') {
      count++;
      value = rawHeaders[i + 1] ?? '';
    }
  }
  if (count > 1) return `The request has ${count} Host fields; exactly one is allowed (RFC 9112 §3.2).`;
  if (count === 0) return httpVersion === '1.0' ? undefined : 'The request has no Host field (RFC 9112 §3.2).';
  // uri-host [ ":" port ] (RFC 9110 §7.2): no spaces, slashes, userinfo or control characters.
  return /^[A-Za-z0-9._~!$&'()*+,;=%:[\]-]{0,255}$/.test(value) ? undefined : 'The Host field is not a valid host[:port] (RFC 9112 §3.2).';
}

/** Echoes the request id; set first so refusals from later hooks carry it too. */
export function installRequestContext(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    const problem = hostFieldProblem(request.raw.rawHeaders, request.raw.httpVersion);
    if (problem !== undefined) {
      // The connection cannot be trusted to frame the next request the same way as whoever routed it.
      reply.header('connection', 'close');
      throw new ProblemError('malformed', problem);
    }
  });
}
