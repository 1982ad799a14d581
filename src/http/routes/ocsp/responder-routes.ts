/**
 * The OCSP responder over HTTP (RFC 6960 Appendix A, RFC 5019 §5-6) under
 * /ocsp. Any client may ask (DESIGN route groups: responses are signed).
 * Every OCSP outcome is an OCSPResponse, refusals by the HTTP layer
 * included: OCSP clients cannot read problem documents. HTTP caching
 * headers come from the response's own dates.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { CacheFacts, OcspReply } from '../../../ocsp/index.js';
import type { Awaitable } from '../../../shared/awaitable.js';
import { mapAwaitable } from '../../../shared/awaitable-flow.js';
import type { Clock } from '../../../shared/clock.js';
import type { KeysmithMetrics } from '../../metrics.js';
import type { OcspPort } from '../../ports.js';
import { matchesIfNoneMatch, notModified, setCacheHeaders, asBuffer } from './cache-headers.js';
import { OCSP_METHODS, refusalFor, sendOcspRefusal, type OcspRefusalStatus } from './refusals.js';
import { OCSP_REQUEST, OCSP_RESPONSE, OcspGetParamsSchema, OcspRequestBodySchema, ocspResponses } from './schemas.js';

/** RFC 5019 requests are ~100 octets; signed requests with a certificate a few KiB. Larger bodies get 413 before any parsing. */
export const MAX_OCSP_BODY_BYTES = 16 * 1024;

/** HTTP status per OCSP status (STYLE §1.1, Boulder: malformed 400, unknown issuer 200 unauthorized, faults 500). */
const HTTP_STATUS: Readonly<Record<OcspReply['status'], number>> = {
  successful: 200,
  malformedRequest: 400,
  internalError: 500,
  tryLater: 503,
  sigRequired: 200,
  unauthorized: 200,
};

export interface OcspRouteDeps {
  readonly ocsp: OcspPort;
  readonly clock: Clock;
  /** keysmith_ocsp_responses_total: every answer these routes send, by certificate or error status. */
  readonly metrics?: Pick<KeysmithMetrics, 'countOcspAnswer'>;
}

/** How the /ocsp routes answer: the responder's reply (cached or not), or a refusal; each counted once. */
interface OcspAnswerer {
  readonly sendReply: (
    request: FastifyRequest,
    reply: FastifyReply,
    answer: Awaitable<OcspReply>,
    isGet: boolean,
  ) => Awaitable<FastifyReply>;
  readonly refuse: (reply: FastifyReply, status: number, ocspStatus: OcspRefusalStatus) => FastifyReply;
}

function ocspAnswerer(deps: OcspRouteDeps): OcspAnswerer {
  const { clock, metrics } = deps;
  /** Counts one answer: each SingleResponse's certificate status, or the error status sent instead. */
  const count = (result: Pick<OcspReply, 'status' | 'certStatuses'>): void => {
    if (metrics === undefined) return;
    if (result.status !== 'successful') metrics.countOcspAnswer(result.status);
    else for (const status of result.certStatuses ?? []) metrics.countOcspAnswer(status);
  };
  const refuse = (reply: FastifyReply, status: number, ocspStatus: OcspRefusalStatus): FastifyReply => {
    count({ status: ocspStatus });
    return sendOcspRefusal(reply, status, ocspStatus);
  };

  const sendResult = (request: FastifyRequest, reply: FastifyReply, result: OcspReply, isGet: boolean): FastifyReply => {
    count(result);
    if (result.status === 'internalError') request.log.error({ err: result.fault }, 'OCSP responder fault');
    else if (result.status !== 'successful')
      request.log.info({ ocspStatus: result.status }, `OCSP request refused: ${result.detail ?? result.status}`);
    reply.type(OCSP_RESPONSE);
    const cache: CacheFacts | undefined = result.cache;
    // RFC 5019 §5: GET responses are the cacheable ones; nonce responses and refusals are never kept (RFC 9654 §2.1).
    if (!isGet || cache === undefined)
      return reply.header('cache-control', 'no-store').code(HTTP_STATUS[result.status]).send(asBuffer(result.der));
    setCacheHeaders(reply, cache, clock.now());
    if (matchesIfNoneMatch(request.headers['if-none-match'], cache.etag)) return notModified(reply);
    return reply.code(200).send(asBuffer(result.der));
  };

  // The responder's reply is plain on SQLite (a cache hit is sent without a microtask's detour), a promise on PostgreSQL.
  const sendReply = (request: FastifyRequest, reply: FastifyReply, answer: Awaitable<OcspReply>, isGet: boolean): Awaitable<FastifyReply> =>
    mapAwaitable(answer, (result) => sendResult(request, reply, result, isGet));

  return { sendReply, refuse };
}

/** The OCSP routes share one scope under /ocsp: their own body parser, an error handler and a not-found handler that answer in OCSP. */
export function registerResponderRoutes(app: FastifyInstance, deps: OcspRouteDeps): void {
  const { ocsp } = deps;
  const { sendReply, refuse } = ocspAnswerer(deps);
  void app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(OCSP_REQUEST, { parseAs: 'buffer', bodyLimit: MAX_OCSP_BODY_BYTES }, (_request, body, done) =>
        done(null, body),
      );
      scope.setErrorHandler((error: FastifyError, request, reply) => {
        const { status, ocsp: ocspStatus } = refusalFor(error);
        if (ocspStatus === 'internalError') request.log.error({ err: error }, 'OCSP route fault');
        else request.log.info({ ocspStatus, status }, `OCSP request refused: ${error.message}`);
        return refuse(reply, status, ocspStatus);
      });
      // Methods other than GET, HEAD and POST on any /ocsp path (RFC 6960 Appendix A.1 defines only GET and POST): 405 in OCSP.
      scope.setNotFoundHandler((request, reply) => {
        request.log.info(
          { ocspStatus: 'malformedRequest', status: 405 },
          `OCSP request refused: method ${request.method} is not GET or POST`,
        );
        return refuse(reply.header('allow', OCSP_METHODS), 405, 'malformedRequest');
      });
      const routes = scope.withTypeProvider<ZodTypeProvider>();

      routes.post('', POST_OPTIONS, async (request, reply) => sendReply(request, reply, ocsp.responder.answer(request.body), false));

      // POST /ocsp/ is the responder URL as many relying parties write it (`openssl ocsp -url https://host/ocsp/`);
      // any longer path names no resource, and is answered in OCSP rather than with a 404 problem.
      routes.post('/*', POST_BELOW_OPTIONS, async (request, reply) => {
        if (request.params['*'] === '') return sendReply(request, reply, ocsp.responder.answer(request.body), false);
        request.log.info({ ocspStatus: 'malformedRequest', status: 404 }, 'OCSP request refused: POST to a path below the responder URL');
        return refuse(reply, 404, 'malformedRequest');
      });

      routes.get('/*', GET_OPTIONS, async (request, reply) =>
        sendReply(request, reply, ocsp.responder.answerGet(request.params['*']), true),
      );

      // A GET with no request in the path is an OCSP client's mistake, answered in OCSP rather than with a 404 problem.
      routes.get('', { config: { access: 'any' }, schema: { hide: true } }, async (request, reply) =>
        sendReply(request, reply, ocsp.responder.answerGet(''), true),
      );
    },
    { prefix: '/ocsp' },
  );
}

const POST_OPTIONS = {
  config: { access: 'any' as const },
  bodyLimit: MAX_OCSP_BODY_BYTES,
  schema: {
    tags: ['ocsp'],
    summary: 'OCSP request (POST)',
    description:
      'RFC 6960 Appendix A.1. Nonces (RFC 9654) of 1 to 128 octets are echoed; such responses are never cached. ' +
      'The responder URL with a trailing slash (/ocsp/) is the same resource.',
    operationId: 'postOcsp',
    consumes: [OCSP_REQUEST],
    body: OcspRequestBodySchema,
    response: ocspResponses(200, 400, 401, 403, 413, 415, 500),
  },
};

const POST_BELOW_OPTIONS = {
  ...POST_OPTIONS,
  schema: {
    ...POST_OPTIONS.schema,
    hide: true,
    params: OcspGetParamsSchema,
    response: ocspResponses(200, 400, 401, 403, 404, 413, 415, 500),
  },
};

const GET_OPTIONS = {
  config: { access: 'any' as const, openApiWildcard: 'request' as const },
  schema: {
    tags: ['ocsp'],
    summary: 'OCSP request (GET)',
    description:
      'RFC 6960 Appendix A.1 and RFC 5019 §5: the base64 DER request in the path. Cacheable: Cache-Control, Expires and ' +
      'Last-Modified come from the response’s nextUpdate and thisUpdate; the ETag is its SHA-256; If-None-Match gets 304.',
    operationId: 'getOcsp',
    params: OcspGetParamsSchema,
    response: ocspResponses(200, 400, 401, 403, 500),
  },
};
