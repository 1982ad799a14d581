import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/**
 * How late the event loop runs, measured over rolling windows. keysmith is
 * one event loop: whatever blocks it delays every handshake, OCSP answer
 * and SVID at once, so this is the figure that says whether the service is
 * fair to all its peers. Reported by /healthz and as
 * keysmith_event_loop_lag_{p50,p99,max}_seconds.
 */
export interface EventLoopLagSnapshot {
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** The span the figures cover: the last completed window, or the current one until a window has completed. */
  readonly windowMs: number;
}

export interface EventLoopLagSource {
  snapshot(): EventLoopLagSnapshot;
}

/** The sampling timer's period: a stall shorter than this can go unseen. */
const RESOLUTION_MS = 10;
export const DEFAULT_LAG_WINDOW_MS = 10_000;

export class EventLoopLag implements EventLoopLagSource {
  private readonly histogram: IntervalHistogram;
  private last: EventLoopLagSnapshot | undefined;
  private windowStarted = performance.now();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly windowMs = DEFAULT_LAG_WINDOW_MS) {
    this.histogram = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  }

  start(): void {
    if (this.timer !== undefined) return;
    this.histogram.enable();
    this.windowStarted = performance.now();
    this.timer = setInterval(() => this.roll(), this.windowMs);
    // A monitor never keeps the process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.histogram.disable();
  }

  snapshot(): EventLoopLagSnapshot {
    return this.last ?? this.current();
  }

  private roll(): void {
    this.last = this.current();
    this.histogram.reset();
    this.windowStarted = performance.now();
  }

  /** The histogram records when each sampling timer fired after it was due plus its period; the lag is the excess. */
  private current(): EventLoopLagSnapshot {
    const windowMs = Math.round(performance.now() - this.windowStarted);
    if (this.histogram.count === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0, windowMs };
    const lagMs = (nanoseconds: number): number => Math.max(0, Math.round((nanoseconds / 1e6 - RESOLUTION_MS) * 100) / 100);
    return {
      p50Ms: lagMs(this.histogram.percentile(50)),
      p99Ms: lagMs(this.histogram.percentile(99)),
      maxMs: lagMs(this.histogram.max),
      windowMs,
    };
  }
}
