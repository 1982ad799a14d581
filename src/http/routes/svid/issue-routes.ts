/**
 * The SVID issuing routes (/work/briefs/wire-svid.md): X.509- and JWT-SVIDs
 * for workloads, one or a batch, and join-token attestation for nodes. The
 * SvidApi decides; these handlers convert the wire form and name the caller.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { SvidApi, X509SvidRequest } from '../../../svid/index.js';
import { plainJsonFor200 } from '../../plugins/fast-serializer.js';
import { problemResponses } from '../../problem.js';
import { callerOf } from './caller.js';
import {
  batchWire,
  JoinTokenBodySchema,
  JwtSvidBodySchema,
  JwtSvidSchema,
  jwtSvidWire,
  X509BatchBodySchema,
  X509BatchResultSchema,
  X509SvidRequestSchema,
  X509SvidSchema,
  x509SvidWire,
} from './schemas.js';

/**
 * 100 CSRs do not fit the app's 64 KiB limit (RSA-4096 CSRs are ~1.7 KB of
 * PEM each, and a CSR may be up to 32 KB); only the batch route gets more.
 */
export const BATCH_BODY_LIMIT = 512 * 1024;

/** find-my-way reads ':' as a parameter; '::' is a literal colon (AIP-136 custom method style). */
export const BATCH_PATH = '/v1/svid/x509::batch';

const SECOND = 1000;

function svidRequestOf(body: { csr: string; spiffe_id: string; ttl?: number | undefined }): X509SvidRequest {
  return { csr: body.csr, spiffeId: body.spiffe_id, ...(body.ttl === undefined ? {} : { ttlMs: body.ttl * SECOND }) };
}

function instanceOf(request: FastifyRequest): string {
  return request.url.split('?', 1)[0] ?? request.url;
}

export function registerIssueRoutes(app: FastifyInstance, svid: SvidApi): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post('/v1/svid/x509', X509_SVID_ROUTE, async (request) => {
    const issued = await svid.issueX509(callerOf(request), svidRequestOf(request.body));
    request.log.info({ serial: issued.serial, svid: issued.spiffeId }, 'x509-svid issued');
    return x509SvidWire(issued);
  });

  routes.post(BATCH_PATH, X509_BATCH_ROUTE, async (request) => {
    const results = await svid.issueX509Batch(callerOf(request), request.body.requests.map(svidRequestOf));
    const issued = results.filter((result) => result.ok).length;
    request.log.info({ requested: results.length, issued }, 'x509-svid batch');
    return batchWire(results, instanceOf(request));
  });

  routes.post('/v1/svid/jwt', JWT_SVID_ROUTE, async (request) => {
    const { audience, spiffe_id } = request.body;
    const issued = await svid.issueJwt(callerOf(request), { audience, ...(spiffe_id === undefined ? {} : { spiffeId: spiffe_id }) });
    // The token itself is a credential: never logged.
    request.log.info({ svid: issued.spiffeId, audiences: audience.length }, 'jwt-svid issued');
    return jwtSvidWire(issued);
  });

  routes.post('/v1/attest/join-token', JOIN_TOKEN_ROUTE, async (request) => {
    const clientAddress = request.socket.remoteAddress ?? 'unknown';
    const issued = await svid.attestJoinToken({ token: request.body.token, csr: request.body.csr }, clientAddress);
    request.log.info({ serial: issued.serial, svid: issued.spiffeId, clientAddress }, 'node attested with a join token');
    return x509SvidWire(issued);
  });
}

const X509_SVID_ROUTE = {
  config: { access: 'workload' as const },
  // The hot route: its 200 body is x509SvidWire's exact shape.
  serializerCompiler: plainJsonFor200,
  schema: {
    tags: ['svid'],
    summary: 'Obtain an X.509-SVID',
    description:
      'Allowed when the caller is the parent of a registration entry for `spiffe_id`, or holds that SPIFFE ID already (renewal). ' +
      'The subject and SANs come from the entry; the CSR gives only the key.',
    operationId: 'issueX509Svid',
    body: X509SvidRequestSchema,
    response: { 200: X509SvidSchema.describe('The SVID'), ...problemResponses(400, 401, 403, 503) },
  },
};

const X509_BATCH_ROUTE = {
  config: { access: 'workload' as const },
  bodyLimit: BATCH_BODY_LIMIT,
  serializerCompiler: plainJsonFor200,
  schema: {
    tags: ['svid'],
    summary: 'Obtain up to 100 X.509-SVIDs',
    description:
      'Each request is authorized and issued on its own; a refused one yields a problem document in its place. Body limit 512 KiB.',
    operationId: 'issueX509SvidBatch',
    body: X509BatchBodySchema,
    response: { 200: X509BatchResultSchema.describe('One result per request, in order'), ...problemResponses(400, 401, 403, 413, 503) },
  },
};

const JWT_SVID_ROUTE = {
  config: { access: 'workload' as const },
  schema: {
    tags: ['svid'],
    summary: 'Obtain a JWT-SVID',
    description: 'Signed ES256 by a JWT authority of the SPIFFE bundle; the same entries authorize it as for X.509-SVIDs.',
    operationId: 'issueJwtSvid',
    body: JwtSvidBodySchema,
    response: { 200: JwtSvidSchema.describe('The JWT-SVID'), ...problemResponses(400, 401, 403, 503) },
  },
};

const JOIN_TOKEN_ROUTE = {
  config: { access: 'any' as const },
  schema: {
    tags: ['svid'],
    summary: 'Attest a node with a one-time join token',
    description:
      'Reachable without a client certificate; rate-limited per client address (429 with Retry-After). ' +
      'Returns the node identity named by the token. Off in strict mTLS mode.',
    operationId: 'attestJoinToken',
    body: JoinTokenBodySchema,
    response: { 200: X509SvidSchema.describe('The node identity'), ...problemResponses(400, 403, 429, 503) },
  },
};
