import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Awaitable } from '../shared/awaitable.js';
import type { ProfileName } from '../domain/certificates.js';
import type { EventLoopLagSource } from './event-loop-lag.js';

export type HandshakeResult = 'ok' | 'failed' | 'resumed';

/** What a certificate is to keysmith: the label `role` of keysmith_certificate_not_after_timestamp_seconds. */
export type WatchedCertificateRole = 'root' | 'intermediate' | 'listener' | 'ocsp_responder';

export interface WatchedCertificate {
  readonly role: WatchedCertificateRole;
  /** Lowercase hex, as the ledger writes serials. */
  readonly serial: string;
  /** Milliseconds since the epoch. */
  readonly notAfter: number;
}

/**
 * One OCSP answer: the certificate status of a SingleResponse (RFC 6960
 * §2.2: good, revoked, unknown) or, when no signed response was given, the
 * OCSPResponseStatus (§2.3) that was sent instead.
 */
export type OcspAnswerStatus =
  'good' | 'revoked' | 'unknown' | 'malformedRequest' | 'internalError' | 'tryLater' | 'sigRequired' | 'unauthorized';

/** How an ACME order ended (RFC 8555 §7.1.6): valid when finalize issued its certificate, invalid when a validation failed. */
export type AcmeOrderOutcome = 'valid' | 'invalid';

/** The alert outbox by state: deliveries not yet in a message, messages to send or retry, messages given up. */
export interface AlertOutboxDepth {
  readonly waiting: number;
  readonly pending: number;
  readonly failed: number;
}

export interface KeysmithMetricsOptions {
  /** Also export Node process metrics (CPU, memory, event loop); off by default so tests stay cheap. */
  readonly processMetrics?: boolean;
}

const COLLECT_FAILURES = 'keysmith_metrics_collect_failures_total';

/** prom-client default metrics that break the exposition conventions `promtool check metrics` enforces. */
const UNCONVENTIONAL_DEFAULT_METRICS = [
  'keysmith_nodejs_active_handles_total',
  'keysmith_nodejs_active_requests_total',
  'keysmith_nodejs_active_resources_total',
];

/**
 * keysmith's Prometheus metrics on a private Registry (never prom-client's
 * global one, so two instances in one process never collide). The
 * composition root constructs one and hands it to buildApp, the server
 * factory and whatever issues certificates.
 */
export class KeysmithMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route'>;
  private readonly issued: Counter<'profile'>;
  private readonly handshakes: Counter<'result'>;
  private readonly refusedConnections: Counter;
  private readonly negotiated: Counter<'version' | 'cipher'>;
  private readonly earlyData: Counter<'result' | 'reason'>;
  private readonly earlyDataReplays: Counter;
  private readonly ocspAnswers: Counter<'status'>;
  private readonly acmeOrders: Counter<'outcome'>;
  private readonly collectFailures: Counter<'metric'>;
  /** Reads of the watched sources under way in this scrape; the failure counter waits for them. */
  private readonly reads = new Set<Promise<void>>();

  constructor(options: KeysmithMetricsOptions = {}) {
    const registers = [this.registry];
    this.httpRequests = new Counter({
      name: 'keysmith_http_requests_total',
      help: 'HTTP requests answered, by route pattern, method and status code.',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'keysmith_http_request_duration_seconds',
      help: 'Time from request start to response end, by route pattern and method.',
      labelNames: ['method', 'route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.issued = new Counter({
      name: 'keysmith_certificates_issued_total',
      help: 'Certificates issued, by profile.',
      labelNames: ['profile'],
      registers,
    });
    this.handshakes = new Counter({
      name: 'keysmith_tls_handshakes_total',
      help: 'TLS handshakes on the listener, by result (ok, resumed, failed).',
      labelNames: ['result'],
      registers,
    });
    this.negotiated = new Counter({
      name: 'keysmith_tls_negotiated_total',
      help: 'Completed TLS handshakes on the listener, by protocol version and cipher suite: who still needs TLS 1.2 before KEYSMITH_TLS_MIN_VERSION=1.3.',
      labelNames: ['version', 'cipher'],
      registers,
    });
    this.earlyData = new Counter({
      name: 'keysmith_tls_early_data_total',
      help: 'TLS 1.3 0-RTT offered by clients, by result (accepted, rejected) and, when rejected, the reason (replay, ticket_age, other_instance, hello_retry, ...).',
      labelNames: ['result', 'reason'],
      registers,
    });
    this.earlyDataReplays = new Counter({
      name: 'keysmith_tls_early_data_replays_total',
      help: 'ClientHellos whose 0-RTT was refused because the anti-replay register had already seen them (RFC 8446 §8.2).',
      registers,
    });
    this.refusedConnections = new Counter({
      name: 'keysmith_connections_refused_total',
      help: 'TCP connections closed at once because maxConnections were open.',
      registers,
    });
    this.ocspAnswers = new Counter({
      name: 'keysmith_ocsp_responses_total',
      help: 'OCSP answers: one per SingleResponse by certificate status (good, revoked, unknown), or the error status sent instead (malformedRequest, unauthorized, tryLater, internalError).',
      labelNames: ['status'],
      registers,
    });
    this.acmeOrders = new Counter({
      name: 'keysmith_acme_orders_total',
      help: 'ACME orders that reached a final status, by outcome: valid (finalize issued the certificate), invalid (a challenge validation failed).',
      labelNames: ['outcome'],
      registers,
    });
    const reads = this.reads;
    this.collectFailures = new Counter({
      name: COLLECT_FAILURES,
      help: 'Scrapes at which a gauge could not be read (e.g. the ledger database was down); that gauge had no samples in that scrape.',
      labelNames: ['metric'],
      registers,
      // Counted in the scrape that failed: the registry asks every metric at once, this one last (see #watch).
      async collect() {
        await Promise.allSettled([...reads]);
      },
    });
    if (options.processMetrics === true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'keysmith_' });
      // Gauges named like counters (promtool: "non-counter metrics should not have _total suffix"); the same
      // figures remain by type in keysmith_nodejs_active_{handles,requests,resources}: sum() them.
      for (const name of UNCONVENTIONAL_DEFAULT_METRICS) this.registry.removeSingleMetric(name);
    }
  }

  /** `route` is the route pattern (never the raw URL, which would explode the label set). */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  countIssued(profile: ProfileName): void {
    this.issued.inc({ profile });
  }

  countHandshake(result: HandshakeResult): void {
    this.handshakes.inc({ result });
  }

  /** `cipher` is the IANA suite name (TLS_AES_128_GCM_SHA256, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, ...): nine values at most. */
  countNegotiated(version: 'TLSv1.2' | 'TLSv1.3', cipher: string): void {
    this.negotiated.inc({ version, cipher });
  }

  /**
   * keysmith_event_loop_lag_{p50,p99,max}_seconds: the lag over the monitor's
   * last window, read at each scrape. Three gauges (as prom-client's own
   * nodejs_eventloop_lag_p50_seconds), not one with a `quantile` label: that
   * label belongs to summaries, and `promtool check metrics` refuses it on a gauge.
   */
  observeEventLoop(source: EventLoopLagSource): void {
    const gauge = (name: string, what: string, read: (lag: ReturnType<EventLoopLagSource['snapshot']>) => number): void => {
      new Gauge({
        name,
        help: `How late the event loop ran over the last window: ${what}.`,
        registers: [this.registry],
        collect() {
          this.set(read(source.snapshot()) / 1000);
        },
      });
    };
    gauge('keysmith_event_loop_lag_p50_seconds', 'the median', (lag) => lag.p50Ms);
    gauge('keysmith_event_loop_lag_p99_seconds', 'the 99th percentile', (lag) => lag.p99Ms);
    gauge('keysmith_event_loop_lag_max_seconds', 'the maximum', (lag) => lag.maxMs);
  }

  countOcspAnswer(status: OcspAnswerStatus, count = 1): void {
    this.ocspAnswers.inc({ status }, count);
  }

  countAcmeOrder(outcome: AcmeOrderOutcome): void {
    this.acmeOrders.inc({ outcome });
  }

  /**
   * keysmith_certificate_not_after_timestamp_seconds{role, serial}: the
   * notAfter of each certificate `list` names (the CA's, the listener's), as
   * absolute Unix time (the cert-manager convention, so one alert rule
   * `... - time() < 7 * 86400` covers them all). `list` is asked at each
   * scrape: a rotated certificate's series goes, the new one's comes.
   */
  watchCertificates(list: () => Awaitable<readonly WatchedCertificate[]>): void {
    this.watch(
      'keysmith_certificate_not_after_timestamp_seconds',
      'notAfter of the CA certificates and the listener certificate, in seconds since the Unix epoch, by role and serial.',
      ['role', 'serial'],
      async (gauge) => {
        for (const certificate of await list())
          gauge.set({ role: certificate.role, serial: certificate.serial }, Math.floor(certificate.notAfter / 1000));
      },
    );
  }

  /** keysmith_alert_outbox_depth{state}: read from the ledger at each scrape (a promise on PostgreSQL). */
  watchAlertOutbox(depth: () => Awaitable<AlertOutboxDepth>): void {
    this.watch(
      'keysmith_alert_outbox_depth',
      'Expiry alert outbox by state: waiting (deliveries not yet in a message), pending (messages to send or retry), failed (messages given up).',
      ['state'],
      async (gauge) => {
        const current = await depth();
        gauge.set({ state: 'waiting' }, current.waiting);
        gauge.set({ state: 'pending' }, current.pending);
        gauge.set({ state: 'failed' }, current.failed);
      },
    );
  }

  /**
   * A gauge whose samples `read` sets at each scrape (awaited: prom-client's
   * collect may be async). A read that fails leaves the gauge without
   * samples for that scrape and counts in keysmith_metrics_collect_failures_total.
   */
  private watch<L extends string>(name: string, help: string, labelNames: readonly L[], read: (gauge: Gauge<L>) => Promise<void>): void {
    const { reads, collectFailures } = this;
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        const reading = read(this).catch(() => {
          this.reset();
          collectFailures.inc({ metric: name });
        });
        reads.add(reading);
        return reading.finally(() => reads.delete(reading));
      },
    });
    // The registry starts every metric's collect in registration order: the failure counter goes last, so
    // it waits for this read (this.reads) and shows a failure in the scrape where it happened.
    this.registry.removeSingleMetric(COLLECT_FAILURES);
    this.registry.registerMetric(collectFailures);
  }

  /** What became of a client's 0-RTT (the engine's EarlyDataOutcome). */
  countEarlyData(outcome: { readonly accepted: true } | { readonly accepted: false; readonly reason: string }): void {
    if (outcome.accepted) return void this.earlyData.inc({ result: 'accepted', reason: '' });
    this.earlyData.inc({ result: 'rejected', reason: outcome.reason });
    if (outcome.reason === 'replay') this.earlyDataReplays.inc();
  }

  countRefusedConnection(): void {
    this.refusedConnections.inc();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
