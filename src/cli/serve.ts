import { proxyProtocolSources } from './proxy-sources.js';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { TlsAlertError, type PeerCertificates } from '../tls/index.js';
import { buildApp, buildPlainHttpApp, createHttpsServer, EventLoopLag, KeysmithMetrics } from '../http/index.js';
import { loadConfig } from '../config.js';
import { requestForCertificate, type OcspReply, type OcspResponder } from '../ocsp/index.js';
import { isPromise } from '../shared/awaitable-flow.js';
import { stringOption, type Command } from './args.js';
import { clientCertificateVerdict, composeAcme, openCore, openRevocation, openSvid, publicUrl, revocationBaseUrl, type Core } from './compose.js';
import type { AcmeHandler } from '../acme/index.js';
import { alertLogger, alertMetricsOn, composeAlerts } from './alerts.js';
import { curlLine } from './commands.js';
import { databaseHealth, ledgerHealthCheck } from './database-health.js';
import { startRevocationFeed } from './cluster-revocations.js';
import type { FeedErrorContext } from '../ledger/index.js';
import { startNoncePruning } from './nonce-pruning.js';

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
    const loaded = loadConfig({ env: process.env, ...(file === undefined ? {} : { file }) });
    // Port 0: bind first, so the URLs written into certificates and printed below carry the port the listener got.
    const reserved = loaded.listen.port === 0 ? await reservePort(loaded.listen.host) : undefined;
    const config = reserved === undefined ? loaded : { ...loaded, listen: { host: loaded.listen.host, port: reserved.port } };
    let core;
    let server;
    try {
      core = await openCore(config);
      server = await startServer(core, reserved === undefined ? {} : { listener: reserved.listener });
    } catch (err) {
      await core?.close();
      reserved?.listener.close();
      throw err;
    }
    for (const line of core.notices) console.log(line);
    console.log(`keysmith listening on ${publicUrl(config)} (trust domain ${config.trustDomain}, mTLS ${config.mtlsMode})`);
    if (config.ocspHttpListen !== undefined) console.log(`OCSP, CRL and CA certificate over plain HTTP on ${revocationBaseUrl(config)}`);
    console.log(`list certificates as the admin:\n  ${curlLine(core)}`);
    await new Promise<void>((resolve) => {
      const stop = (signal: NodeJS.Signals): void => {
        console.log(`${signal}: draining in-flight requests (up to ${config.shutdownGraceMs} ms)`);
        void server
          .close(config.shutdownGraceMs)
          .then(() => core.close())
          .catch((err: unknown) => console.error(`keysmith: closing the ledger failed: ${err instanceof Error ? err.message : String(err)}`))
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
}

/** Binds port 0 on `host` and reports the port; the TLS server adopts the listener, so the port is never free in between. */
async function reservePort(host: string): Promise<{ readonly listener: NetServer; readonly port: number }> {
  const listener = createNetServer();
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject);
    listener.listen(0, host, () => {
      listener.off('error', reject);
      resolve();
    });
  });
  const address = listener.address();
  if (address === null || typeof address === 'string') throw new Error(`could not bind a port on ${host}`);
  return { listener, port: address.port };
}

export async function startServer(core: Core, options: StartOptions = {}): Promise<RunningServer & { readonly port: number }> {
  const { config, ledger, repositories, authority, clock } = core;
  const metrics = new KeysmithMetrics({ processMetrics: true });
  const eventLoopLag = new EventLoopLag();
  eventLoopLag.start();
  metrics.observeEventLoop(eventLoopLag);
  authority.onIssued((profile) => metrics.countIssued(profile));
  // The OCSP responder certificate is issued before the first request can ask for a status.
  const revocation = await openRevocation(core);
  // Expiry alerts: the routes get their port now; the schedule starts once the listener is up.
  const alerts = composeAlerts({ config, ledger: repositories, clock, logger: alertLogger(config.logLevel), metrics: alertMetricsOn(metrics.registry) });
  // A batch item's unexpected failure reaches the caller only as 'internal'; its cause goes to the log once the app exists.
  let logInternal: (error: unknown) => void = () => undefined;
  const svid = await openSvid(core, { onInternalError: (error) => logInternal(error) });
  let logAcmeInternal: (error: unknown, context: { readonly method: string; readonly path: string }) => void = () => undefined;
  const acme = options.acme ?? composeAcme(core, { onInternalError: (error, context) => logAcmeInternal(error, context), metrics: metrics.registry });
  const database = databaseHealth(ledger, { clock });
  const app = await buildApp({
    certificates: repositories.certificates,
    revoker: authority,
    bundle: {
      pem: () => authority.bundlePem(),
      authorities: () => [authority.material.root.certDer],
      issuers: () => [authority.material.intermediate.certDer, authority.material.root.certDer],
      sequence: () => 1,
      jwtAuthorities: () => svid.jwtAuthorities(),
    },
    health: [
      ledgerHealthCheck(ledger.kind, database),
      { name: 'ca', check: () => ({ ok: authority.material.intermediate.keyObject.type === 'private' }) },
      {
        name: 'server_certificate',
        check: () => {
          const notAfter = serverCertificateNotAfter(core);
          return notAfter > clock.now() ? { ok: true } : { ok: false, detail: 'the listener certificate has expired' };
        },
      },
    ],
    database,
    revokedSerials: core.revokedSerials,
    eventLoopLag,
    trustDomain: config.trustDomain,
    mtlsMode: config.mtlsMode,
    clock,
    metrics,
    logger: { level: config.logLevel },
    ocsp: revocation.port,
    alerts: alerts.port,
    svid,
    acme,
  });
  logInternal = (err) => app.log.error({ err }, 'SVID batch item failed');
  logAcmeInternal = (err, context) => app.log.error({ err, ...context }, 'ACME internal error');
  revocation.start((err) => app.log.error({ err }, 'OCSP responder rotation or CRL rebuild failed'));
  // PostgreSQL: revocations made on other nodes reach this one's OCSP cache and client-certificate checks.
  // LISTENing before the listener takes its first request: the cache reads nothing on a hit there, so it must
  // hear every revocation committed after any of its fills began (a fill before LISTEN would wait for the 5 s poll).
  const feed = await startRevocationFeed(
    ledger,
    { source: revocation.source, crl: revocation.crl, revokedSerials: core.revokedSerials },
    (err, context) => app.log.warn({ err, context }, FEED_TROUBLE[context]),
  );
  const serverCertPem = readFileSync(core.paths.serverCert, 'utf8');
  // Stapling (RFC 8446 §4.4.2.1): the request for our own leaf is built once; answers come from the responder's cache.
  const stapleRequest = requestForCertificate(firstCertificateDer(serverCertPem), authority.material.intermediate.certDer);
  const staples = stapler(revocation.port.responder, stapleRequest);
  // The first handshakes get a staple too: asked once before the listener opens (on PostgreSQL the answer comes later).
  await staples.prime();
  const server = createHttpsServer({
    tls: {
      key: readFileSync(core.paths.serverKey),
      cert: serverCertPem,
      ca: authority.bundlePem(),
      verifyPeer: (peer: PeerCertificates) => refuseUnknownOrRevoked(core, peer),
      ocspResponse: staples.staple,
      handshakeTimeoutMs: config.handshakeTimeout,
      maxConnections: config.maxConnections,
      ...optionalProxySources(config.proxyProtocolFrom),
      // Every node derives the same ticket key per period from the cluster secret: a ticket resumes on any node.
      ticketKeyRotationMs: TICKET_KEY_ROTATION_MS,
      ticketKeyForPeriod: (period) => core.clusterSecret.ticketKeyForPeriod(period),
    },
    mtlsMode: config.mtlsMode,
    app,
    metrics,
    timeouts: { headersMs: config.headersTimeout, requestMs: config.requestTimeout, keepAliveMs: config.keepAliveTimeout },
  });
  try {
    await server.listen(options.listener ?? config.listen.port, config.listen.host);
  } catch (err) {
    revocation.stop();
    await feed?.stop();
    throw err;
  }
  // SQLite: WAL checkpoints from here on run in a worker thread, not inside a commit on the event loop.
  const checkpointer =
    ledger.kind === 'sqlite'
      ? ledger.ledger.startCheckpoints({
          everyMs: config.ledgerCheckpointInterval,
          onError: (err) => app.log.error({ err }, 'ledger WAL checkpoint failed'),
        })
      : undefined;
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.listen.port;
  // Off by default: only for relying parties that follow nothing but http:// AIA and CRL URLs.
  const plain = config.ocspHttpListen === undefined ? undefined : await buildPlainHttpApp({ ocsp: revocation.port, clock, logger: { level: config.logLevel } });
  if (plain !== undefined && config.ocspHttpListen !== undefined) {
    try {
      await plain.listen({ host: config.ocspHttpListen.host, port: config.ocspHttpListen.port });
    } catch (err) {
      revocation.stop();
      await Promise.all([checkpointer?.stop(), feed?.stop()]);
      await Promise.all([server.close(0), plain.close()]);
      throw err;
    }
  }
  // Spent ACME nonces go once expired (bounded passes, every minute).
  const noncePruning = startNoncePruning(ledger.ledger.nonces, clock, (err) => app.log.error({ err }, 'pruning spent ACME nonces failed'));
  // The catch-up runs in the background; a failure there is logged by the schedule, never fatal.
  alerts.start().catch((err: unknown) => app.log.error({ err }, 'expiry alert schedule failed to start'));
  return {
    port,
    close: async (graceMs) => {
      eventLoopLag.stop();
      revocation.stop();
      await alerts.stop(graceMs);
      await Promise.all([server.close(graceMs), plain?.close()]);
      await noncePruning.stop();
      await Promise.all([checkpointer?.stop(), feed?.stop()]);
    },
  };
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
function refuseUnknownOrRevoked(core: Core, peer: PeerCertificates): void {
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

function firstCertificateDer(pem: string): Uint8Array {
  return new X509Certificate(pem).raw;
}

let cachedNotAfter: { path: string; notAfter: number } | undefined;

function serverCertificateNotAfter(core: Core): number {
  if (cachedNotAfter?.path !== core.paths.serverCert) {
    const pem = readFileSync(core.paths.serverCert, 'utf8');
    const match = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(pem);
    const notAfter = match === null ? 0 : Date.parse(new X509Certificate(match[0]).validTo);
    cachedNotAfter = { path: core.paths.serverCert, notAfter };
  }
  return cachedNotAfter.notAfter;
}

function optionalProxySources(cidrs: readonly string[]): { proxyProtocolFrom?: (remoteAddress: string) => boolean } {
  const sources = proxyProtocolSources(cidrs);
  return sources === undefined ? {} : { proxyProtocolFrom: sources };
}
