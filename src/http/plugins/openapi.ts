/**
 * The OpenAPI document, generated from the routes' zod schemas by
 * @fastify/swagger and served at GET /openapi.json. Register before the
 * routes: both swagger and the policy annotations collect them from onRoute.
 */
import fastifySwagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { jsonSchemaTransform, jsonSchemaTransformObject, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AccessPolicy } from './access.js';
import { problemResponses } from '../problem.js';

export const API_VERSION = '1.0.0';

/** OpenAPI 3.1 §4.8.27 mutualTLS; the openapi-types typings behind @fastify/swagger lack it, so it is added afterwards. */
const SECURITY_SCHEMES = {
  mutualTLS: {
    type: 'mutualTLS',
    description: 'A client certificate from this CA whose leaf names one SPIFFE ID of the trust domain.',
  },
};

interface RouteAccess {
  readonly method: string;
  /** OpenAPI form: /v1/certificates/{serial}. */
  readonly path: string;
  readonly access: AccessPolicy;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The generated document, plus each operation's access policy taken from
 * the route itself (`x-keysmith-access`, and `security` where a client
 * certificate is required), so the document cannot drift from the policy.
 */
function annotate(generated: object, routes: readonly RouteAccess[]): Record<string, unknown> {
  const document: Record<string, unknown> = { ...generated };
  const components = document['components'];
  document['components'] = { ...(isRecord(components) ? components : {}), securitySchemes: SECURITY_SCHEMES };
  const paths = document['paths'];
  if (!isRecord(paths)) return document;
  const annotated: Record<string, unknown> = { ...paths };
  for (const route of routes) {
    const item = annotated[route.path];
    const operation = isRecord(item) ? item[route.method] : undefined;
    if (!isRecord(item) || !isRecord(operation)) continue;
    const withPolicy = {
      ...operation,
      'x-keysmith-access': route.access,
      ...(route.access === 'any' ? {} : { security: [{ mutualTLS: [] }] }),
    };
    annotated[route.path] = { ...item, [route.method]: withPolicy };
  }
  document['paths'] = annotated;
  return pruneUnreferencedSchemas(document);
}

const SCHEMA_REF = '#/components/schemas/';

function collectRefs(node: unknown, into: Set<string>): void {
  if (Array.isArray(node)) {
    for (const child of node) collectRefs(child, into);
  } else if (isRecord(node)) {
    for (const [key, child] of Object.entries(node)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith(SCHEMA_REF)) into.add(child.slice(SCHEMA_REF.length));
      else collectRefs(child, into);
    }
  }
}

/**
 * The zod transform emits an input and an output component for every
 * registered schema; only those the operations reach are kept.
 */
function pruneUnreferencedSchemas(document: Record<string, unknown>): Record<string, unknown> {
  const components = document['components'];
  const schemas = isRecord(components) ? components['schemas'] : undefined;
  if (!isRecord(components) || !isRecord(schemas)) return document;
  const reached = new Set<string>();
  collectRefs(document['paths'], reached);
  // Follow references between components until nothing new is reached.
  for (let size = -1; size !== reached.size; ) {
    size = reached.size;
    for (const name of [...reached]) collectRefs(schemas[name], reached);
  }
  const kept = Object.fromEntries(Object.entries(schemas).filter(([name]) => reached.has(name)));
  return { ...document, components: { ...components, schemas: kept } };
}

export async function registerOpenApi(app: FastifyInstance): Promise<void> {
  const routes: RouteAccess[] = [];
  app.addHook('onRoute', (route) => {
    const access = route.config?.access;
    if (access === undefined) return; // the access plugin refuses such a route
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) {
      // @fastify/swagger writes a trailing wildcard (GET /ocsp/*) as the path parameter {*}.
      routes.push({ method: method.toLowerCase(), path: openApiPath(route.url), access });
    }
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'keysmith',
        version: API_VERSION,
        description:
          'Internal PKI: short-lived workload identities over mutual TLS 1.3. Problem responses are RFC 9457 ' +
          'application/problem+json documents with types under https://keysmith.dev/problems/. Each operation ' +
          'states its access policy in x-keysmith-access: any (any TLS client), workload (a SPIFFE identity of the ' +
          'trust domain) or admin (an identity under /admin/).',
      },
      tags: [
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'bundle', description: 'The trust bundle' },
        { name: 'ops', description: 'Certificate inventory and revocation (administrators)' },
        { name: 'ocsp', description: 'Certificate status: the OCSP responder, the CRL and the issuing CA certificate' },
        { name: 'meta', description: 'Metrics and this document' },
      ],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });

  let document: Record<string, unknown> | undefined;
  app.withTypeProvider<ZodTypeProvider>().get(
    '/openapi.json',
    {
      config: { access: 'any' },
      schema: {
        tags: ['meta'],
        summary: 'This OpenAPI document',
        operationId: 'getOpenApi',
        response: { 200: z.record(z.string(), z.unknown()).describe('An OpenAPI 3.1 document'), ...problemResponses(403) },
      },
    },
    // Routes are fixed once the app is ready, so the document is built once.
    async () => (document ??= annotate(app.swagger(), routes)),
  );
}

/** fastify's route syntax to OpenAPI's: `:name` is a parameter, `::` a literal colon (`/v1/svid/x509::batch`). */
function openApiPath(url: string): string {
  return url.replace(/::|:([A-Za-z0-9_]+)/g, (_match: string, name: string | undefined) => (name === undefined ? ':' : `{${name}}`)).replace(/\/\*$/, '/{*}');
}
