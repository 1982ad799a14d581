/**
 * Pieces `serve` (serve.ts startServer) wires together: what the trust
 * bundle routes publish, the /healthz checks, what it re-reads while it runs
 * (logged), and the ledger's background jobs (spent nonces, retention).
 */
import { bundleSequence, type JwtKeyRing } from '../ca/index.js';
import type { DatabaseHealthSource, HealthCheck, KeysmithMetrics, TrustBundleSource } from '../http/index.js';
import type { SvidService } from '../svid/index.js';
import type { CaWatch } from './ca-watch.js';
import type { Core } from './compose.js';
import { ledgerHealthCheck } from './database-health.js';
import type { Revocation } from './issuer-revocation.js';
import { listenerHealthCheck } from './listener-identity.js';
import { startNoncePruning } from './nonce-pruning.js';
import { retentionMetricsOn, startRetention } from './prune.js';

interface WiringLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** The root and every published intermediate (prepared ones before they sign); the sequence counts changes (src/ca/rotation.ts). */
export function trustBundleOf(core: Core, caWatch: CaWatch, jwtKeys: JwtKeyRing, svid: SvidService): TrustBundleSource {
  const { authority, clock } = core;
  return {
    pem: () => caWatch.bundlePem(),
    authorities: () => caWatch.authorities(),
    issuers: () => [authority.material.intermediate.certDer, authority.material.root.certDer],
    // spiffe_sequence: the latest change of any published set, X.509 intermediates or JWT keys (src/ca/bundle-sequence.ts).
    sequence: () => caWatch.monotonic(bundleSequence([jwtKeys, caWatch.x509History()], clock.now())),
    jwtAuthorities: () => svid.jwtAuthorities(),
  };
}

/** /healthz: the ledger, the CA key, the listener's own certificate, and the rotation warning. */
export function healthChecksOf(core: Core, database: DatabaseHealthSource, serverCertPem: string, caWatch: CaWatch): HealthCheck[] {
  const { ledger, repositories, authority, clock } = core;
  return [
    ledgerHealthCheck(ledger.kind, database),
    { name: 'ca', check: () => ({ ok: authority.material.intermediate.keyObject.type === 'private' }) },
    listenerHealthCheck({
      certPem: serverCertPem,
      now: () => clock.now(),
      statusOf: (serial) => repositories.certificates.statusOf(serial),
      isKnownRevoked: (serial) => core.revokedSerials.has(serial),
    }),
    // A warning, not a failure: the node is healthy, the operator has a rotation to run.
    { name: 'ca_rotation', check: () => caRotationHealth(caWatch) },
  ];
}

/** /healthz `ca_rotation`: ok, with the command to run when the active intermediate nears its end (caRenewWarningPercent). */
function caRotationHealth(watch: CaWatch): { ok: boolean; detail?: string } {
  const warning = watch.renewalWarning();
  return warning === undefined ? { ok: true } : { ok: true, detail: warning };
}

/**
 * What `serve` re-reads while it runs, each failure logged: crypto workers replaced, the JWT-SVID key
 * schedule (a key `keysmith ca rotate-jwt` prepared), the OCSP responder, CRLs and CA intermediates.
 */
export function startReloads(core: Core, log: WiringLog, jwtKeys: JwtKeyRing, revocation: Pick<Revocation, 'start' | 'watch'>): void {
  // The message only, never the error object: nothing a signing thread held reaches the log.
  core.reportCryptoWorkerErrors((error) =>
    log.warn({ workerError: error.message }, 'a crypto worker failed; its jobs were refused with 503 and it is replaced'),
  );
  jwtKeys.start({
    everyMs: core.config.jwtKeyCheckInterval,
    onError: (err) => log.error({ err }, 'reading the JWT-SVID key schedule failed; the keys loaded before stay in use'),
    onChange: () =>
      log.info({ published: jwtKeys.publishedJwks().map((jwk) => jwk.kid), signing: jwtKeys.kid }, 'JWT-SVID key schedule reloaded'),
  });
  revocation.start((err) => log.error({ err }, 'OCSP responder rotation, CRL rebuild or CA reload failed'));
  logCaChanges(log, revocation.watch);
}

/** The renewal warning now and at each change of the intermediates, and each change itself. */
function logCaChanges(log: WiringLog, caWatch: CaWatch): void {
  const logRenewal = (): void => {
    const warning = caWatch.renewalWarning();
    if (warning !== undefined) log.warn({ intermediate: caWatch.snapshot.active.serial }, warning);
  };
  logRenewal();
  caWatch.onChange((snapshot) => {
    log.info(
      { active: snapshot.active.serial, published: snapshot.published.map((i) => `${i.serial}:${i.state}`) },
      'CA intermediates changed',
    );
    logRenewal();
  });
}

/** Spent ACME nonces go once expired (bounded passes, every minute); retention (prune.ts) runs on one node at a time, under its lease. */
export function startLedgerJobs(core: Core, metrics: KeysmithMetrics, log: WiringLog): { stop(): Promise<void> } {
  const { config, ledger, repositories, clock } = core;
  const noncePruning = startNoncePruning(ledger.ledger.nonces, clock, (err) => log.error({ err }, 'pruning spent ACME nonces failed'));
  const retention = startRetention(repositories, {
    config,
    clock,
    onBatch: retentionMetricsOn(metrics.registry),
    onError: (err) => log.error({ err }, 'retention pass failed'),
    onPass: (tables) => log.info({ tables }, 'retention pass done'),
  });
  return {
    stop: async () => {
      await Promise.all([noncePruning.stop(), retention.stop()]);
    },
  };
}
