/**
 * The OCSP responder over HTTP (RFC 6960 Appendix A, RFC 5019 §5-6), the
 * CRL and the issuing CA certificate. Any client may ask (DESIGN route
 * groups: responses are signed). Every OCSP outcome is an OCSPResponse,
 * refusals by the HTTP layer included: OCSP clients cannot read problem
 * documents. HTTP caching headers come from the response's own dates.
 */
import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { refusal, type CacheFacts, type OcspReply } from '../../../ocsp/index.js';
import type { Awaitable } from '../../../shared/awaitable.js';
import { mapAwaitable } from '../../../shared/awaitable-flow.js';
import type { Clock } from '../../../shared/clock.js';
import type { KeysmithMetrics } from '../../metrics.js';
import type { OcspPort } from '../../ports.js';
import { clientErrorResponse, clientErrorStatus, PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, problemOf, problemResponses, ProblemError, PROBLEM_TYPES, sendProblem } from '../../problem.js';
import { failedRequestTarget } from '../../request-target.js';
import {
  CertificateBodySchema,
  CrlBodySchema,
  CrlIssuerParamsSchema,
  CrlIssuerShardParamsSchema,
  CrlShardParamsSchema,
  OCSP_REQUEST,
  OCSP_RESPONSE,
  OcspGetParamsSchema,
  OcspRequestBodySchema,
  ocspResponses,
  PKIX_CERT,
  PKIX_CRL,
} from './schemas.js';

/** What a client is told to wait while the first CRL is built. */
const CRL_PENDING_RETRY_SECONDS = 2;

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

interface CacheDates {
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly etag: string;
}

/** HTTP-dates of each response or CRL, formatted once: a cached response is sent thousands of times. */
const httpDates = new WeakMap<CacheDates, { readonly lastModified: string; readonly expires: string }>();

/** RFC 5019 §6.2: Cache-Control from the seconds left to nextUpdate; Last-Modified is thisUpdate, Expires nextUpdate. */
function setCacheHeaders(reply: FastifyReply, facts: CacheDates, now: number): void {
  let dates = httpDates.get(facts);
  if (dates === undefined) {
    dates = { lastModified: new Date(facts.thisUpdate).toUTCString(), expires: new Date(facts.nextUpdate).toUTCString() };
    httpDates.set(facts, dates);
  }
  const maxAge = Math.max(0, Math.floor((facts.nextUpdate - now) / 1000));
  reply.header('cache-control', `max-age=${maxAge}, public, no-transform, must-revalidate`);
  reply.header('last-modified', dates.lastModified);
  reply.header('expires', dates.expires);
  reply.header('etag', facts.etag);
}

/** The bytes as a Buffer for reply.send, without copying when they already are one. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** RFC 9110 §13.1.2: If-None-Match compares weakly; `*` matches any current representation. */
function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = (tag: string): string => (tag.startsWith('W/') ? tag.slice(2) : tag);
  return header.split(',').some((candidate) => {
    const tag = candidate.trim();
    return tag === '*' || opaque(tag) === opaque(etag);
  });
}

/** RFC 9110 §15.4.5: 304 carries the validators and cache headers already set, and no body. (Not in the route schemas: it has no body to describe.) */
function notModified(reply: FastifyReply): FastifyReply {
  return reply.code(304).send();
}

/**
 * Fastify's `frameworkErrors`: a path that is not valid percent-encoding
 * never reaches a route, so its error handler cannot answer. For /ocsp that
 * is a malformedRequest in OCSP; elsewhere a malformed problem document.
 */
export function answerFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  if (isOcspPath(request.url)) {
    void sendOcspRefusal(reply, 400, 'malformedRequest');
    return;
  }
  const path = request.url.split('?', 1)[0] ?? request.url;
  void sendProblem(reply, problemOf('malformed', error.message, path));
}

/** RFC 9110 §15.5.6: a 405 lists the methods the resource has. */
const OCSP_METHODS = 'GET, HEAD, POST';

/** An OCSP error status as the whole answer: never cached (RFC 5019 §6.2 applies to successful responses). */
function sendOcspRefusal(reply: FastifyReply, status: number, ocspStatus: 'malformedRequest' | 'unauthorized' | 'internalError'): FastifyReply {
  return reply.code(status).type(OCSP_RESPONSE).header('cache-control', 'no-store').send(asBuffer(refusal(ocspStatus)));
}

/** /ocsp itself or anything below it (not /ocspx). */
function isOcspPath(path: string): boolean {
  return path === '/ocsp' || path.startsWith('/ocsp/') || path.startsWith('/ocsp?');
}

/**
 * node:http's 'clientError' (a head over the size limit, a request timeout,
 * unparsable syntax): under /ocsp an OCSPResponse with the status node:http
 * chose (431, 408, 400) and malformedRequest, elsewhere a problem document.
 * Written by hand, as node:http does: no request object exists.
 */
export function answerClientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Duplex): void {
  const target = failedRequestTarget(error, socket);
  if (target === undefined || !isOcspPath(target) || error.code === 'ECONNRESET' || socket.destroyed) {
    clientErrorResponse(error, socket);
    return;
  }
  const status = clientErrorStatus(error);
  const body = refusal('malformedRequest');
  const head =
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${OCSP_RESPONSE}\r\nContent-Length: ${body.byteLength}\r\n` +
    'Cache-Control: no-store\r\nConnection: close\r\n\r\n';
  // One write: the socket is destroyed right after, and a second write could still be queued behind the first.
  if (socket.writable) socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body]));
  socket.destroy(error);
}

/** The refusal the HTTP layer decided for an OCSP route (size, media type, access), as an OCSPResponse. */
function refusalFor(error: FastifyError): { status: number; ocsp: 'malformedRequest' | 'unauthorized' | 'internalError' } {
  if (error instanceof ProblemError) {
    const status = PROBLEM_TYPES[error.kind].status;
    // Access refusals (no or a refused client certificate) are RFC 6960's "not authorized to make this query".
    if (status === 401 || status === 403) return { status, ocsp: 'unauthorized' };
    // Other refusals decided before the route (a bad Host field): the request, not the responder, is at fault.
    if (status < 500) return { status, ocsp: 'malformedRequest' };
  }
  if (hasZodFastifySchemaValidationErrors(error)) return { status: 400, ocsp: 'malformedRequest' };
  const status = error.statusCode;
  if (status === 413 || status === 415) return { status, ocsp: 'malformedRequest' };
  if (status !== undefined && status >= 400 && status < 500) return { status: 400, ocsp: 'malformedRequest' };
  return { status: 500, ocsp: 'internalError' };
}

export function registerOcspRoutes(app: FastifyInstance, deps: OcspRouteDeps): void {
  const { ocsp, clock, metrics } = deps;
  /** Counts one answer: each SingleResponse's certificate status, or the error status sent instead. */
  const count = (result: Pick<OcspReply, 'status' | 'certStatuses'>): void => {
    if (metrics === undefined) return;
    if (result.status !== 'successful') metrics.countOcspAnswer(result.status);
    else for (const status of result.certStatuses ?? []) metrics.countOcspAnswer(status);
  };
  const refuse = (reply: FastifyReply, status: number, ocspStatus: 'malformedRequest' | 'unauthorized' | 'internalError'): FastifyReply => {
    count({ status: ocspStatus });
    return sendOcspRefusal(reply, status, ocspStatus);
  };

  // The responder's reply is plain on SQLite (a cache hit is sent without a microtask's detour), a promise on PostgreSQL.
  const sendReply = (request: FastifyRequest, reply: FastifyReply, answer: Awaitable<OcspReply>, isGet: boolean): Awaitable<FastifyReply> =>
    mapAwaitable(answer, (result) => sendResult(request, reply, result, isGet));

  const sendResult = (request: FastifyRequest, reply: FastifyReply, result: OcspReply, isGet: boolean): FastifyReply => {
    count(result);
    if (result.status === 'internalError') request.log.error({ err: result.fault }, 'OCSP responder fault');
    else if (result.status !== 'successful') request.log.info({ ocspStatus: result.status }, `OCSP request refused: ${result.detail ?? result.status}`);
    reply.type(OCSP_RESPONSE);
    const cache: CacheFacts | undefined = result.cache;
    // RFC 5019 §5: GET responses are the cacheable ones; nonce responses and refusals are never kept (RFC 9654 §2.1).
    if (!isGet || cache === undefined) return reply.header('cache-control', 'no-store').code(HTTP_STATUS[result.status]).send(asBuffer(result.der));
    setCacheHeaders(reply, cache, clock.now());
    if (matchesIfNoneMatch(request.headers['if-none-match'], cache.etag)) return notModified(reply);
    return reply.code(200).send(asBuffer(result.der));
  };

  // The OCSP routes share one scope under /ocsp: their own body parser, an error handler and a not-found handler that answer in OCSP.
  void app.register(
    async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser(OCSP_REQUEST, { parseAs: 'buffer', bodyLimit: MAX_OCSP_BODY_BYTES }, (_request, body, done) => done(null, body));
      scope.setErrorHandler((error: FastifyError, request, reply) => {
        const { status, ocsp: ocspStatus } = refusalFor(error);
        if (ocspStatus === 'internalError') request.log.error({ err: error }, 'OCSP route fault');
        else request.log.info({ ocspStatus, status }, `OCSP request refused: ${error.message}`);
        return refuse(reply, status, ocspStatus);
      });
      // Methods other than GET, HEAD and POST on any /ocsp path (RFC 6960 Appendix A.1 defines only GET and POST): 405 in OCSP.
      scope.setNotFoundHandler((request, reply) => {
        request.log.info({ ocspStatus: 'malformedRequest', status: 405 }, `OCSP request refused: method ${request.method} is not GET or POST`);
        return refuse(reply.header('allow', OCSP_METHODS), 405, 'malformedRequest');
      });
      const routes = scope.withTypeProvider<ZodTypeProvider>();

      const postOptions = {
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
      routes.post('', postOptions, async (request, reply) => sendReply(request, reply, ocsp.responder.answer(request.body), false));

      // POST /ocsp/ is the responder URL as many relying parties write it (`openssl ocsp -url https://host/ocsp/`);
      // any longer path names no resource, and is answered in OCSP rather than with a 404 problem.
      routes.post(
        '/*',
        { ...postOptions, schema: { ...postOptions.schema, hide: true, params: OcspGetParamsSchema, response: ocspResponses(200, 400, 401, 403, 404, 413, 415, 500) } },
        async (request, reply) => {
          if (request.params['*'] === '') return sendReply(request, reply, ocsp.responder.answer(request.body), false);
          request.log.info({ ocspStatus: 'malformedRequest', status: 404 }, 'OCSP request refused: POST to a path below the responder URL');
          return refuse(reply, 404, 'malformedRequest');
        },
      );

      routes.get(
        '/*',
        {
          config: { access: 'any', openApiWildcard: 'request' },
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
        },
        async (request, reply) => sendReply(request, reply, ocsp.responder.answerGet(request.params['*']), true),
      );

      // A GET with no request in the path is an OCSP client's mistake, answered in OCSP rather than with a 404 problem.
      routes.get('', { config: { access: 'any' }, schema: { hide: true } }, async (request, reply) => sendReply(request, reply, ocsp.responder.answerGet(''), true));
    },
    { prefix: '/ocsp' },
  );

  const routes = app.withTypeProvider<ZodTypeProvider>();
  /** ETags of CRLs served without one, so each is hashed once. */
  const crlTags = new WeakMap<Uint8Array, string>();
  /** Facts per CRL, kept so the HTTP-date cache (keyed by the object) formats each CRL once. */
  const crlFacts = new WeakMap<Uint8Array, CacheDates>();

  /** Serves one CRL, or 503 + Retry-After until the first build, or a 404 problem for a shard that does not exist. */
  const sendCrl = (request: FastifyRequest, reply: FastifyReply, shard: number | undefined, issuerSerial?: string): FastifyReply => {
    const crl = issuerSerial === 'root' ? (ocsp.arl?.() ?? 'unknown') : ocsp.crl(shard, issuerSerial);
    if (crl === 'unknown') {
      const what = issuerSerial === 'root' ? 'no ARL has been signed (keysmith ca revoke-intermediate)' : issuerSerial === undefined ? `there is no CRL shard ${String(shard)}` : `no CRL of issuer ${issuerSerial}${shard === undefined ? '' : ` shard ${shard}`}`;
      return sendProblem(reply, problemOf('notFound', what, request.url));
    }
    if (crl === 'pending') {
      // Start-up builds the CRL in the background, after the listener opens; this lasts seconds at most.
      return reply
        .code(503)
        .header('retry-after', String(CRL_PENDING_RETRY_SECONDS))
        .type(PROBLEM_CONTENT_TYPE)
        .send({ type: `${PROBLEM_TYPE_BASE}crl-pending`, title: 'CRL not built yet', status: 503, detail: 'the CRL is being built; retry shortly', instance: request.url });
    }
    let facts = crlFacts.get(crl.der);
    if (facts === undefined) {
      let etag = crl.etag ?? crlTags.get(crl.der);
      if (etag === undefined) {
        etag = `"${createHash('sha256').update(crl.der).digest('base64url')}"`;
        crlTags.set(crl.der, etag);
      }
      facts = { thisUpdate: crl.thisUpdate, nextUpdate: crl.nextUpdate, etag };
      crlFacts.set(crl.der, facts);
    }
    setCacheHeaders(reply, facts, clock.now());
    if (matchesIfNoneMatch(request.headers['if-none-match'], facts.etag)) return notModified(reply);
    return reply.type(PKIX_CRL).send(asBuffer(crl.der));
  };

  routes.get(
    '/crl',
    {
      config: { access: 'any' },
      schema: {
        tags: ['ocsp'],
        summary: 'The CRL',
        description:
          'The issuing CA’s full CRL (RFC 5280 §5), DER: every revoked, unexpired certificate, whatever its shard. Rebuilt off the request ' +
          'path shortly after revocations (coalesced) and on a schedule. Cache headers from thisUpdate/nextUpdate; If-None-Match with its ' +
          'ETag gets 304. 503 with Retry-After until the first build after start-up when no earlier CRL was kept.',
        operationId: 'getCrl',
        response: {
          200: { description: 'DER CRL', content: { [PKIX_CRL]: { schema: CrlBodySchema } } },
          ...problemResponses(403, 500, 503),
        },
      },
    },
    async (request, reply) => sendCrl(request, reply, undefined),
  );

  routes.get(
    '/crl/:shard',
    {
      config: { access: 'any' },
      schema: {
        tags: ['ocsp'],
        summary: 'One CRL shard',
        description:
          'With crlShards > 1: shard n of the CRL (RFC 5280 §5), the distribution point certificates of that shard name; it carries a ' +
          'critical Issuing Distribution Point naming this URL (§5.2.5). Same caching as /crl.',
        operationId: 'getCrlShard',
        params: CrlShardParamsSchema,
        response: {
          200: { description: 'DER CRL', content: { [PKIX_CRL]: { schema: CrlBodySchema } } },
          ...problemResponses(400, 403, 404, 500, 503),
        },
      },
    },
    async (request, reply) => sendCrl(request, reply, request.params.shard),
  );

  // RFC 5280 §5: the root's CRL of the intermediates it revoked (the ARL), signed offline by `keysmith ca revoke-intermediate`.
  routes.get(
    '/crl/root',
    {
      config: { access: 'any' },
      schema: {
        tags: ['ocsp'],
        summary: 'The ARL',
        description: 'The root CA’s CRL (RFC 5280 §5) listing revoked intermediate CAs; signed by the root (`keysmith ca revoke-intermediate`, `keysmith ca arl`). 404 until one is signed.',
        operationId: 'getArl',
        response: {
          200: { description: 'DER CRL', content: { [PKIX_CRL]: { schema: CrlBodySchema } } },
          ...problemResponses(403, 404, 500),
        },
      },
    },
    async (request, reply) => sendCrl(request, reply, undefined, 'root'),
  );

  // A rotated intermediate's CRLs (its leaves name these URLs; docs/ca-lifecycle.md).
  routes.get(
    '/crl/issuer/:serial',
    {
      config: { access: 'any' },
      schema: {
        tags: ['ocsp'],
        summary: 'The CRL of a rotated intermediate',
        description: 'The full CRL (RFC 5280 §5) of the intermediate with this serial, while it is active or retiring. Same caching as /crl.',
        operationId: 'getIssuerCrl',
        params: CrlIssuerParamsSchema,
        response: {
          200: { description: 'DER CRL', content: { [PKIX_CRL]: { schema: CrlBodySchema } } },
          ...problemResponses(400, 403, 404, 500, 503),
        },
      },
    },
    async (request, reply) => sendCrl(request, reply, undefined, request.params.serial),
  );

  routes.get(
    '/crl/issuer/:serial/:shard',
    {
      config: { access: 'any' },
      schema: {
        tags: ['ocsp'],
        summary: 'One CRL shard of a rotated intermediate',
        description: 'With crlShards > 1: shard n of that intermediate’s CRL, as /crl/{shard} for the original one.',
        operationId: 'getIssuerCrlShard',
        params: CrlIssuerShardParamsSchema,
        response: {
          200: { description: 'DER CRL', content: { [PKIX_CRL]: { schema: CrlBodySchema } } },
          ...problemResponses(400, 403, 404, 500, 503),
        },
      },
    },
    async (request, reply) => sendCrl(request, reply, request.params.shard, request.params.serial),
  );

  routes.get(
    '/ca.crt',
    {
      config: { access: 'any' },
      schema: {
        tags: ['ocsp'],
        summary: 'The issuing CA certificate',
        description: 'DER (RFC 2585 §4.1) of the intermediate that signs leaves, OCSP responder certificates and the CRL.',
        operationId: 'getIssuerCertificate',
        response: { 200: { description: 'DER certificate', content: { [PKIX_CERT]: { schema: CertificateBodySchema } } }, ...problemResponses(403) },
      },
    },
    async (_request, reply) => reply.type(PKIX_CERT).header('cache-control', 'max-age=3600, public').send(asBuffer(ocsp.issuerCertificate())),
  );
}
