/**
 * The OCSP responder over HTTP (RFC 6960 Appendix A, RFC 5019 §5-6), the
 * CRLs and the issuing CA certificate: the revocation-status routes, which
 * any client may ask (DESIGN route groups: responses are signed).
 * responder-routes.ts answers under /ocsp, crl-routes.ts the CRLs and
 * /ca.crt, refusals.ts the HTTP layer's errors in OCSP, cache-headers.ts
 * the HTTP caching both share.
 */
import type { FastifyInstance } from 'fastify';
import { registerCrlRoutes } from './crl-routes.js';
import { registerResponderRoutes, type OcspRouteDeps } from './responder-routes.js';

export { answerClientError, answerFrameworkError } from './refusals.js';
export { MAX_OCSP_BODY_BYTES, type OcspRouteDeps } from './responder-routes.js';

export function registerOcspRoutes(app: FastifyInstance, deps: OcspRouteDeps): void {
  registerResponderRoutes(app, deps);
  registerCrlRoutes(app, deps.ocsp, deps.clock);
}
