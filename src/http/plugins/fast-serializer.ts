/**
 * A serializer compiler for hot routes whose 200 body is built by a typed
 * wire function (exact keys; strings, numbers, null): JSON.stringify as it
 * is, instead of first re-encoding the body through its zod schema (a schema
 * walk and a copy of every PEM string, per response). Every other status
 * (problem documents) keeps the zod serializer, which strips unknown keys.
 * The schemas stay on the route, so the OpenAPI document does not change.
 */
import type { FastifyRouteSchemaDef } from 'fastify/types/schema.js';
import { serializerCompiler } from 'fastify-type-provider-zod';
import { $ZodType } from 'zod/v4/core';

export function plainJsonFor200<T>(route: FastifyRouteSchemaDef<T>): (data: unknown) => string {
  if (String(route.httpStatus) === '200') return (data) => JSON.stringify(data);
  const { schema } = route;
  // Runs when the route is compiled: a route that is not zod-described fails at start-up, not on a request.
  if (!(schema instanceof $ZodType))
    throw new Error(`${route.method} ${route.url}: response ${String(route.httpStatus)} has no zod schema`);
  return serializerCompiler({ ...route, schema });
}
