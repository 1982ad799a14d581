import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ProfileName } from '../shared/records.js';
import type { EventLoopLagSource } from './event-loop-lag.js';

export type HandshakeResult = 'ok' | 'failed' | 'resumed';

export interface KeysmithMetricsOptions {
  /** Also export Node process metrics (CPU, memory, event loop); off by default so tests stay cheap. */
  readonly processMetrics?: boolean;
}

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
    this.refusedConnections = new Counter({
      name: 'keysmith_connections_refused_total',
      help: 'TCP connections closed at once because maxConnections were open.',
      registers,
    });
    if (options.processMetrics === true) collectDefaultMetrics({ register: this.registry, prefix: 'keysmith_' });
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

  /** keysmith_event_loop_lag_seconds{quantile}: the lag over the monitor's last window, read at each scrape. */
  observeEventLoop(source: EventLoopLagSource): void {
    new Gauge({
      name: 'keysmith_event_loop_lag_seconds',
      help: 'How late the event loop ran over the last window (quantile 0.5, 0.99 and 1 = the maximum).',
      labelNames: ['quantile'],
      registers: [this.registry],
      collect() {
        const lag = source.snapshot();
        this.set({ quantile: '0.5' }, lag.p50Ms / 1000);
        this.set({ quantile: '0.99' }, lag.p99Ms / 1000);
        this.set({ quantile: '1' }, lag.maxMs / 1000);
      },
    });
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
