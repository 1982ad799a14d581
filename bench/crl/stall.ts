/**
 * The longest the event loop went without running a 1 ms timer, while a
 * piece of work was in flight: what a /healthz request arriving at the worst
 * moment would have waited, less the request's own cost.
 */
export class StallMonitor {
  private last = performance.now();
  private maxGapMs = 0;
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => {
      const now = performance.now();
      this.maxGapMs = Math.max(this.maxGapMs, now - this.last);
      this.last = now;
    }, 1);
  }

  /** Stops and returns the longest gap between two ticks, in ms (a free loop shows ~1-2 ms). */
  stop(): number {
    clearInterval(this.timer);
    return Math.max(this.maxGapMs, performance.now() - this.last);
  }
}
