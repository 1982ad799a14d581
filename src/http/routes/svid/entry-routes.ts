/**
 * The registration-entry routes (/work/briefs/wire-svid.md): what operators
 * create, list, change and delete so workloads may obtain SVIDs. The SvidApi
 * decides; these handlers convert the wire form (seconds, snake_case).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EntryInput, SvidApi } from '../../../svid/index.js';
import type { EntryQuery, RegistrationEntryPatch } from '../../../domain/entries.js';
import { problemResponses } from '../../problem.js';
import { callerOf } from './caller.js';
import {
  EntryCreateBodySchema,
  EntryIdParamsSchema,
  EntryListQuerySchema,
  EntryPageSchema,
  entryPageWire,
  EntryPatchBodySchema,
  EntrySchema,
  entryWire,
} from './schemas.js';

const SECOND = 1000;

type EntryCreateBody = z.infer<typeof EntryCreateBodySchema>;
type EntryPatchBody = z.infer<typeof EntryPatchBodySchema>;
type EntryListQueryWire = z.infer<typeof EntryListQuerySchema>;

export function registerEntryRoutes(app: FastifyInstance, svid: SvidApi): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post('/v1/entries', CREATE_ENTRY_ROUTE, async (request, reply) => {
    const actor = callerOf(request).spiffeId;
    const entry = await svid.createEntry(actor, entryInputOf(request.body));
    request.log.info({ entryId: entry.id, svid: entry.spiffeId, parent: entry.parentId, by: actor }, 'registration entry created');
    return reply.code(201).header('location', `/v1/entries/${entry.id}`).send(entryWire(entry));
  });

  routes.get('/v1/entries', LIST_ENTRIES_ROUTE, async (request) => entryPageWire(await svid.listEntries(entryQueryOf(request.query))));

  routes.get('/v1/entries/:id', GET_ENTRY_ROUTE, async (request) => entryWire(await svid.getEntry(request.params.id)));

  routes.patch('/v1/entries/:id', UPDATE_ENTRY_ROUTE, async (request) => {
    const entry = await svid.updateEntry(request.params.id, entryPatchOf(request.body));
    request.log.info({ entryId: entry.id, by: request.principal?.spiffeId }, 'registration entry changed');
    return entryWire(entry);
  });

  routes.delete('/v1/entries/:id', DELETE_ENTRY_ROUTE, async (request, reply) => {
    await svid.deleteEntry(request.params.id);
    request.log.info({ entryId: request.params.id, by: request.principal?.spiffeId }, 'registration entry deleted');
    return reply.code(204).send(null);
  });
}

function entryInputOf(body: EntryCreateBody): EntryInput {
  return {
    spiffeId: body.spiffe_id,
    parentId: body.parent_id,
    ...(body.x509_ttl === undefined ? {} : { x509TtlMs: body.x509_ttl * SECOND }),
    ...(body.jwt_ttl === undefined ? {} : { jwtTtlMs: body.jwt_ttl * SECOND }),
    ...(body.dns_names === undefined ? {} : { dnsNames: body.dns_names }),
    ...(body.admin === undefined ? {} : { admin: body.admin }),
    ...(body.expires_at === undefined ? {} : { expiresAt: body.expires_at }),
  };
}

function entryPatchOf(body: EntryPatchBody): RegistrationEntryPatch {
  return {
    ...(body.parent_id === undefined ? {} : { parentId: body.parent_id }),
    ...(body.x509_ttl === undefined ? {} : { x509TtlMs: body.x509_ttl * SECOND }),
    ...(body.jwt_ttl === undefined ? {} : { jwtTtlMs: body.jwt_ttl * SECOND }),
    ...(body.dns_names === undefined ? {} : { dnsNames: body.dns_names }),
    ...(body.admin === undefined ? {} : { admin: body.admin }),
    ...(body.expires_at === undefined ? {} : { expiresAt: body.expires_at }),
  };
}

function entryQueryOf(q: EntryListQueryWire): EntryQuery {
  return {
    ...(q.spiffe_id === undefined ? {} : { spiffeId: q.spiffe_id }),
    ...(q.parent_id === undefined ? {} : { parentId: q.parent_id }),
    ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
    ...(q.limit === undefined ? {} : { limit: q.limit }),
  };
}

const CREATE_ENTRY_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['entries'],
    summary: 'Create a registration entry',
    operationId: 'createEntry',
    body: EntryCreateBodySchema,
    response: { 201: EntrySchema.describe('The entry; Location names it'), ...problemResponses(400, 401, 403, 409, 503) },
  },
};

const LIST_ENTRIES_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['entries'],
    summary: 'List registration entries',
    description: 'Keyset-paginated; filters combine with AND.',
    operationId: 'listEntries',
    querystring: EntryListQuerySchema,
    response: { 200: EntryPageSchema.describe('A page of entries'), ...problemResponses(400, 401, 403) },
  },
};

const GET_ENTRY_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['entries'],
    summary: 'One registration entry',
    operationId: 'getEntry',
    params: EntryIdParamsSchema,
    response: { 200: EntrySchema.describe('The entry'), ...problemResponses(400, 401, 403, 404) },
  },
};

const UPDATE_ENTRY_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['entries'],
    summary: 'Change a registration entry',
    description: 'Absent fields keep their value; `expires_at: null` clears the expiry. The SPIFFE ID itself cannot change.',
    operationId: 'updateEntry',
    params: EntryIdParamsSchema,
    body: EntryPatchBodySchema,
    response: { 200: EntrySchema.describe('The entry as changed'), ...problemResponses(400, 401, 403, 404, 409, 503) },
  },
};

const DELETE_ENTRY_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['entries'],
    summary: 'Delete a registration entry',
    description: 'SVIDs already issued under it stay valid until they expire or are revoked.',
    operationId: 'deleteEntry',
    params: EntryIdParamsSchema,
    response: { 204: z.null().describe('Deleted'), ...problemResponses(400, 401, 403, 404, 503) },
  },
};
