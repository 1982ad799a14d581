import type { Server as NetServer } from 'node:net';
import { readFileSync } from 'node:fs';
import {
  buildApp,
  buildPlainHttpApp,
  createHttpsServer,
  type EventLoopLag,
  type HttpsServer,
  type KeysmithMetrics,
} from '../http/index.js';
import { loadConfig } from '../config/index.js';
import { printConfigWarning, stringOption, type Command } from './args.js';
import { composeAcme, openCore, openJwtKeys, openSvid, publicUrl, revocationBaseUrl, type Core } from './compose.js';
import { openRevocation, type Revocation } from './issuer-revocation.js';
import type { AcmeHandler } from '../acme/index.js';
import type { JwtKeyRing } from '../ca/index.js';
import type { SvidService } from '../svid/index.js';
import { alertMetricsOn, composeAlerts, type AlertComposition } from './alerts.js';
import { authorityViewsOf } from './console-authorities.js';
import { serveAlertLogger, terminalLogStream } from './log-output.js';
import { bindListener, dataDirBefore, probeListen, removeWhatThisStartMade } from './start-sequence.js';
import { curlLine } from './commands.js';
import { databaseHealth } from './database-health.js';
import { startRevocationFeed } from './cluster-revocations.js';
import type { FeedErrorContext } from '../ledger/index.js';
import { startMetrics, watchRevocationMetrics } from './serve-metrics.js';
import { healthChecksOf, startLedgerJobs, startReloads, trustBundleOf } from './serve-wiring.js';
import { listenerTlsOptions, primedStapler } from './listener-tls.js';

/**
 * `keysmith serve`: opens the core (creating it on first start), serves
 * every route over the in-house TLS engine, and on SIGTERM/SIGINT stops
 * accepting, drains in-flight requests and closes the ledger.
 */
export const serveCommand: Command = {
  name: 'serve',
  summary: 'start keysmith (creates the CA and identities on first start)',
  usage: 'keysmith serve [--config FILE]',
  options: {},
  example: 'keysmith serve --config /etc/keysmith/keysmith.yaml',
  async run(parsed) {
    const file = stringOption(parsed, 'config');
    // Unknown KEYSMITH_* variables: on stderr at once (a start that fails later still shows them), then in the log.
    const configWarnings: string[] = [];
    const loaded = loadConfig({
      env: process.env,
      onWarning: (message) => {
        printConfigWarning(message);
        configWarnings.push(message);
      },
      ...(file === undefined ? {} : { file }),
    });
    // Nothing is made before what can fail without side effects has passed (start-sequence.ts): the listener binds
    // first, so a taken port or a privileged one ends the start before a CA, a ledger or a certificate exists.
    const before = dataDirBefore(loaded.dataDir);
    const bound = await bindListener(loaded.listen.host, loaded.listen.port);
    const config = { ...loaded, listen: { host: loaded.listen.host, port: bound.port } };
    let core: Core | undefined;
    let server;
    try {
      if (config.ocspHttpListen !== undefined)
        await probeListen(config.ocspHttpListen.host, config.ocspHttpListen.port, 'KEYSMITH_OCSP_HTTP_LISTEN (ocspHttpListen)');
      core = await openCore(config);
      server = await startServer(core, { configWarnings, listener: bound.listener });
    } catch (err) {
      await core?.close().catch(() => undefined);
      bound.listener.close();
      // A first start that failed half-way leaves no half-made CA behind (SQLite only: a PostgreSQL ledger may already name it).
      if (config.databaseUrl === undefined) removeWhatThisStartMade(config.dataDir, before);
      throw err;
    }
    const running = core;
    // The human banner goes to stderr; stdout carries only the log (pino JSON, or readable lines on a terminal).
    for (const line of running.notices) console.error(line);
    console.error(`keysmith listening on ${publicUrl(config)} (trust domain ${config.trustDomain}, mTLS ${config.mtlsMode})`);
    // The public URL may name another host and port (a balancer); say where this process itself is bound.
    if (config.publicUrl !== undefined) console.error(`  bound to ${hostPort(config.listen.host, config.listen.port)}`);
    if (config.ocspHttpListen !== undefined) console.error(`OCSP, CRL and CA certificate over plain HTTP on ${revocationBaseUrl(config)}`);
    console.error(`list certificates as the admin:\n  ${curlLine(running)}`);
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals): void => {
        console.error(`${signal}: draining in-flight requests (up to ${config.shutdownGraceMs} ms)`);
        void server
          .close(config.shutdownGraceMs)
          .then(() => running.close())
          .catch((err: unknown) =>
            console.error(`keysmith: closing the ledger failed: ${err instanceof Error ? err.message : String(err)}`),
          )
          .finally(resolve);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    });
    return 0;
  },
};

export interface RunningServer {
  close(graceMs: number): Promise<void>;
}

/** Wires the HTTP app onto the TLS listener; also used by tests that run the service in-process. */
/** `acme`: a handler composed by the caller (the bench lifts rate limits and hooks validations); default composeAcme(core). */
export interface StartOptions {
  readonly acme?: AcmeHandler;
  /** A TCP listener already bound (port 0 resolved); otherwise the listener binds `config.listen`. */
  readonly listener?: NetServer;
  /** Configuration warnings (unknown KEYSMITH_* variables), logged once the logger exists. */
  readonly configWarnings?: readonly string[];
}

/**
 * The steps of a start, in order: metrics; the services the routes call (OCSP and CRLs, alerts, JWT keys, SVID, ACME);
 * the app over them; what it re-reads while it runs; the revocation feed; the TLS listener, then the optional plain
 * HTTP one; the ledger's background jobs and the alert schedule. A listener that cannot listen stops what the steps before it started.
 */
export async function startServer(core: Core, options: StartOptions = {}): Promise<RunningServer & { readonly port: number }> {
  const { metrics, eventLoopLag } = startMetrics(core);
  const internalErrors = new InternalErrorLog();
  const services = await openServices(core, metrics, internalErrors, options.acme);
  const { revocation, jwtKeys, alerts } = services;
  // The certificate this listener serves until it stops (a re-issue happens at the next start).
  const serverCertPem = readFileSync(core.paths.serverCert, 'utf8');
  const logStream = terminalLogStream();
  const app = await buildServiceApp(core, services, { metrics, eventLoopLag, serverCertPem, logStream });
  internalErrors.attach(app.log);
  for (const warning of options.configWarnings ?? []) app.log.warn(`configuration: ${warning}`);
  startReloads(core, app.log, jwtKeys, revocation);
  const feed = await listenForRevocations(core, revocation, app.log);
  const server = await listenTls(core, app, metrics, { serverCertPem, revocation, listener: options.listener }, async () => {
    stopReloads(services);
    await feed?.stop();
  });
  const checkpointer = startCheckpoints(core, app.log);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : core.config.listen.port;
  const plain = await listenPlainHttp(core, revocation, metrics, logStream, async () => {
    stopReloads(services);
    await Promise.all([checkpointer?.stop(), feed?.stop()]);
    await server.close(0);
  });
  // Spent ACME nonces and retention (src/cli/prune.ts: one node at a time, under the `retention` lease).
  const ledgerJobs = startLedgerJobs(core, metrics, app.log);
  // The catch-up runs in the background; a failure there is logged by the schedule, never fatal.
  alerts.start().catch((err: unknown) => app.log.error({ err }, 'expiry alert schedule failed to start'));
  return {
    port,
    close: async (graceMs) => {
      eventLoopLag.stop();
      stopReloads(services);
      await alerts.stop(graceMs);
      await Promise.all([server.close(graceMs), plain?.close()]);
      await ledgerJobs.stop();
      await Promise.all([checkpointer?.stop(), feed?.stop()]);
    },
  };
}

/** The fastify app buildApp makes (and buildPlainHttpApp). */
type App = Awaited<ReturnType<typeof buildApp>>;

/** What the routes call, each over the core: revocation (OCSP, CRLs, CA watch), expiry alerts, JWT keys, SVID, ACME. */
interface Services {
  readonly revocation: Revocation;
  readonly alerts: AlertComposition;
  readonly jwtKeys: JwtKeyRing;
  readonly svid: SvidService;
  readonly acme: AcmeHandler;
}

interface ServiceLog {
  error(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/**
 * A batch item's or an ACME request's unexpected failure reaches the caller only as 'internal';
 * its cause goes to the app's log, once the app exists.
 */
class InternalErrorLog {
  private log: ServiceLog | undefined;

  attach(log: ServiceLog): void {
    this.log = log;
  }

  svid(err: unknown): void {
    this.log?.error({ err }, 'SVID batch item failed');
  }

  acme(err: unknown, context: { readonly method: string; readonly path: string }): void {
    this.log?.error({ err, ...context }, 'ACME internal error');
  }
}

async function openServices(
  core: Core,
  metrics: KeysmithMetrics,
  internalErrors: InternalErrorLog,
  givenAcme: AcmeHandler | undefined,
): Promise<Services> {
  const { config, repositories, clock } = core;
  // The OCSP responder certificate is issued before the first request can ask for a status.
  const revocation = await openRevocation(core);
  watchRevocationMetrics(metrics, core, revocation);
  // Expiry alerts: the routes get their port now; the schedule starts once the listener is up.
  const alerts = composeAlerts({
    config,
    ledger: repositories,
    clock,
    logger: serveAlertLogger(config.logLevel),
    metrics: alertMetricsOn(metrics.registry),
  });
  // JWT-SVID keys: a key `keysmith ca rotate-jwt` prepared is picked up within jwtKeyCheckInterval, no restart.
  const jwtKeys = await openJwtKeys(core);
  const svid = await openSvid(core, { onInternalError: (error) => internalErrors.svid(error), jwtKeys });
  const acme =
    givenAcme ??
    composeAcme(core, {
      onInternalError: (error, context) => internalErrors.acme(error, context),
      onOrderEnded: (outcome) => metrics.countAcmeOrder(outcome),
      metrics: metrics.registry,
    });
  return { revocation, alerts, jwtKeys, svid, acme };
}

/** The timers openServices started that re-read the CA, OCSP responder, CRLs and JWT keys. */
function stopReloads(services: Pick<Services, 'revocation' | 'jwtKeys'>): void {
  services.revocation.stop();
  services.jwtKeys.stop();
}

interface AppContext {
  readonly metrics: KeysmithMetrics;
  readonly eventLoopLag: EventLoopLag;
  readonly serverCertPem: string;
  readonly logStream: ReturnType<typeof terminalLogStream>;
}

/** Every route over the services: certificates, trust bundle, health, OCSP and CRLs, alerts, SVID, ACME. */
function buildServiceApp(core: Core, services: Services, context: AppContext): Promise<App> {
  const { config, ledger, repositories, authority, clock } = core;
  const { revocation, jwtKeys, svid, alerts, acme } = services;
  const { metrics, eventLoopLag, serverCertPem, logStream } = context;
  const database = databaseHealth(ledger, { clock });
  const bundle = trustBundleOf(core, revocation.watch, jwtKeys, svid);
  return buildApp({
    certificates: repositories.certificates,
    revoker: authority,
    bundle,
    // The console's expiry timeline marks these.
    expiryThresholds: config.alertsThresholds,
    authorities: authorityViewsOf(bundle),
    health: healthChecksOf(core, database, serverCertPem, revocation.watch),
    database,
    revokedSerials: core.revokedSerials,
    eventLoopLag,
    trustDomain: config.trustDomain,
    mtlsMode: config.mtlsMode,
    clock,
    metrics,
    logger: { level: config.logLevel, ...(logStream === undefined ? {} : { stream: logStream }) },
    ocsp: revocation.port,
    alerts: alerts.port,
    svid,
    acme,
  });
}

/**
 * PostgreSQL: revocations made on other nodes reach this one's OCSP cache and client-certificate checks.
 * LISTENing before the listener takes its first request: the cache reads nothing on a hit there, so it must
 * hear every revocation committed after any of its fills began (a fill before LISTEN would wait for the 5 s poll).
 */
function listenForRevocations(core: Core, revocation: Revocation, log: ServiceLog): ReturnType<typeof startRevocationFeed> {
  return startRevocationFeed(
    core.ledger,
    { source: revocation.source, crl: revocation.crl, revokedSerials: core.revokedSerials },
    (err, context) => log.warn({ err, context }, FEED_TROUBLE[context]),
  );
}

/** The HTTPS listener over the in-house TLS engine, with a staple from the first handshake on; `undo` runs if it cannot listen. */
async function listenTls(
  core: Core,
  app: App,
  metrics: KeysmithMetrics,
  on: { readonly serverCertPem: string; readonly revocation: Revocation; readonly listener: NetServer | undefined },
  undo: () => Promise<void>,
): Promise<HttpsServer> {
  const { config } = core;
  const staples = await primedStapler(core, on.serverCertPem, on.revocation.port.responder);
  const server = createHttpsServer({
    tls: listenerTlsOptions(core, on.serverCertPem, on.revocation.watch, staples.staple),
    mtlsMode: config.mtlsMode,
    app,
    metrics,
    timeouts: { headersMs: config.headersTimeout, requestMs: config.requestTimeout, keepAliveMs: config.keepAliveTimeout },
  });
  try {
    await server.listen(on.listener ?? config.listen.port, config.listen.host);
  } catch (err) {
    await undo();
    throw err;
  }
  return server;
}

/**
 * Off by default: OCSP, CRLs and the CA certificate over plain HTTP, only for relying parties that follow
 * nothing but http:// AIA and CRL URLs. `undo` runs if it cannot listen (then the app is closed).
 */
async function listenPlainHttp(
  core: Core,
  revocation: Revocation,
  metrics: KeysmithMetrics,
  logStream: ReturnType<typeof terminalLogStream>,
  undo: () => Promise<void>,
): Promise<App | undefined> {
  const { config, clock } = core;
  const where = config.ocspHttpListen;
  if (where === undefined) return undefined;
  const plain = await buildPlainHttpApp({
    ocsp: revocation.port,
    clock,
    logger: { level: config.logLevel, ...(logStream === undefined ? {} : { stream: logStream }) },
    metrics,
  });
  try {
    await plain.listen({ host: where.host, port: where.port });
  } catch (err) {
    await undo();
    await plain.close();
    throw err;
  }
  return plain;
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Log lines for the revocation feed's troubles; none is fatal. */
const FEED_TROUBLE: { readonly [K in FeedErrorContext]: string } = {
  listen: 'revocation feed: the LISTEN connection to the ledger database is down; reconnecting, then catching up from the ledger',
  poll: 'revocation feed: polling the ledger for revocations failed; retried every few seconds',
  payload: 'revocation feed: ignored a notification that is not a serial',
  handler: 'revocation feed: applying a revocation to the caches failed',
};

/** SQLite: WAL checkpoints from here on run in a worker thread, not inside a commit on the event loop. */
function startCheckpoints(core: Core, log: { error(fields: object, message: string): void }): { stop(): Promise<void> } | undefined {
  const { config, ledger } = core;
  return ledger.kind === 'sqlite'
    ? ledger.ledger.startCheckpoints({
        everyMs: config.ledgerCheckpointInterval,
        onError: (err) => log.error({ err }, 'ledger WAL checkpoint failed'),
      })
    : undefined;
}
