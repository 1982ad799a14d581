/**
 * How every ACME answer is dressed (RFC 8555 §6.5, §6.7, §7.1): the reply
 * or problem document with a fresh nonce, the directory Link and no-store.
 */
import type { AcmeContext, AcmeReply } from './context.js';
import { INTERNAL_PROBLEM, problemDocument, toAcmeProblem } from './problems.js';
import type { AcmeHttpRequest, AcmeHttpResponse } from './transport.js';

/** Every answer carries a fresh Replay-Nonce (RFC 8555 §6.5) and the directory Link (§7.1); none is cached. */
export function respond(ctx: AcmeContext, request: AcmeHttpRequest, reply: AcmeReply): AcmeHttpResponse {
  const headers: Record<string, string | readonly string[]> = {
    'replay-nonce': ctx.nonces.issue(ctx.deps.clock.now()),
    link: [`<${ctx.urls.directory}>;rel="index"`, ...(reply.links ?? [])],
    'cache-control': 'no-store',
  };
  if (reply.location !== undefined) headers['location'] = reply.location;
  if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = String(reply.retryAfterSeconds);
  if (reply.body !== undefined) headers['content-type'] = reply.contentType ?? 'application/json';
  // HEAD carries the headers of GET and no body.
  return { status: reply.status, headers, ...(reply.body === undefined || request.method === 'HEAD' ? {} : { body: reply.body }) };
}

/** RFC 8555 §6.7: a problem document; an error that is no AcmeProblemError is reported and answered as an internal one. */
export function respondProblem(ctx: AcmeContext, request: AcmeHttpRequest, error: unknown): AcmeHttpResponse {
  let problem = toAcmeProblem(error);
  if (problem === undefined) {
    try {
      ctx.deps.onInternalError?.(error, { method: request.method, path: request.path.slice(0, 256) });
    } catch {
      // Reporting must not turn into an unanswered request.
    }
    problem = INTERNAL_PROBLEM;
  }
  const response = respond(ctx, request, {
    status: problem.status,
    body: problemDocument(problem),
    contentType: 'application/problem+json',
    ...(problem.options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: problem.options.retryAfterSeconds }),
  });
  return { ...response, headers: { ...response.headers, ...(problem.options.headers ?? {}) } };
}
