/**
 * The CRLs (RFC 5280 §5: the full CRL, its shards, a rotated intermediate's,
 * the root's ARL) and the issuing CA certificate (RFC 2585 §4.1). Any client
 * may ask; CRLs are cached by their own thisUpdate/nextUpdate and ETag.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Clock } from '../../../shared/clock.js';
import type { OcspPort } from '../../ports.js';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPE_BASE, problemOf, problemResponses, sendProblem } from '../../problem.js';
import { asBuffer, matchesIfNoneMatch, notModified, setCacheHeaders, type CacheDates } from './cache-headers.js';
import {
  CertificateBodySchema,
  CrlBodySchema,
  CrlIssuerParamsSchema,
  CrlIssuerShardParamsSchema,
  CrlShardParamsSchema,
  PKIX_CERT,
  PKIX_CRL,
} from './schemas.js';

/** What a client is told to wait while the first CRL is built. */
const CRL_PENDING_RETRY_SECONDS = 2;

/** The 200 answer of every CRL route (a fresh object each: route schemas are not shared). */
function crlBody() {
  return { description: 'DER CRL', content: { [PKIX_CRL]: { schema: CrlBodySchema } } };
}

type CrlSender = (request: FastifyRequest, reply: FastifyReply, shard: number | undefined, issuerSerial?: string) => FastifyReply;

export function registerCrlRoutes(app: FastifyInstance, ocsp: OcspPort, clock: Clock): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const sendCrl = crlSender(ocsp, clock);

  routes.get('/crl', FULL_CRL_ROUTE, async (request, reply) => sendCrl(request, reply, undefined));
  routes.get('/crl/:shard', CRL_SHARD_ROUTE, async (request, reply) => sendCrl(request, reply, request.params.shard));
  // RFC 5280 §5: the root's CRL of the intermediates it revoked (the ARL), signed offline by `keysmith ca revoke-intermediate`.
  routes.get('/crl/root', ARL_ROUTE, async (request, reply) => sendCrl(request, reply, undefined, 'root'));
  // A rotated intermediate's CRLs (its leaves name these URLs; docs/ca-lifecycle.md).
  routes.get('/crl/issuer/:serial', ISSUER_CRL_ROUTE, async (request, reply) => sendCrl(request, reply, undefined, request.params.serial));
  routes.get('/crl/issuer/:serial/:shard', ISSUER_CRL_SHARD_ROUTE, async (request, reply) =>
    sendCrl(request, reply, request.params.shard, request.params.serial),
  );
  routes.get('/ca.crt', ISSUER_CERTIFICATE_ROUTE, async (_request, reply) =>
    reply.type(PKIX_CERT).header('cache-control', 'max-age=3600, public').send(asBuffer(ocsp.issuerCertificate())),
  );
}

/** Serves one CRL, or 503 + Retry-After until the first build, or a 404 problem for a shard that does not exist. */
function crlSender(ocsp: OcspPort, clock: Clock): CrlSender {
  /** ETags of CRLs served without one, so each is hashed once. */
  const crlTags = new WeakMap<Uint8Array, string>();
  /** Facts per CRL, kept so the HTTP-date cache (keyed by the object) formats each CRL once. */
  const crlFacts = new WeakMap<Uint8Array, CacheDates>();

  return (request, reply, shard, issuerSerial) => {
    const crl = issuerSerial === 'root' ? (ocsp.arl?.() ?? 'unknown') : ocsp.crl(shard, issuerSerial);
    if (crl === 'unknown') return sendProblem(reply, problemOf('notFound', missingCrl(shard, issuerSerial), request.url));
    if (crl === 'pending') {
      // Start-up builds the CRL in the background, after the listener opens; this lasts seconds at most.
      return reply
        .code(503)
        .header('retry-after', String(CRL_PENDING_RETRY_SECONDS))
        .type(PROBLEM_CONTENT_TYPE)
        .send({
          type: `${PROBLEM_TYPE_BASE}crl-pending`,
          title: 'CRL not built yet',
          status: 503,
          detail: 'the CRL is being built; retry shortly',
          instance: request.url,
        });
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
}

function missingCrl(shard: number | undefined, issuerSerial: string | undefined): string {
  if (issuerSerial === 'root') return 'no ARL has been signed (keysmith ca revoke-intermediate)';
  if (issuerSerial === undefined) return `there is no CRL shard ${String(shard)}`;
  return `no CRL of issuer ${issuerSerial}${shard === undefined ? '' : ` shard ${shard}`}`;
}

const FULL_CRL_ROUTE = {
  config: { access: 'any' as const },
  schema: {
    tags: ['ocsp'],
    summary: 'The CRL',
    description:
      'The issuing CA’s full CRL (RFC 5280 §5), DER: every revoked, unexpired certificate, whatever its shard. Rebuilt off the request ' +
      'path shortly after revocations (coalesced) and on a schedule. Cache headers from thisUpdate/nextUpdate; If-None-Match with its ' +
      'ETag gets 304. 503 with Retry-After until the first build after start-up when no earlier CRL was kept.',
    operationId: 'getCrl',
    response: { 200: crlBody(), ...problemResponses(403, 500, 503) },
  },
};

const CRL_SHARD_ROUTE = {
  config: { access: 'any' as const },
  schema: {
    tags: ['ocsp'],
    summary: 'One CRL shard',
    description:
      'With crlShards > 1: shard n of the CRL (RFC 5280 §5), the distribution point certificates of that shard name; it carries a ' +
      'critical Issuing Distribution Point naming this URL (§5.2.5). Same caching as /crl.',
    operationId: 'getCrlShard',
    params: CrlShardParamsSchema,
    response: { 200: crlBody(), ...problemResponses(400, 403, 404, 500, 503) },
  },
};

const ARL_ROUTE = {
  config: { access: 'any' as const },
  schema: {
    tags: ['ocsp'],
    summary: 'The ARL',
    description:
      'The root CA’s CRL (RFC 5280 §5) listing revoked intermediate CAs; signed by the root (`keysmith ca revoke-intermediate`, `keysmith ca arl`). 404 until one is signed.',
    operationId: 'getArl',
    response: { 200: crlBody(), ...problemResponses(403, 404, 500) },
  },
};

const ISSUER_CRL_ROUTE = {
  config: { access: 'any' as const },
  schema: {
    tags: ['ocsp'],
    summary: 'The CRL of a rotated intermediate',
    description: 'The full CRL (RFC 5280 §5) of the intermediate with this serial, while it is active or retiring. Same caching as /crl.',
    operationId: 'getIssuerCrl',
    params: CrlIssuerParamsSchema,
    response: { 200: crlBody(), ...problemResponses(400, 403, 404, 500, 503) },
  },
};

const ISSUER_CRL_SHARD_ROUTE = {
  config: { access: 'any' as const },
  schema: {
    tags: ['ocsp'],
    summary: 'One CRL shard of a rotated intermediate',
    description: 'With crlShards > 1: shard n of that intermediate’s CRL, as /crl/{shard} for the original one.',
    operationId: 'getIssuerCrlShard',
    params: CrlIssuerShardParamsSchema,
    response: { 200: crlBody(), ...problemResponses(400, 403, 404, 500, 503) },
  },
};

const ISSUER_CERTIFICATE_ROUTE = {
  config: { access: 'any' as const },
  schema: {
    tags: ['ocsp'],
    summary: 'The issuing CA certificate',
    description: 'DER (RFC 2585 §4.1) of the intermediate that signs leaves, OCSP responder certificates and the CRL.',
    operationId: 'getIssuerCertificate',
    response: {
      200: { description: 'DER certificate', content: { [PKIX_CERT]: { schema: CertificateBodySchema } } },
      ...problemResponses(403),
    },
  },
};
