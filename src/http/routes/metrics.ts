import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { KeysmithMetrics } from '../metrics.js';
import { problemResponses } from '../problem.js';

/** A route pattern as written: fastify's `::` (an escaped literal colon, `/v1/svid/x509::batch`) is one `:` in the URL. */
export function routeLabel(pattern: string): string {
  return pattern.includes('::') ? pattern.replaceAll('::', ':') : pattern;
}

/** Counts every answered request by route pattern; 404s share one label so scanners cannot grow the series. */
export function installRequestMetrics(app: FastifyInstance, metrics: KeysmithMetrics): void {
  app.addHook('onResponse', async (request, reply) => {
    const pattern = request.is404 ? undefined : request.routeOptions.url;
    const route = pattern === undefined ? 'unmatched' : routeLabel(pattern);
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
}

/** GET /metrics in the Prometheus text format. Any TLS client may scrape it (DESIGN route groups). */
export function registerMetricsRoute(app: FastifyInstance, metrics: KeysmithMetrics): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/metrics',
    {
      config: { access: 'any' },
      schema: {
        tags: ['meta'],
        summary: 'Prometheus metrics',
        operationId: 'getMetrics',
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: z.string() } },
          },
          ...problemResponses(403),
        },
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).send(await metrics.render()),
  );
}
