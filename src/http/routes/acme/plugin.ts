/**
 * ACME over HTTP (RFC 8555 §6): every request under /acme goes to the
 * protocol handler (src/acme) as plain data, and its answer goes back
 * verbatim. This layer owns only what HTTP decides before the handler can:
 * the body size cap, the raw body, and the refusals of the peer-identity and
 * access hooks, which it renders as ACME problem documents so ACME clients
 * can read them. Policy `any`: clients authenticate with their account key
 * (DESIGN route groups); in strict mode the engine already demanded a
 * certificate.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AcmeHandler, AcmeHttpRequest, AcmeHttpResponse } from '../../../acme/index.js';
import { peerLeafOf } from '../../plugins/mtls-peer.js';
import { PROBLEM_TYPES, ProblemError } from '../../problem.js';

/** The mount point; the handler sees paths below it. */
export const ACME_ROOT = '/acme';
/** JWS bodies are small; the handler applies its own, tighter payload limit within this (RFC 8555 §6.2 leaves the number to us). */
export const MAX_ACME_BODY_BYTES = 64 * 1024;
const ACME_ERROR_BASE = 'urn:ietf:params:acme:error:';
const PROBLEM_JSON = 'application/problem+json';
/** RFC 8555 §7.1: every response links the directory; relative, so this layer needs no base URL (RFC 8288 §3.1). */
const INDEX_LINK = `<${ACME_ROOT}/directory>;rel="index"`;

interface AcmeRefusal {
  readonly status: number;
  /** RFC 8555 §6.7 error type, without its URN prefix. */
  readonly type: 'malformed' | 'unauthorized' | 'serverInternal';
  readonly detail: string;
}

/** The refusal for an error raised before the handler ran (hooks, body parsing), in ACME terms. */
function refusalFor(error: FastifyError, request: FastifyRequest): AcmeRefusal {
  if (error instanceof ProblemError) {
    const status = PROBLEM_TYPES[error.kind].status;
    // Identity refusals (strict mode without a certificate, a revoked or unknown one): the ACME word is unauthorized.
    if (status === 401 || status === 403) return { status, type: 'unauthorized', detail: error.detail };
    if (status < 500) return { status, type: 'malformed', detail: error.detail };
  }
  const status = error.statusCode;
  // Fastify's own 4xx (body too large, truncated body) carry safe, specific messages.
  if (status !== undefined && status >= 400 && status < 500) return { status, type: 'malformed', detail: error.message };
  // Internal detail never leaves the process (STYLE §4).
  return { status: 500, type: 'serverInternal', detail: `An internal error occurred (request id ${request.id}).` };
}

function sendRefusal(reply: FastifyReply, refusal: AcmeRefusal): FastifyReply {
  const body = JSON.stringify({ type: ACME_ERROR_BASE + refusal.type, detail: refusal.detail, status: refusal.status });
  return reply.code(refusal.status).header('link', INDEX_LINK).header('cache-control', 'no-store').type(PROBLEM_JSON).send(body);
}

/** What the handler learns about the TLS client: its SPIFFE ID, else its serial, when it presented a verified certificate. */
function clientCertificateOf(request: FastifyRequest): string | undefined {
  if (request.principal !== undefined) return request.principal.spiffeId;
  return peerLeafOf(request.raw.socket)?.serialNumber;
}

function isAcmeMethod(method: string): method is AcmeHttpRequest['method'] {
  return method === 'GET' || method === 'HEAD' || method === 'POST';
}

/** The plain-data request the handler takes; the path keeps its query and its percent-encoding (the JWS `url` is compared with it). */
export function toAcmeRequest(request: FastifyRequest): AcmeHttpRequest {
  const method = request.method;
  if (!isAcmeMethod(method)) throw new Error(`route registered for GET, HEAD and POST only, got ${method}`);
  const contentType = request.headers['content-type'];
  return {
    method,
    path: request.url.slice(ACME_ROOT.length),
    contentType,
    body: Buffer.isBuffer(request.body) ? request.body : undefined,
    clientAddress: request.ip,
    clientCertificate: clientCertificateOf(request),
  };
}

/** Writes the handler's answer as it is: status, headers, and the body (JSON-encoded when it is neither text nor bytes). */
export function sendAcmeResponse(reply: FastifyReply, response: AcmeHttpResponse): FastifyReply {
  reply.code(response.status);
  for (const [name, value] of Object.entries(response.headers)) reply.header(name, typeof value === 'string' ? value : [...value]);
  const body = response.body;
  if (body === undefined) return reply.send();
  if (typeof body === 'string' || Buffer.isBuffer(body)) return reply.send(body);
  if (!reply.hasHeader('content-type')) reply.type('application/json');
  // Serialized here, not by fastify, so no route serializer can reshape a protocol document.
  return reply.send(JSON.stringify(body));
}

export function registerAcmeRoutes(app: FastifyInstance, handler: AcmeHandler): void {
  void app.register(async (scope) => {
    // Every media type arrives as raw bytes: the handler answers a wrong Content-Type itself (RFC 8555 §6.2, malformed with 415).
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_ACME_BODY_BYTES }, (_request, body, done) => done(null, body));
    scope.setErrorHandler((error: FastifyError, request, reply) => {
      const refusal = refusalFor(error, request);
      if (refusal.type === 'serverInternal') request.log.error({ err: error }, 'ACME route fault');
      else request.log.info({ status: refusal.status }, `ACME request refused: ${refusal.detail}`);
      return sendRefusal(reply, refusal);
    });

    scope.route({
      method: ['GET', 'HEAD', 'POST'],
      url: `${ACME_ROOT}/*`,
      // HEAD is the handler's (newNonce answers HEAD with 200, GET with 204), not fastify's copy of GET.
      exposeHeadRoute: false,
      bodyLimit: MAX_ACME_BODY_BYTES,
      config: { access: 'any' },
      // ACME is specified by RFC 8555 and its directory, not by this service's OpenAPI document.
      schema: { hide: true },
      handler: async (request, reply) => sendAcmeResponse(reply, await handler.handle(toAcmeRequest(request))),
    });
  });
}
