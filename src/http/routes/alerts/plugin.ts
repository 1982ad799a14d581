/**
 * Expiry alerts for operators (admin principals only): the outbox with each
 * alert's delivery state, and a run on request. Registered only when the
 * composition root gives an alerts port.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Clock } from '../../../shared/clock.js';
import { problemResponses } from '../../problem.js';
import type { AlertsPort } from './port.js';
import { AlertListQuerySchema, AlertPageSchema, AlertRunSchema, alertWire, runWire } from './schemas.js';

export function registerAlertRoutes(app: FastifyInstance, alerts: AlertsPort, clock: Clock): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get(
    '/v1/alerts',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['ops'],
        summary: 'List expiry alerts',
        description:
          'Newest first, with each delivery’s status, attempts and last error. `status` filters on the alert’s overall status; `serial` keeps one certificate’s alert history.',
        operationId: 'listAlerts',
        querystring: AlertListQuerySchema,
        response: { 200: AlertPageSchema.describe('A page of alerts'), ...problemResponses(400, 401, 403) },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await alerts.list({
        ...(q.status === undefined ? {} : { status: q.status }),
        ...(q.serial === undefined ? {} : { serial: q.serial }),
        ...(q.limit === undefined ? {} : { limit: q.limit }),
        ...(q.cursor === undefined ? {} : { cursor: q.cursor }),
      });
      const now = clock.now();
      return { items: page.items.map((alert) => alertWire(alert, now)), next_cursor: page.nextCursor };
    },
  );

  routes.post(
    '/v1/alerts/run',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['ops'],
        summary: 'Run expiry detection now',
        description:
          'Enqueues an alert for every certificate that is expiring now and was not alerted yet, and returns them. ' +
          'Delivery continues after the response. 409 while a run is in progress (here or in another keysmith process).',
        operationId: 'runAlerts',
        response: { 200: AlertRunSchema.describe('What the run enqueued'), ...problemResponses(401, 403, 409) },
      },
    },
    async (request) => {
      const result = await alerts.runNow();
      request.log.info(
        { runId: result.runId, enqueued: result.enqueued.length, by: request.principal?.spiffeId },
        'expiry alert run on request',
      );
      return runWire(result, clock.now());
    },
  );
}
