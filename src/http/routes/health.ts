import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EventLoopLagSource } from '../event-loop-lag.js';
import type { DatabaseHealthSource, HealthCheck } from '../ports.js';
import { plainJsonFor200 } from '../plugins/fast-serializer.js';
import { problemResponses } from '../problem.js';

const CheckSchema = z.object({
  status: z.enum(['ok', 'fail']),
  detail: z.string().optional(),
});

const EventLoopSchema = z
  .object({
    lag_p50_ms: z.number(),
    lag_p99_ms: z.number(),
    lag_max_ms: z.number(),
    window_ms: z.number().int().describe('The span the figures cover (the last completed window)'),
  })
  .describe('How late the event loop ran: every request waits behind whatever holds it');

const DatabaseSchema = z
  .object({
    backend: z.enum(['sqlite', 'postgres']),
    reachable: z.boolean(),
    schemaVersion: z.number().int().describe('The migration version the ledger was opened at'),
  })
  .describe('The ledger database: when unreachable the node is degraded (OCSP from cache, issuance refused with 503)');

export const HealthSchema = z
  .object({
    status: z.enum(['ok', 'degraded', 'fail']),
    checks: z.record(z.string(), CheckSchema).describe('Each check by name'),
    database: DatabaseSchema.optional(),
    event_loop: EventLoopSchema.optional(),
  })
  .meta({ id: 'Health', description: 'Overall status and the state of each check' });
type Health = z.infer<typeof HealthSchema>;

export interface HealthRouteDeps {
  readonly checks: readonly HealthCheck[];
  readonly eventLoopLag?: EventLoopLagSource;
  readonly database?: DatabaseHealthSource;
}

/**
 * GET /healthz: 200 when every check passes, 503 with each check's state
 * otherwise. A failing check marked `whenFailing: 'degraded'` (the ledger
 * database unreachable) gives 'degraded' with 200: the node still serves
 * OCSP from its cache and the bundle, and refuses issuance with 503 itself,
 * so a balancer keeps it in rotation (when the database is down for every
 * node, taking them all out would stop OCSP too). Any TLS client may ask.
 */
export function registerHealthRoutes(app: FastifyInstance, deps: HealthRouteDeps): void {
  const { checks, eventLoopLag, database } = deps;
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
          200: HealthSchema.describe('Every check passed (status ok), or only the database is unreachable (status degraded)'),
          503: HealthSchema.describe('At least one check failed'),
          ...problemResponses(403),
        },
      },
    },
    async (request, reply) => {
      const report: Health['checks'] = {};
      let healthy = true;
      let degraded = false;
      const databaseStatus = database?.status();
      for (const check of checks) {
        let ok: boolean;
        let detail: string | undefined;
        try {
          ({ ok, detail } = await check.check());
        } catch (err) {
          // A throwing check is a failing one; its error stays in the log.
          request.log.error({ err, check: check.name }, 'health check threw');
          ok = false;
          detail = 'the check failed with an internal error';
        }
        if (!ok && check.whenFailing === 'degraded') degraded = true;
        else healthy &&= ok;
        report[check.name] = { status: ok ? 'ok' : 'fail', ...(detail === undefined ? {} : { detail }) };
      }
      reply.header('cache-control', 'no-store');
      const lag = eventLoopLag?.snapshot();
      const eventLoop =
        lag === undefined
          ? {}
          : { event_loop: { lag_p50_ms: lag.p50Ms, lag_p99_ms: lag.p99Ms, lag_max_ms: lag.maxMs, window_ms: lag.windowMs } };
      const db = databaseStatus === undefined ? undefined : await databaseStatus;
      const status = !healthy ? 'fail' : degraded ? 'degraded' : 'ok';
      const databaseReport =
        db === undefined ? {} : { database: { backend: db.backend, reachable: db.reachable, schemaVersion: db.schemaVersion } };
      return reply.code(healthy ? 200 : 503).send({ status, checks: report, ...databaseReport, ...eventLoop });
    },
  );
}
