/**
 * Cross-origin protection for state-changing requests. A browser that holds
 * an admin's client certificate presents it to keysmith on a request another
 * site makes it send too (a form post, a fetch), so the client certificate
 * alone does not show that the operator meant the request. Browsers say where
 * a request comes from: Fetch Metadata's Sec-Fetch-Site (W3C Fetch Metadata
 * Request Headers §2.1), or the Origin header (RFC 6454 §7, Fetch §3.1). A
 * request with neither (curl, SDKs, certbot and lego, our CLI) is not a
 * browser's and is unaffected; safe methods (RFC 9110 §9.2.1) never change state.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { problemOf, sendProblem } from '../problem.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** Sec-Fetch-Site values that mean the request came from keysmith's own pages, or from the user (typed URL, bookmark). */
const SAME_SITE_VALUES = new Set(['same-origin', 'none']);

/** Why the request is refused, or undefined when it may proceed. */
export function crossOriginRefusal(request: Pick<FastifyRequest, 'method' | 'headers'>): string | undefined {
  if (SAFE_METHODS.has(request.method)) return undefined;
  const site = request.headers['sec-fetch-site'];
  if (site !== undefined) {
    const value = (Array.isArray(site) ? site.join(',') : site).trim().toLowerCase();
    return SAME_SITE_VALUES.has(value) ? undefined : `Sec-Fetch-Site is ${value || 'empty'}`;
  }
  const origin = request.headers.origin;
  if (origin === undefined) return undefined;
  const host = request.headers.host;
  const originHost = hostOfOrigin(origin);
  if (originHost !== undefined && host !== undefined && originHost === host.trim().toLowerCase()) return undefined;
  return `Origin ${origin} is not this service (${host ?? 'no Host'})`;
}

/** host[:port] of a serialized origin, as the Host header spells it (the scheme's default port left out); undefined for "null" or junk. */
function hostOfOrigin(origin: string): string | undefined {
  if (!/^https?:\/\//i.test(origin)) return undefined;
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}

/** Refuses cross-origin state-changing requests with a 403 problem, before identity and routing. */
export function installCrossOriginGuard(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    const reason = crossOriginRefusal(request);
    if (reason === undefined) return;
    request.log.warn({ method: request.method, reason }, 'cross-origin request refused');
    return sendProblem(reply, problemOf('forbidden', `Cross-origin request refused: ${reason}.`, request.url.split('?')[0]));
  });
}
