import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostileService } from './harness.js';

describe('the hostile-suite harness', () => {
  let service: HostileService;
  before(async () => {
    service = await HostileService.start();
  });
  after(async () => {
    await service.stop();
  });

  it('runs keysmith serve as a child whose health, memory and ledger it can read', async () => {
    await service.assertHealthy('after start');
    assert.ok((await service.rssBytes()) > 10 * 1024 * 1024, 'a running Node process holds more than 10 MiB');
    // The first start issues the listener and admin certificates (and the OCSP signer) into the ledger.
    assert.ok(service.certificateCount() >= 2);
    const probe = await service.startLatencyProbe(20);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const report = await probe.stop();
    assert.ok(report.probes.length >= 3, report.describe());
    assert.deepEqual(report.failures, [], report.describe());
  });

  it('finds the event loop lag in /healthz', async () => {
    const body = JSON.parse(await service.healthzBody()) as { status: string; event_loop?: { lag_p99_ms: number; window_ms: number } };
    assert.equal(body.status, 'ok');
    assert.equal(typeof body.event_loop?.lag_p99_ms, 'number');
    assert.ok((body.event_loop?.window_ms ?? -1) >= 0);
  });
});
