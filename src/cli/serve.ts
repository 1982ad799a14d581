import { proxyProtocolSources } from './proxy-sources.js';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as NetServer } from 'node:net';
import { TlsAlertError, type PeerCertificates, type TlsServerOptions } from '../tls/index.js';
import { buildApp, buildPlainHttpApp, createHttpsServer, EventLoopLag, KeysmithMetrics, type HttpsServerOptions } from '../http/index.js';
import { loadConfig } from '../config.js';
import { requestForCertificate, type OcspReply, type OcspResponder } from '../ocsp/index.js';
import { isPromise } from '../shared/awaitable-flow.js';
import { printConfigWarning, stringOption, type Command } from './args.js';
import {
  clientCertificateVerdict,
  composeAcme,
  openCore,
  openJwtKeys,
  openSvid,
  publicUrl,
  revocationBaseUrl,
  type Core,
} from './compose.js';
import { openRevocation, type Revocation } from './issuer-revocation.js';
import type { AcmeHandler } from '../acme/index.js';
import { alertMetricsOn, composeAlerts } from './alerts.js';
import { issuerDerOf } from './listener-identity.js';
import { serveAlertLogger, terminalLogStream } from './log-output.js';
import { bindListener, dataDirBefore, probeListen, removeWhatThisStartMade } from './start-sequence.js';
import { curlLine } from './commands.js';
import { databaseHealth } from './database-health.js';
import { startRevocationFeed } from './cluster-revocations.js';
import type { FeedErrorContext } from '../ledger/index.js';
import { caCertificates } from './certificate-metrics.js';
import { healthChecksOf, startLedgerJobs, startReloads, trustBundleOf } from './serve-wiring.js';
import { Gauge } from 'prom-client';
import type { CaWatch } from './ca-watch.js';

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

/**
 * Session-ticket keys rotate hourly (period = floor(now / 1 h), the same on
 * every node whose clock is right); a ticket opens in its own period and the
 * next, so it resumes for 1 to 2 hours, within the engine's 2 h ticket lifetime.
 */
const TICKET_KEY_ROTATION_MS = 3_600_000;

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

export async function startServer(core: Core, options: StartOptions = {}): Promise<RunningServer & { readonly port: number }> {
  const { config, ledger, repositories, authority, clock } = core;
  const { metrics, eventLoopLag } = startMetrics(core);
  // The OCSP responder certificate is issued before the first request can ask for a status.
  const revocation = await openRevocation(core);
  const caWatch = revocation.watch;
  watchRevocationMetrics(metrics, core, revocation);
  // Expiry alerts: the routes get their port now; the schedule starts once the listener is up.
  const alerts = composeAlerts({
    config,
    ledger: repositories,
    clock,
    logger: serveAlertLogger(config.logLevel),
    metrics: alertMetricsOn(metrics.registry),
  });
  // A batch item's unexpected failure reaches the caller only as 'internal'; its cause goes to the log once the app exists.
  let logInternal: (error: unknown) => void = () => undefined;
  // JWT-SVID keys: a key `keysmith ca rotate-jwt` prepared is picked up within jwtKeyCheckInterval, no restart.
  const jwtKeys = await openJwtKeys(core);
  const svid = await openSvid(core, { onInternalError: (error) => logInternal(error), jwtKeys });
  let logAcmeInternal: (error: unknown, context: { readonly method: string; readonly path: string }) => void = () => undefined;
  const acme =
    options.acme ??
    composeAcme(core, {
      onInternalError: (error, context) => logAcmeInternal(error, context),
      onOrderEnded: (outcome) => metrics.countAcmeOrder(outcome),
      metrics: metrics.registry,
    });
  const database = databaseHealth(ledger, { clock });
  // The certificate this listener serves until it stops (a re-issue happens at the next start).
  const serverCertPem = readFileSync(core.paths.serverCert, 'utf8');
  const logStream = terminalLogStream();
  const app = await buildApp({
    certificates: repositories.certificates,
    revoker: authority,
    bundle: trustBundleOf(core, caWatch, jwtKeys, svid),
    health: healthChecksOf(core, database, serverCertPem, caWatch),
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
  logInternal = (err) => app.log.error({ err }, 'SVID batch item failed');
  logAcmeInternal = (err, context) => app.log.error({ err, ...context }, 'ACME internal error');
  for (const warning of options.configWarnings ?? []) app.log.warn(`configuration: ${warning}`);
  startReloads(core, app.log, jwtKeys, revocation);
  // PostgreSQL: revocations made on other nodes reach this one's OCSP cache and client-certificate checks.
  // LISTENing before the listener takes its first request: the cache reads nothing on a hit there, so it must
  // hear every revocation committed after any of its fills began (a fill before LISTEN would wait for the 5 s poll).
  const feed = await startRevocationFeed(
    ledger,
    { source: revocation.source, crl: revocation.crl, revokedSerials: core.revokedSerials },
    (err, context) => app.log.warn({ err, context }, FEED_TROUBLE[context]),
  );
  const staples = await primedStapler(core, serverCertPem, revocation.port.responder);
  const server = createHttpsServer({
    tls: listenerTlsOptions(core, serverCertPem, caWatch, staples.staple),
    mtlsMode: config.mtlsMode,
    app,
    metrics,
    timeouts: { headersMs: config.headersTimeout, requestMs: config.requestTimeout, keepAliveMs: config.keepAliveTimeout },
  });
  try {
    await server.listen(options.listener ?? config.listen.port, config.listen.host);
  } catch (err) {
    revocation.stop();
    jwtKeys.stop();
    await feed?.stop();
    throw err;
  }
  const checkpointer = startCheckpoints(core, app.log);
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.listen.port;
  // Off by default: only for relying parties that follow nothing but http:// AIA and CRL URLs.
  const plain =
    config.ocspHttpListen === undefined
      ? undefined
      : await buildPlainHttpApp({
          ocsp: revocation.port,
          clock,
          logger: { level: config.logLevel, ...(logStream === undefined ? {} : { stream: logStream }) },
          metrics,
        });
  if (plain !== undefined && config.ocspHttpListen !== undefined) {
    try {
      await plain.listen({ host: config.ocspHttpListen.host, port: config.ocspHttpListen.port });
    } catch (err) {
      revocation.stop();
      jwtKeys.stop();
      await Promise.all([checkpointer?.stop(), feed?.stop()]);
      await Promise.all([server.close(0), plain.close()]);
      throw err;
    }
  }
  // Spent ACME nonces and retention (src/cli/prune.ts: one node at a time, under the `retention` lease).
  const ledgerJobs = startLedgerJobs(core, metrics, app.log);
  // The catch-up runs in the background; a failure there is logged by the schedule, never fatal.
  alerts.start().catch((err: unknown) => app.log.error({ err }, 'expiry alert schedule failed to start'));
  return {
    port,
    close: async (graceMs) => {
      eventLoopLag.stop();
      revocation.stop();
      jwtKeys.stop();
      await alerts.stop(graceMs);
      await Promise.all([server.close(graceMs), plain?.close()]);
      await ledgerJobs.stop();
      await Promise.all([checkpointer?.stop(), feed?.stop()]);
    },
  };
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

/**
 * The TLS-layer half of the client-certificate policy; the HTTP layer checks
 * again on every request. The engine asks synchronously: a ledger that answers
 * later (PostgreSQL) cannot refuse at the handshake, and the per-request check
 * (src/http/plugins/mtls-peer.ts), which awaits, is then the one that refuses.
 */
function refuseUnknownOrRevoked(core: Core, peer: PeerCertificates, revokedCas: ReadonlySet<string>): void {
  // A chain through a revoked intermediate (keysmith ca revoke-intermediate) is refused whatever the leaf's own status, on either backend.
  for (const cert of peer.chain) {
    if (revokedCas.has(cert.serialNumber))
      throw new TlsAlertError(
        'certificate_revoked',
        `the chain of serial ${peer.leaf.serialNumber} passes through revoked intermediate ${cert.serialNumber}`,
      );
  }
  const verdict = clientCertificateVerdict(core, peer.leaf);
  if (isPromise(verdict)) {
    void verdict.catch(() => undefined);
    return;
  }
  if (verdict === 'revoked') throw new TlsAlertError('certificate_revoked', `serial ${peer.leaf.serialNumber} is revoked`);
  if (verdict === 'unknown') throw new TlsAlertError('bad_certificate', `serial ${peer.leaf.serialNumber} was never issued here`);
}

interface Stapler {
  /** For the engine's `ocspResponse`: the staple for this handshake, or none. */
  readonly staple: () => Uint8Array | undefined;
  /** Asks once and waits for the answer, so the first handshakes have a staple. */
  prime(): Promise<void>;
}

/**
 * The staple for our own leaf, asked of the responder at each handshake (the
 * engine asks synchronously). A reply that comes later (PostgreSQL) is kept
 * for the next handshake; meanwhile the last one known is stapled, or none.
 */
function stapler(responder: Pick<OcspResponder, 'answer'>, request: Uint8Array): Stapler {
  let latest: Uint8Array | undefined;
  let isAsking = false;
  const keep = (reply: OcspReply): Uint8Array | undefined => {
    latest = reply.status === 'successful' ? reply.der : undefined;
    return latest;
  };
  return {
    staple: () => {
      // One question in flight at most, however many handshakes arrive meanwhile.
      if (isAsking) return latest;
      const reply = responder.answer(request);
      if (!isPromise(reply)) return keep(reply);
      isAsking = true;
      void reply.then(keep).finally(() => {
        isAsking = false;
      });
      return latest;
    },
    async prime() {
      try {
        keep(await responder.answer(request));
      } catch {
        // No staple yet; the next handshake asks again.
      }
    },
  };
}

/**
 * Stapling (RFC 8446 §4.4.2.1): the request for our own leaf is built once; answers come from the responder's cache.
 * The listener's certificate may come from an intermediate that no longer signs (a rotation): ask about it with its own issuer.
 * The first handshakes get a staple too: asked once before the listener opens (on PostgreSQL the answer comes later).
 */
async function primedStapler(core: Core, serverCertPem: string, responder: Pick<OcspResponder, 'answer'>): Promise<Stapler> {
  const issuerDer = issuerDerOf(serverCertPem) ?? core.authority.material.intermediate.certDer;
  const stapleRequest = requestForCertificate(firstCertificateDer(serverCertPem), issuerDer);
  const staples = stapler(responder, stapleRequest);
  await staples.prime();
  return staples;
}

function firstCertificateDer(pem: string): Uint8Array {
  return new X509Certificate(pem).raw;
}

/** The registry, the event-loop lag it reports, and issuance counted from the first certificate on. */
function startMetrics(core: Core): { readonly metrics: KeysmithMetrics; readonly eventLoopLag: EventLoopLag } {
  const metrics = new KeysmithMetrics({ processMetrics: true });
  const eventLoopLag = new EventLoopLag();
  eventLoopLag.start();
  metrics.observeEventLoop(eventLoopLag);
  core.authority.onIssued((profile) => metrics.countIssued(profile));
  return { metrics, eventLoopLag };
}

/** Read at each scrape: the CA's and the listener's notAfter, and the alert outbox (a promise on PostgreSQL). */
function watchRevocationMetrics(metrics: KeysmithMetrics, core: Core, revocation: Revocation): void {
  const caWatch = revocation.watch;
  metrics.watchCertificates(
    caCertificates({
      core,
      ocspResponder: () => revocation.signer.certificateDer,
      intermediates: () => caWatch.snapshot.published.map((i) => i.certDer),
    }),
  );
  metrics.watchAlertOutbox(() => core.repositories.alerts.outboxDepth());
  caLifeGauge(metrics, caWatch);
}

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

/** keysmith_ca_intermediate_life_left_ratio: share (0..1) of the active intermediate's life left, read at scrape time. */
function caLifeGauge(metrics: KeysmithMetrics, watch: CaWatch): void {
  new Gauge({
    name: 'keysmith_ca_intermediate_life_left_ratio',
    help: 'Share (0..1) of the active intermediate CA certificate lifetime left; below caRenewWarningPercent/100 run keysmith ca rotate.',
    registers: [metrics.registry],
    collect() {
      this.set(watch.lifeLeft());
    },
  });
}

/** The engine's options for the listener: its identity and staple, client-certificate policy, limits, shared ticket keys. */
function listenerTlsOptions(
  core: Core,
  serverCertPem: string,
  caWatch: CaWatch,
  staple: NonNullable<TlsServerOptions['ocspResponse']>,
): HttpsServerOptions['tls'] {
  const { authority, config } = core;
  return {
    key: readFileSync(core.paths.serverKey),
    cert: serverCertPem,
    ca: authority.bundlePem(),
    verifyPeer: (peer: PeerCertificates) => refuseUnknownOrRevoked(core, peer, caWatch.revokedCaSerials()),
    ocspResponse: staple,
    handshakeTimeoutMs: config.handshakeTimeout,
    maxConnections: config.maxConnections,
    ...optionalProxySources(config.proxyProtocolFrom),
    // Every node derives the same ticket key per period from the cluster secret: a ticket resumes on any node.
    ticketKeyRotationMs: TICKET_KEY_ROTATION_MS,
    ticketKeyForPeriod: (period) => core.clusterSecret.ticketKeyForPeriod(period),
  };
}

function optionalProxySources(cidrs: readonly string[]): { proxyProtocolFrom?: (remoteAddress: string) => boolean } {
  const sources = proxyProtocolSources(cidrs);
  return sources === undefined ? {} : { proxyProtocolFrom: sources };
}
