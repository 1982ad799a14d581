/**
 * Request ids and logging: every request gets an id (the caller's
 * `x-request-id` when it is a sane token, else a UUID), echoed in the
 * response; the request's logger carries it and the caller's SPIFFE ID.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { AppLoggerOptions } from '../ports.js';

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

/** Echoes the request id; set first so refusals from later hooks carry it too. */
export function installRequestContext(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
}
