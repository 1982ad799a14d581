/**
 * One-time join tokens for operators over HTTP: the same SvidApi the
 * `keysmith tokens` commands use. The token is in the 201 body once and
 * nowhere else: never logged, never listed (only its id).
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SvidApi } from '../../../svid/index.js';
import { problemResponses } from '../../problem.js';
import { callerOf } from './caller.js';
import {
  CreatedJoinTokenSchema,
  JoinTokenCreateBodySchema,
  JoinTokenIdParamsSchema,
  JoinTokenListQuerySchema,
  JoinTokenPageSchema,
  tokenWire,
} from './token-schemas.js';

const DEFAULT_TTL_MS = 10 * 60_000;

export function registerTokenRoutes(app: FastifyInstance, svid: SvidApi): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get('/v1/join-tokens', LIST_TOKENS_ROUTE, async (request) => {
    const q = request.query;
    const { now, page } = await svid.listJoinTokens({
      ...(q.status === undefined ? {} : { status: q.status }),
      ...(q.spiffe_id === undefined ? {} : { spiffeId: q.spiffe_id }),
      ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
      ...(q.limit === undefined ? {} : { limit: q.limit }),
    });
    return { items: page.items.map((token) => tokenWire(token, now)), next_cursor: page.nextCursor };
  });

  routes.post('/v1/join-tokens', CREATE_TOKEN_ROUTE, async (request, reply) => {
    const actor = callerOf(request).spiffeId;
    const created = await svid.createJoinToken(actor, request.body.spiffe_id, request.body.ttl ?? DEFAULT_TTL_MS);
    // The id names it in logs; the token itself never goes there.
    request.log.info({ tokenId: created.id, node: created.spiffeId, by: actor }, 'join token created');
    const summary = { ...created, usedAt: null, usedBySerial: null, revokedAt: null };
    return reply.code(201).send({ ...tokenWire(summary, created.createdAt), token: created.token });
  });

  routes.delete('/v1/join-tokens/:id', REVOKE_TOKEN_ROUTE, async (request, reply) => {
    const { token } = await svid.revokeJoinToken(request.params.id);
    request.log.info({ tokenId: token.id, node: token.spiffeId, by: request.principal?.spiffeId }, 'join token revoked');
    return reply.code(204).send(null);
  });
}

const LIST_TOKENS_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['entries'],
    summary: 'List join tokens',
    description: 'In creation order, keyset-paginated; never the token or its hash. Filters combine with AND.',
    operationId: 'listJoinTokens',
    querystring: JoinTokenListQuerySchema,
    response: { 200: JoinTokenPageSchema.describe('A page of join tokens'), ...problemResponses(400, 401, 403) },
  },
};

const CREATE_TOKEN_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['entries'],
    summary: 'Create a join token',
    description: 'A one-time token that lets a node obtain its first identity (POST /v1/attest/join-token). The token is shown once.',
    operationId: 'createJoinToken',
    body: JoinTokenCreateBodySchema,
    response: { 201: CreatedJoinTokenSchema.describe('The token, shown this once'), ...problemResponses(400, 401, 403, 503) },
  },
};

const REVOKE_TOKEN_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['entries'],
    summary: 'Revoke a join token',
    description: 'An unused token can no longer attest a node. A used or already revoked token is a conflict.',
    operationId: 'revokeJoinToken',
    params: JoinTokenIdParamsSchema,
    response: { 204: z.null().describe('Revoked'), ...problemResponses(400, 401, 403, 404, 409, 503) },
  },
};
