import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeysmithMetrics, type AlertOutboxDepth, type WatchedCertificate } from '../../../src/http/index.js';
import { routeLabel } from '../../../src/http/routes/metrics.js';

function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

const NOT_AFTER = 'keysmith_certificate_not_after_timestamp_seconds';

describe('KeysmithMetrics: gauges read at each scrape', () => {
  it('shows each listed certificate by role and serial, and follows the list as it changes (rotation)', async () => {
    const metrics = new KeysmithMetrics();
    let list: WatchedCertificate[] = [
      { role: 'root', serial: '0a', notAfter: 4_102_444_800_000 },
      { role: 'intermediate', serial: '0b', notAfter: 1_900_000_000_999 },
      { role: 'intermediate', serial: '0c', notAfter: 1_950_000_000_000 },
    ];
    metrics.watchCertificates(() => list);
    assert.deepEqual(samples(await metrics.render(), NOT_AFTER), [
      `${NOT_AFTER}{role="root",serial="0a"} 4102444800`,
      `${NOT_AFTER}{role="intermediate",serial="0b"} 1900000000`,
      `${NOT_AFTER}{role="intermediate",serial="0c"} 1950000000`,
    ]);
    // The old intermediate retired: its series goes at the next scrape.
    list = list.filter((c) => c.serial !== '0b');
    assert.deepEqual(samples(await metrics.render(), NOT_AFTER), [
      `${NOT_AFTER}{role="root",serial="0a"} 4102444800`,
      `${NOT_AFTER}{role="intermediate",serial="0c"} 1950000000`,
    ]);
  });

  it('waits for a source that answers later (PostgreSQL), and leaves a gauge empty, counted, when its source fails', async () => {
    const metrics = new KeysmithMetrics();
    let depth: Promise<AlertOutboxDepth> = Promise.resolve({ waiting: 3, pending: 2, failed: 1 });
    metrics.watchAlertOutbox(() => depth);
    metrics.watchCertificates(async () => {
      throw new Error('listener certificate unreadable');
    });
    const first = await metrics.render();
    assert.deepEqual(samples(first, 'keysmith_alert_outbox_depth'), [
      'keysmith_alert_outbox_depth{state="waiting"} 3',
      'keysmith_alert_outbox_depth{state="pending"} 2',
      'keysmith_alert_outbox_depth{state="failed"} 1',
    ]);
    assert.deepEqual(samples(first, NOT_AFTER), []);
    // Counted in the scrape where the read failed, not the next one.
    assert.deepEqual(samples(first, 'keysmith_metrics_collect_failures_total'), [
      `keysmith_metrics_collect_failures_total{metric="${NOT_AFTER}"} 1`,
    ]);
    depth = Promise.reject(new Error('database down'));
    const second = await metrics.render();
    assert.deepEqual(samples(second, 'keysmith_alert_outbox_depth'), []);
    assert.deepEqual(samples(second, 'keysmith_metrics_collect_failures_total'), [
      `keysmith_metrics_collect_failures_total{metric="${NOT_AFTER}"} 2`,
      'keysmith_metrics_collect_failures_total{metric="keysmith_alert_outbox_depth"} 1',
    ]);
  });

  it('counts OCSP answers and ACME order outcomes by label', async () => {
    const metrics = new KeysmithMetrics();
    metrics.countOcspAnswer('good', 2);
    metrics.countOcspAnswer('tryLater');
    metrics.countAcmeOrder('invalid');
    const text = await metrics.render();
    assert.deepEqual(samples(text, 'keysmith_ocsp_responses_total'), [
      'keysmith_ocsp_responses_total{status="good"} 2',
      'keysmith_ocsp_responses_total{status="tryLater"} 1',
    ]);
    assert.deepEqual(samples(text, 'keysmith_acme_orders_total'), ['keysmith_acme_orders_total{outcome="invalid"} 1']);
  });

  it('leaves out the default metrics named like counters that are gauges', async () => {
    const text = await new KeysmithMetrics({ processMetrics: true }).render();
    assert.match(text, /^# TYPE keysmith_nodejs_active_handles gauge$/m);
    assert.doesNotMatch(text, /_active_(handles|requests|resources)_total/);
  });
});

describe('route labels', () => {
  it("are the route as written: fastify's escaped colon is one colon, parameters stay", () => {
    assert.equal(routeLabel('/v1/svid/x509::batch'), '/v1/svid/x509:batch');
    assert.equal(routeLabel('/v1/certificates/:serial'), '/v1/certificates/:serial');
    assert.equal(routeLabel('/ocsp/*'), '/ocsp/*');
  });
});
