import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { HealthCheck } from '../ports.js';
import { plainJsonFor200 } from '../plugins/fast-serializer.js';
import { problemResponses } from '../problem.js';

const CheckSchema = z.object({
  status: z.enum(['ok', 'fail']),
  detail: z.string().optional(),
});

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'fail']),
    checks: z.record(z.string(), CheckSchema).describe('Each check by name'),
  })
  .meta({ id: 'Health', description: 'Overall status and the state of each check' });
type Health = z.infer<typeof HealthSchema>;

/** GET /healthz: 200 when every check passes, 503 with each check's state otherwise. Any TLS client may ask. */
export function registerHealthRoutes(app: FastifyInstance, checks: readonly HealthCheck[]): void {
  app.withTypeProvider<ZodTypeProvider>().get(
    '/healthz',
    {
      config: { access: 'any' },
      // Polled often; the 200 body is built right here with the schema's exact shape.
      serializerCompiler: plainJsonFor200,
      schema: {
        tags: ['health'],
        summary: 'Service health',
        operationId: 'getHealth',
        response: {
          200: HealthSchema.describe('Every check passed'),
          503: HealthSchema.describe('At least one check failed'),
          ...problemResponses(403),
        },
      },
    },
    async (request, reply) => {
      const report: Health['checks'] = {};
      let healthy = true;
      for (const check of checks) {
        let ok: boolean;
        let detail: string | undefined;
        try {
          ({ ok, detail } = check.check());
        } catch (err) {
          // A throwing check is a failing one; its error stays in the log.
          request.log.error({ err, check: check.name }, 'health check threw');
          ok = false;
          detail = 'the check failed with an internal error';
        }
        healthy &&= ok;
        report[check.name] = { status: ok ? 'ok' : 'fail', ...(detail === undefined ? {} : { detail }) };
      }
      reply.header('cache-control', 'no-store');
      return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'fail', checks: report });
    },
  );
}
