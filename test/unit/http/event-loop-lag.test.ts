import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventLoopLag, KeysmithMetrics } from '../../../src/http/index.js';

function blockFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a stall, on purpose
  }
}

function tick(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('EventLoopLag', () => {
  it('reports a stall of the loop in the window that saw it, and nothing once a quiet window has passed', async () => {
    const lag = new EventLoopLag(400);
    lag.start();
    try {
      await tick(50);
      blockFor(150);
      await tick(50);
      // Until a window completes, the snapshot is the current window.
      const during = lag.snapshot();
      assert.ok(during.maxMs >= 120, `a 150 ms stall shows as at least 120 ms of lag, got ${during.maxMs}`);
      assert.ok(during.p50Ms <= during.p99Ms && during.p99Ms <= during.maxMs);
      // Two windows later the stall has rolled out of the report.
      await tick(900);
      const after = lag.snapshot();
      assert.ok(after.maxMs < 120, `the stall left the window, got ${after.maxMs}`);
      assert.ok(after.windowMs >= 300 && after.windowMs <= 2_000, `window ${after.windowMs} ms`);
    } finally {
      lag.stop();
    }
  });

  it('is exported as keysmith_event_loop_lag_{p50,p99,max}_seconds', async () => {
    const metrics = new KeysmithMetrics();
    metrics.observeEventLoop({ snapshot: () => ({ p50Ms: 1, p99Ms: 25, maxMs: 250, windowMs: 10_000 }) });
    const text = await metrics.render();
    assert.match(text, /^keysmith_event_loop_lag_p50_seconds 0\.001$/m);
    assert.match(text, /^keysmith_event_loop_lag_p99_seconds 0\.025$/m);
    assert.match(text, /^keysmith_event_loop_lag_max_seconds 0\.25$/m);
  });
});
