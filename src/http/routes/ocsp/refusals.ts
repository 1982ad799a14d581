/**
 * OCSP refusals decided before or around a route (RFC 6960 §2.3): OCSP
 * clients cannot read problem documents, so under /ocsp the HTTP layer's
 * errors (a bad path, an oversized head, a refused client certificate, a
 * schema failure) are answered as OCSPResponses with an error status.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { refusal } from '../../../ocsp/index.js';
import { clientErrorResponse, clientErrorStatus, problemOf, ProblemError, PROBLEM_TYPES, sendProblem } from '../../problem.js';
import { failedRequestTarget } from '../../request-target.js';
import { asBuffer } from './cache-headers.js';
import { OCSP_RESPONSE } from './schemas.js';

/** An OCSP error status an HTTP-layer refusal carries. */
export type OcspRefusalStatus = 'malformedRequest' | 'unauthorized' | 'internalError';

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
export const OCSP_METHODS = 'GET, HEAD, POST';

/** An OCSP error status as the whole answer: never cached (RFC 5019 §6.2 applies to successful responses). */
export function sendOcspRefusal(reply: FastifyReply, status: number, ocspStatus: OcspRefusalStatus): FastifyReply {
  return reply
    .code(status)
    .type(OCSP_RESPONSE)
    .header('cache-control', 'no-store')
    .send(asBuffer(refusal(ocspStatus)));
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
export function refusalFor(error: FastifyError): { status: number; ocsp: OcspRefusalStatus } {
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
