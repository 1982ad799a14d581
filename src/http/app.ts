/**
 * The fastify assembly: buildApp(deps) wires the plugins and routes and
 * returns a ready app that never listens. Its `server` is a plain node:http
 * server that http/server-factory.ts feeds with our TLS sockets.
 */
import { createServer as createHttpServer } from 'node:http';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { installAccessPolicy } from './plugins/access.js';
import { installCrossOriginGuard } from './plugins/cross-origin.js';
import { installTooEarly, markEarlyRequests } from './early-data.js';
import { installMtlsPeer, peerLogBindings } from './plugins/mtls-peer.js';
import { registerOpenApi } from './plugins/openapi.js';
import { genRequestId, installRequestContext, loggerOptions } from './plugins/request-context.js';
import type { AppDeps } from './ports.js';
import { installProblemHandlers } from './problem.js';
import { rememberRequestTargets } from './request-target.js';
import { DEFAULT_REFRESH_HINT_SECONDS, registerBundleRoutes } from './routes/bundle.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerAlertRoutes } from './routes/alerts/plugin.js';
import { registerAcmeRoutes } from './routes/acme/plugin.js';
import { installRequestMetrics, registerMetricsRoute } from './routes/metrics.js';
import { answerClientError, answerFrameworkError, registerOcspRoutes } from './routes/ocsp/plugin.js';
import { registerOpsRoutes } from './routes/ops/plugin.js';
import { registerSvidRoutes } from './routes/svid/plugin.js';

/** Bodies are small JSON documents; anything bigger is refused before parsing (413). */
const BODY_LIMIT = 64 * 1024;
/** Above common load-balancer idle timeouts (60 s), as fastify's own default. */
const KEEP_ALIVE_TIMEOUT_MS = 72_000;
const HEADERS_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 30_000;

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const trustDomain = deps.trustDomain;
  const app = Fastify({
    logger: loggerOptions(deps.logger),
    genReqId: genRequestId,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    // The caller's identity goes on the request's logger before the first line is written.
    childLoggerFactory: function (logger, bindings, options, rawRequest) {
      // At level silent no line can carry the bindings; a child per request (stringified, redacted) would cost ~25 µs for nothing.
      if (logger.level === 'silent') return logger;
      return logger.child({ ...bindings, ...peerLogBindings(rawRequest.socket, trustDomain) }, options);
    },
    serverFactory: (handler) => {
      // requireHostHeader off: the Host check is ours (plugins/request-context), answered as a problem document.
      const server = createHttpServer(
        { requestTimeout: REQUEST_TIMEOUT_MS, headersTimeout: HEADERS_TIMEOUT_MS, requireHostHeader: false },
        handler,
      );
      server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      rememberRequestTargets(server);
      markEarlyRequests(server);
      return server;
    },
    // While draining, requests already on a connection are served (with Connection: close), not shed with a bare 503.
    return503OnClosing: false,
    bodyLimit: BODY_LIMIT,
    // Unparsable requests (oversized heads, timeouts): a problem document, or an OCSP malformedRequest under /ocsp.
    clientErrorHandler: answerClientError,
    // A path with broken percent-encoding fails before routing: a problem document, or an OCSP malformedRequest under /ocsp.
    frameworkErrors: answerFrameworkError,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Request bodies are JSON only; anything else is a 415 rather than a string the schema then refuses.
  app.removeContentTypeParser('text/plain');

  // Order matters: onRequest hooks run as installed (id, then identity, then policy).
  installProblemHandlers(app);
  installRequestContext(app);
  // Before identity and policy: a non-idempotent request from replayable early data never reaches them (RFC 8470).
  installTooEarly(app);
  // A browser's cross-site request carries the admin's client certificate too: refused before identity is even read.
  installCrossOriginGuard(app);
  installMtlsPeer(app, {
    certificates: deps.certificates,
    trustDomain,
    clock: deps.clock,
    ...(deps.revokedSerials === undefined ? {} : { revokedSerials: deps.revokedSerials }),
  });
  installAccessPolicy(app, deps.mtlsMode);
  installRequestMetrics(app, deps.metrics);

  await registerOpenApi(app);
  registerHealthRoutes(app, {
    checks: deps.health,
    ...(deps.eventLoopLag === undefined ? {} : { eventLoopLag: deps.eventLoopLag }),
    ...(deps.database === undefined ? {} : { database: deps.database }),
  });
  registerBundleRoutes(app, deps.bundle, deps.bundleRefreshHintSeconds ?? DEFAULT_REFRESH_HINT_SECONDS);
  registerMetricsRoute(app, deps.metrics);
  registerOpsRoutes(app, deps);
  if (deps.alerts !== undefined) registerAlertRoutes(app, deps.alerts, deps.clock);
  // SVIDs, join-token attestation and registration entries: the batch route alone raises the body limit.
  if (deps.svid !== undefined) registerSvidRoutes(app, deps.svid);
  // OCSP, the CRL and the CA certificate: own body parser (16 KiB cap, 413 before parsing) and OCSP-shaped errors.
  if (deps.ocsp !== undefined) registerOcspRoutes(app, { ocsp: deps.ocsp, clock: deps.clock, metrics: deps.metrics });
  // ACME: raw JWS bodies for the protocol handler, refusals as ACME problem documents.
  if (deps.acme !== undefined) registerAcmeRoutes(app, deps.acme);
  // The operator console (dist/ui), admin only, with its own CSP; not in the OpenAPI document.
  registerConsoleRoutes(app, deps.consoleDirectory === undefined ? {} : { directory: deps.consoleDirectory });

  await app.ready();
  return app;
}
