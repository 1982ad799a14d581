/**
 * The SVID front end over HTTP (/work/briefs/wire-svid.md): X.509- and
 * JWT-SVIDs for workloads, join-token attestation for nodes, registration
 * entries for operators. Every rule lives in the SvidApi (src/svid); these
 * handlers only convert the wire form and name the caller.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EntryInput, SvidApi, SvidCaller, X509SvidRequest } from '../../../svid/index.js';
import type { RegistrationEntryPatch } from '../../../domain/entries.js';
import { plainJsonFor200 } from '../../plugins/fast-serializer.js';
import { problemResponses, ProblemError } from '../../problem.js';
import {
  batchWire,
  EntryCreateBodySchema,
  EntryIdParamsSchema,
  EntryListQuerySchema,
  EntryPageSchema,
  entryPageWire,
  EntryPatchBodySchema,
  EntrySchema,
  entryWire,
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

/** The verified caller; the `workload` and `admin` policies already refused requests without one. */
function callerOf(request: FastifyRequest): SvidCaller {
  const principal = request.principal;
  if (principal === undefined) throw new ProblemError('certificateRequired', 'This route requires a client certificate.');
  return principal;
}

function svidRequestOf(body: { csr: string; spiffe_id: string; ttl?: number | undefined }): X509SvidRequest {
  return { csr: body.csr, spiffeId: body.spiffe_id, ...(body.ttl === undefined ? {} : { ttlMs: body.ttl * SECOND }) };
}

function instanceOf(request: FastifyRequest): string {
  return request.url.split('?', 1)[0] ?? request.url;
}

export function registerSvidRoutes(app: FastifyInstance, svid: SvidApi): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  // ------------------------------------------------------------ SVIDs

  routes.post(
    '/v1/svid/x509',
    {
      config: { access: 'workload' },
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
    },
    async (request) => {
      const issued = await svid.issueX509(callerOf(request), svidRequestOf(request.body));
      request.log.info({ serial: issued.serial, svid: issued.spiffeId }, 'x509-svid issued');
      return x509SvidWire(issued);
    },
  );

  routes.post(
    BATCH_PATH,
    {
      config: { access: 'workload' },
      bodyLimit: BATCH_BODY_LIMIT,
      serializerCompiler: plainJsonFor200,
      schema: {
        tags: ['svid'],
        summary: 'Obtain up to 100 X.509-SVIDs',
        description: 'Each request is authorized and issued on its own; a refused one yields a problem document in its place. Body limit 512 KiB.',
        operationId: 'issueX509SvidBatch',
        body: X509BatchBodySchema,
        response: { 200: X509BatchResultSchema.describe('One result per request, in order'), ...problemResponses(400, 401, 403, 413, 503) },
      },
    },
    async (request) => {
      const results = await svid.issueX509Batch(callerOf(request), request.body.requests.map(svidRequestOf));
      const issued = results.filter((result) => result.ok).length;
      request.log.info({ requested: results.length, issued }, 'x509-svid batch');
      return batchWire(results, instanceOf(request));
    },
  );

  routes.post(
    '/v1/svid/jwt',
    {
      config: { access: 'workload' },
      schema: {
        tags: ['svid'],
        summary: 'Obtain a JWT-SVID',
        description: 'Signed ES256 by a JWT authority of the SPIFFE bundle; the same entries authorize it as for X.509-SVIDs.',
        operationId: 'issueJwtSvid',
        body: JwtSvidBodySchema,
        response: { 200: JwtSvidSchema.describe('The JWT-SVID'), ...problemResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const { audience, spiffe_id } = request.body;
      const issued = await svid.issueJwt(callerOf(request), { audience, ...(spiffe_id === undefined ? {} : { spiffeId: spiffe_id }) });
      // The token itself is a credential: never logged.
      request.log.info({ svid: issued.spiffeId, audiences: audience.length }, 'jwt-svid issued');
      return jwtSvidWire(issued);
    },
  );

  routes.post(
    '/v1/attest/join-token',
    {
      config: { access: 'any' },
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
    },
    async (request) => {
      const clientAddress = request.socket.remoteAddress ?? 'unknown';
      const issued = await svid.attestJoinToken({ token: request.body.token, csr: request.body.csr }, clientAddress);
      request.log.info({ serial: issued.serial, svid: issued.spiffeId, clientAddress }, 'node attested with a join token');
      return x509SvidWire(issued);
    },
  );

  // ------------------------------------------------------------ entries

  routes.post(
    '/v1/entries',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['entries'],
        summary: 'Create a registration entry',
        operationId: 'createEntry',
        body: EntryCreateBodySchema,
        response: { 201: EntrySchema.describe('The entry; Location names it'), ...problemResponses(400, 401, 403, 409, 503) },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const input: EntryInput = {
        spiffeId: body.spiffe_id,
        parentId: body.parent_id,
        ...(body.x509_ttl === undefined ? {} : { x509TtlMs: body.x509_ttl * SECOND }),
        ...(body.jwt_ttl === undefined ? {} : { jwtTtlMs: body.jwt_ttl * SECOND }),
        ...(body.dns_names === undefined ? {} : { dnsNames: body.dns_names }),
        ...(body.admin === undefined ? {} : { admin: body.admin }),
        ...(body.expires_at === undefined ? {} : { expiresAt: body.expires_at }),
      };
      const actor = callerOf(request).spiffeId;
      const entry = await svid.createEntry(actor, input);
      request.log.info({ entryId: entry.id, svid: entry.spiffeId, parent: entry.parentId, by: actor }, 'registration entry created');
      return reply.code(201).header('location', `/v1/entries/${entry.id}`).send(entryWire(entry));
    },
  );

  routes.get(
    '/v1/entries',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['entries'],
        summary: 'List registration entries',
        description: 'Keyset-paginated; filters combine with AND.',
        operationId: 'listEntries',
        querystring: EntryListQuerySchema,
        response: { 200: EntryPageSchema.describe('A page of entries'), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await svid.listEntries({
        ...(q.spiffe_id === undefined ? {} : { spiffeId: q.spiffe_id }),
        ...(q.parent_id === undefined ? {} : { parentId: q.parent_id }),
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
        ...(q.limit === undefined ? {} : { limit: q.limit }),
      });
      return entryPageWire(page);
    },
  );

  routes.get(
    '/v1/entries/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['entries'],
        summary: 'One registration entry',
        operationId: 'getEntry',
        params: EntryIdParamsSchema,
        response: { 200: EntrySchema.describe('The entry'), ...problemResponses(400, 401, 403, 404) },
      },
    },
    async (request) => entryWire(await svid.getEntry(request.params.id)),
  );

  routes.patch(
    '/v1/entries/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['entries'],
        summary: 'Change a registration entry',
        description: 'Absent fields keep their value; `expires_at: null` clears the expiry. The SPIFFE ID itself cannot change.',
        operationId: 'updateEntry',
        params: EntryIdParamsSchema,
        body: EntryPatchBodySchema,
        response: { 200: EntrySchema.describe('The entry as changed'), ...problemResponses(400, 401, 403, 404, 409, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      const patch: RegistrationEntryPatch = {
        ...(body.parent_id === undefined ? {} : { parentId: body.parent_id }),
        ...(body.x509_ttl === undefined ? {} : { x509TtlMs: body.x509_ttl * SECOND }),
        ...(body.jwt_ttl === undefined ? {} : { jwtTtlMs: body.jwt_ttl * SECOND }),
        ...(body.dns_names === undefined ? {} : { dnsNames: body.dns_names }),
        ...(body.admin === undefined ? {} : { admin: body.admin }),
        ...(body.expires_at === undefined ? {} : { expiresAt: body.expires_at }),
      };
      const entry = await svid.updateEntry(request.params.id, patch);
      request.log.info({ entryId: entry.id, by: request.principal?.spiffeId }, 'registration entry changed');
      return entryWire(entry);
    },
  );

  routes.delete(
    '/v1/entries/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['entries'],
        summary: 'Delete a registration entry',
        description: 'SVIDs already issued under it stay valid until they expire or are revoked.',
        operationId: 'deleteEntry',
        params: EntryIdParamsSchema,
        response: { 204: z.null().describe('Deleted'), ...problemResponses(400, 401, 403, 404, 503) },
      },
    },
    async (request, reply) => {
      await svid.deleteEntry(request.params.id);
      request.log.info({ entryId: request.params.id, by: request.principal?.spiffeId }, 'registration entry deleted');
      return reply.code(204).send(null);
    },
  );
}
