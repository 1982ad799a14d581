/**
 * Certificate inventory and revocation for operators: admin principals
 * only (DESIGN route groups). Reads go through the read-only port; the one
 * write is the Authority's revocation pipeline.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../../shared/errors.js';
import type { CertificateQuery } from '../../../domain/certificates.js';
import type { Clock } from '../../../shared/clock.js';
import { negotiate } from '../../negotiate.js';
import { pemCertificateChain } from '../../pem.js';
import type { CertificateReader, CertificateRevoker, TrustBundleSource } from '../../ports.js';
import { problemResponses } from '../../problem.js';
import { registerConsoleRoutes, type ConsoleRouteDeps } from './console-routes.js';
import {
  CertificatePageSchema,
  CertificateSchema,
  certificateView,
  ListQuerySchema,
  RevokeBodySchema,
  SerialParamsSchema,
} from './schemas.js';

export const PEM_CHAIN = 'application/pem-certificate-chain';
const JSON_TYPE = 'application/json';

export interface OpsRouteDeps {
  readonly certificates: CertificateReader;
  readonly revoker: CertificateRevoker;
  readonly bundle: TrustBundleSource;
  readonly clock: Clock;
}

type ListQueryWire = z.infer<typeof ListQuerySchema>;

export function registerOpsRoutes(app: FastifyInstance, deps: OpsRouteDeps & ConsoleRouteDeps): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  // The timeline before /v1/certificates/:serial in the document; the router prefers the static path either way.
  registerConsoleRoutes(app, deps);

  routes.get('/v1/certificates', LIST_CERTIFICATES_ROUTE, async (request) => {
    const query = certificateQueryOf(request.query, deps.clock.now());
    const page = await deps.certificates.list(query);
    const now = query.now ?? deps.clock.now();
    return { items: page.items.map((record) => certificateView(record, now)), next_cursor: page.nextCursor };
  });

  routes.get('/v1/certificates/:serial', GET_CERTIFICATE_ROUTE, async (request, reply) => {
    const { serial } = request.params;
    const record = await deps.certificates.findBySerial(serial);
    if (record === undefined) throw new DomainError('notFound', `No certificate with serial ${serial}.`);
    reply.header('vary', 'accept');
    if (negotiate(request.headers.accept, [JSON_TYPE, PEM_CHAIN]) === PEM_CHAIN) {
      return reply.type(PEM_CHAIN).send(pemCertificateChain(record.der, deps.bundle.issuers()));
    }
    return reply.type(JSON_TYPE).send(certificateView(record, deps.clock.now()));
  });

  routes.post('/v1/certificates/:serial/revoke', REVOKE_CERTIFICATE_ROUTE, async (request) => {
    const { serial } = request.params;
    const { reason } = request.body;
    const current = await deps.certificates.findBySerial(serial);
    if (current === undefined) throw new DomainError('notFound', `No certificate with serial ${serial}.`);
    if (current.status === 'revoked') {
      const when = current.revokedAt === null ? '' : ` at ${new Date(current.revokedAt).toISOString()}`;
      throw new DomainError('conflict', `Certificate ${serial} was already revoked${when}.`);
    }
    // The Authority may still find it revoked (a concurrent request); its conflict maps to 409 the same way.
    const revoked = await deps.revoker.revoke(serial, reason);
    request.log.info({ serial, reason, revokedBy: request.principal?.spiffeId }, 'certificate revoked');
    return certificateView(revoked, deps.clock.now());
  });
}

function certificateQueryOf(q: ListQueryWire, now: number): CertificateQuery {
  return {
    now,
    ...(q.expiring_within === undefined ? {} : { expiringWithinMs: q.expiring_within }),
    ...(q.include === undefined ? {} : { include: q.include }),
    ...(q.status === undefined ? {} : { status: q.status }),
    ...(q.profile === undefined ? {} : { profile: q.profile }),
    ...(q.spiffe_id === undefined ? {} : { spiffeId: q.spiffe_id }),
    ...(q.dns_name === undefined ? {} : { dnsName: q.dns_name }),
    ...(q.expires_after === undefined ? {} : { expiresAfter: q.expires_after }),
    ...(q.expires_before === undefined ? {} : { expiresBefore: q.expires_before }),
    ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    ...(q.limit === undefined ? {} : { limit: q.limit }),
  };
}

const LIST_CERTIFICATES_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['ops'],
    summary: 'List certificates',
    description: 'Keyset-paginated; filters combine with AND. A certificate not revoked whose notAfter has passed is listed as expired.',
    operationId: 'listCertificates',
    querystring: ListQuerySchema,
    response: { 200: CertificatePageSchema.describe('A page of certificates'), ...problemResponses(400, 401, 403) },
  },
};

const GET_CERTIFICATE_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['ops'],
    summary: 'One certificate',
    description: '`Accept: application/pem-certificate-chain` returns the certificate and its issuers as PEM.',
    operationId: 'getCertificate',
    params: SerialParamsSchema,
    response: {
      200: {
        description: 'The certificate',
        content: {
          [JSON_TYPE]: { schema: CertificateSchema },
          [PEM_CHAIN]: { schema: z.string().describe('PEM: the certificate, then its issuers below the root') },
        },
      },
      ...problemResponses(400, 401, 403, 404),
    },
  },
};

const REVOKE_CERTIFICATE_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['ops'],
    summary: 'Revoke a certificate',
    description: 'RFC 5280 §5.3.1 reason names. Revoking twice is a conflict.',
    operationId: 'revokeCertificate',
    params: SerialParamsSchema,
    body: RevokeBodySchema,
    response: { 200: CertificateSchema.describe('The certificate, now revoked'), ...problemResponses(400, 401, 403, 404, 409) },
  },
};
