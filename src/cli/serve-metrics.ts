/**
 * What `serve` measures beyond the HTTP layer: the registry and event-loop
 * lag, issuance, the CA's and listener's notAfter, the alert outbox depth and
 * the active intermediate's life left.
 */
import { Gauge } from 'prom-client';
import { EventLoopLag, KeysmithMetrics } from '../http/index.js';
import type { CaWatch } from './ca-watch.js';
import { caCertificates } from './certificate-metrics.js';
import type { Core } from './compose.js';
import type { Revocation } from './issuer-revocation.js';

/** The registry, the event-loop lag it reports, and issuance counted from the first certificate on. */
export function startMetrics(core: Core): { readonly metrics: KeysmithMetrics; readonly eventLoopLag: EventLoopLag } {
  const metrics = new KeysmithMetrics({ processMetrics: true });
  const eventLoopLag = new EventLoopLag();
  eventLoopLag.start();
  metrics.observeEventLoop(eventLoopLag);
  core.authority.onIssued((profile) => metrics.countIssued(profile));
  return { metrics, eventLoopLag };
}

/** Read at each scrape: the CA's and the listener's notAfter, and the alert outbox (a promise on PostgreSQL). */
export function watchRevocationMetrics(metrics: KeysmithMetrics, core: Core, revocation: Revocation): void {
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
