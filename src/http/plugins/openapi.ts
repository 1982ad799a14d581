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
import { PROBLEM_DESCRIPTIONS, problemResponses } from '../problem.js';
import { isEarlySafe } from '../early-data.js';
import { packageVersion } from '../openapi-version.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The OpenAPI name of a trailing wildcard's path parameter (fastify names it `*`,
     * which is no valid OpenAPI path template name): GET /ocsp/* is documented as /ocsp/{request}.
     */
    openApiWildcard?: string;
  }
}

/**
 * Where the API is reached (OpenAPI 3.1 §4.8.5): each node, or the load
 * balancer in front of them, at KEYSMITH_PUBLIC_URL; the defaults are those
 * of a local `keysmith serve` (listen 127.0.0.1:8443).
 */
const SERVERS = [
  {
    url: 'https://{host}:{port}',
    description:
      'A keysmith node or its load balancer (KEYSMITH_PUBLIC_URL): host, a name the listener certificate carries; port, the listen port. TLS 1.3, and TLS 1.2 (ECDHE with AEAD) unless KEYSMITH_TLS_MIN_VERSION is 1.3.',
    // No per-variable descriptions: @apidevtools/swagger-parser 12's 3.1 schema refuses them (OpenAPI 3.1 allows them).
    variables: { host: { default: 'localhost' }, port: { default: '8443' } },
  },
];

/** OpenAPI 3.1 §4.8.27 mutualTLS; the openapi-types typings behind @fastify/swagger lack it, so it is added afterwards. */
const SECURITY_SCHEMES = {
  mutualTLS: {
    type: 'mutualTLS',
    description:
      'A client certificate from this CA whose leaf names one SPIFFE ID of the trust domain. Operations with `security: []` ' +
      'take any TLS client, except in strict mode (mtlsMode: strict), where every connection must present one.',
  },
};

interface RouteAccess {
  readonly method: string;
  /** OpenAPI form: /v1/certificates/{serial}. */
  readonly path: string;
  readonly access: AccessPolicy;
  /** The documented name of a trailing wildcard (`*`), if the route names one. */
  readonly wildcard: string | undefined;
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
  for (const route of routes) if (route.wildcard !== undefined) nameWildcard(annotated, route.path, route.wildcard);
  for (const route of routes) {
    const item = annotated[route.path];
    const operation = isRecord(item) ? item[route.method] : undefined;
    if (!isRecord(item) || !isRecord(operation)) continue;
    const withPolicy = {
      ...operation,
      responses: withTooEarly(operation['responses'], route),
      'x-keysmith-access': route.access,
      // OpenAPI 3.1 §4.8.10: an empty list is "no security needed" (any TLS client); the others require the client certificate.
      security: route.access === 'any' ? [] : [{ mutualTLS: [] }],
    };
    annotated[route.path] = { ...item, [route.method]: withPolicy };
  }
  document['paths'] = annotated;
  return pruneUnreferencedSchemas(document);
}

/** RFC 8470 §5.2: an operation not served from TLS early data documents its 425 (http/early-data.ts decides which). */
function withTooEarly(responses: unknown, route: RouteAccess): unknown {
  if (!isRecord(responses) || isEarlySafe(route.method.toUpperCase(), route.path)) return responses;
  // Added after the zod transform, so it names the Problem component the other problem responses were given.
  const tooEarly = {
    description: PROBLEM_DESCRIPTIONS[425],
    content: { 'application/problem+json': { schema: { $ref: `${SCHEMA_REF}Problem` } } },
  };
  return { ...responses, 425: tooEarly };
}

/**
 * @fastify/swagger writes a trailing wildcard as the path parameter `{*}`;
 * OpenAPI 3.1 §4.8.8 path templates name their parameters, so the path item
 * and the `*` parameter of each of its operations take the route's name.
 */
function nameWildcard(paths: Record<string, unknown>, documentedPath: string, name: string): void {
  const swaggerPath = documentedPath.replace(`{${name}}`, '{*}');
  const item = paths[swaggerPath];
  if (swaggerPath === documentedPath || !isRecord(item)) return;
  const renamed: Record<string, unknown> = {};
  for (const [method, operation] of Object.entries(item)) {
    const parameters = isRecord(operation) ? operation['parameters'] : undefined;
    renamed[method] =
      isRecord(operation) && Array.isArray(parameters)
        ? {
            ...operation,
            parameters: parameters.map((p: unknown) => (isRecord(p) && p['in'] === 'path' && p['name'] === '*' ? { ...p, name } : p)),
          }
        : operation;
  }
  delete paths[swaggerPath];
  paths[documentedPath] = renamed;
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
  for (let size = -1; size !== reached.size;) {
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
      const wildcard = route.config?.openApiWildcard;
      routes.push({ method: method.toLowerCase(), path: openApiPath(route.url, wildcard), access, wildcard });
    }
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'keysmith',
        // The version of the keysmith serving it: the API changes with the package.
        version: packageVersion(),
        description:
          'Internal PKI: short-lived workload identities over mutual TLS. Problem responses are RFC 9457 ' +
          'application/problem+json documents with types under https://keysmith.dev/problems/. Each operation ' +
          'states its access policy in x-keysmith-access: any (any TLS client), workload (a SPIFFE identity of the ' +
          'trust domain) or admin (an identity under /admin/). A request sent in TLS 1.3 early data (0-RTT) carries ' +
          'Early-Data: 1; only GET/HEAD on the public read routes are served from it, every other operation answers ' +
          '425 Too Early (RFC 8470) and is sent again after the handshake.',
      },
      servers: SERVERS,
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

/** fastify's route syntax to OpenAPI's: `:name` is a parameter, `::` a literal colon (`/v1/svid/x509::batch`), a trailing `*` the named wildcard. */
function openApiPath(url: string, wildcard: string | undefined): string {
  return url
    .replace(/::|:([A-Za-z0-9_]+)/g, (_match: string, name: string | undefined) => (name === undefined ? ':' : `{${name}}`))
    .replace(/\/\*$/, `/{${wildcard ?? '*'}}`);
}
