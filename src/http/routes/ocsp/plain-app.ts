/**
 * The optional plain-HTTP listener for relying parties that only follow
 * http:// AIA and CRL distribution point URLs: the same OCSP, CRL and CA
 * certificate routes as on the TLS listener, and nothing else (every other
 * path is a 404 problem). Nothing on it is secret or needs a client
 * identity: responses and the CRL are signed.
 */
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { Clock } from '../../../shared/clock.js';
import { genRequestId, installRequestContext, loggerOptions } from '../../plugins/request-context.js';
import type { KeysmithMetrics } from '../../metrics.js';
import type { AppLoggerOptions, OcspPort } from '../../ports.js';
import { installProblemHandlers } from '../../problem.js';
import { answerClientError, answerFrameworkError, registerOcspRoutes } from './plugin.js';

export interface PlainHttpAppDeps {
  readonly ocsp: OcspPort;
  readonly clock: Clock;
  readonly logger?: boolean | AppLoggerOptions;
  /** The TLS listener's metrics, so answers given here are counted too. */
  readonly metrics?: Pick<KeysmithMetrics, 'countOcspAnswer'>;
}

/** As on the TLS listener (app.ts): a slow client is cut off, never waited for. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
const REQUEST_TIMEOUT_MS = 30_000;
const BODY_LIMIT = 16 * 1024;

/** Built ready; the composition root (src/cli) decides whether and where it listens. */
export async function buildPlainHttpApp(deps: PlainHttpAppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger: loggerOptions(deps.logger),
    genReqId: genRequestId,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    bodyLimit: BODY_LIMIT,
    return503OnClosing: false,
    frameworkErrors: answerFrameworkError,
    clientErrorHandler: answerClientError,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installProblemHandlers(app);
  installRequestContext(app);
  registerOcspRoutes(app, { ocsp: deps.ocsp, clock: deps.clock, ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }) });
  await app.ready();
  return app;
}
