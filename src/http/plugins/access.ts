/**
 * Route-group policies (DESIGN, "Identity and authorization"), deny by
 * default: every route declares `config.access`, and one that does not
 * stops the app at start-up rather than serving unguarded.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ProblemError } from '../problem.js';

/**
 * - `any`: any TLS client, with or without a certificate (in `strict` mode the engine already demanded one).
 * - `workload`: a verified SPIFFE identity of our trust domain, of any kind (workload, node or admin).
 * - `admin`: an identity under spiffe://<trust domain>/admin/.
 */
export const ACCESS_POLICIES = ['any', 'workload', 'admin'] as const;
export type AccessPolicy = (typeof ACCESS_POLICIES)[number];

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: AccessPolicy;
  }
}

function isAccessPolicy(value: unknown): value is AccessPolicy {
  return ACCESS_POLICIES.some((p) => p === value);
}

/** Throws the refusal for `request` under `policy`, or returns when it may proceed. */
export function enforceAccess(policy: AccessPolicy, request: FastifyRequest, mtlsMode: 'standard' | 'strict'): void {
  // strict: the engine already demanded a certificate; this holds even if the app is ever served without that engine setting.
  if (mtlsMode === 'strict' && !request.hasClientCertificate)
    throw new ProblemError('certificateRequired', 'This server requires a client certificate.');
  if (policy === 'any') return;
  const principal = request.principal;
  if (principal === undefined) {
    if (!request.hasClientCertificate) throw new ProblemError('certificateRequired', 'This route requires a client certificate.');
    throw new ProblemError('forbidden', 'The client certificate carries no SPIFFE ID of this trust domain.');
  }
  if (policy === 'admin' && principal.kind !== 'admin') {
    throw new ProblemError('forbidden', `${principal.spiffeId} is not an administrator.`);
  }
}

/** Install on the root instance before any route is registered, after the mtls-peer plugin. */
export function installAccessPolicy(app: FastifyInstance, mtlsMode: 'standard' | 'strict' = 'standard'): void {
  app.addHook('onRoute', (route) => {
    if (!isAccessPolicy(route.config?.access)) {
      const methods = Array.isArray(route.method) ? route.method.join(',') : route.method;
      throw new Error(`route ${methods} ${route.url} declares no access policy (config.access: ${ACCESS_POLICIES.join(' | ')})`);
    }
  });
  app.addHook('onRequest', async (request) => {
    // Unknown routes fall through to the 404 problem.
    if (request.is404) return;
    const policy = request.routeOptions.config.access;
    // Unreachable after the onRoute check; refusing keeps the default a denial.
    if (!isAccessPolicy(policy)) throw new ProblemError('forbidden', 'This route has no access policy.');
    enforceAccess(policy, request, mtlsMode);
  });
}
