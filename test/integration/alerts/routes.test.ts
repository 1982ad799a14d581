import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alertLogger, composeAlerts, type AlertComposition } from '../../../src/cli/alerts.js';
import { loadConfig } from '../../../src/config/index.js';
import type { Ledger } from '../../../src/ledger/index.js';
import { asRecord, enrol, mintIdentities, send, serve, type Identities, type Served } from '../http/harness.js';
import { certificate, DAY, FakeClock, HOUR, tempLedger, WEBHOOK_SECRET, WebhookReceiver, type TempLedger } from './helpers.js';

/**
 * GET /v1/alerts and POST /v1/alerts/run over our TLS, with the port
 * `serve` builds (cli/alerts.ts) on a real ledger and a real webhook receiver.
 */

/** The HTTP harness's fake clock reads 2030-01-01; the alert scenario lives there too. */
const NOW = Date.parse('2030-01-01T00:00:00Z');

describe('alert routes', () => {
  let ids: Identities;
  let tmp: TempLedger;
  let ledger: Ledger;
  let receiver: WebhookReceiver;
  let alerts: AlertComposition;
  let served: Served;
  before(async () => {
    ids = await mintIdentities();
  });
  after(() => ids.cleanup());
  beforeEach(async () => {
    tmp = tempLedger();
    ledger = tmp.open();
    receiver = await WebhookReceiver.start();
    const config = loadConfig({
      env: {
        KEYSMITH_ALERTS_SCHEDULE: 'off',
        KEYSMITH_ALERTS_WEBHOOK_URL: receiver.url,
        KEYSMITH_ALERTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
        KEYSMITH_ALERTS_WEBHOOK_TIMEOUT: '2s',
      },
    });
    alerts = composeAlerts({
      config,
      ledger,
      clock: new FakeClock(NOW),
      logger: alertLogger('silent'),
      holder: 'routes-test',
      random: () => 0.5,
    });
    served = await serve({ deps: { alerts: alerts.port } });
    enrol(served.ledger, ids.admin);
  });
  afterEach(async () => {
    await served.close();
    await alerts.stop();
    await receiver.close();
    ledger.close();
    tmp.remove();
  });

  it('runs detection on request and returns what it enqueued; a second run enqueues nothing', async () => {
    const cert = certificate({ issuedAt: NOW - 83 * DAY, lifetimeMs: 90 * DAY, dnsNames: ['db.internal'] });
    ledger.certificates.recordIssued(cert);
    const reply = await send(served.port, { method: 'POST', path: '/v1/alerts/run', identity: ids.admin });
    assert.equal(reply.status, 200, reply.body);
    const body = asRecord(reply.json());
    assert.equal(typeof body['run_id'], 'number');
    assert.equal(body['messages_queued'], 1);
    assert.deepEqual(body['enqueued'], [
      {
        id: 1,
        threshold: '7d',
        idempotency_key: `keysmith-${cert.serial}-7d`,
        serial: cert.serial,
        subject: cert.subject,
        spiffe_id: cert.spiffeId,
        dns_names: ['db.internal'],
        ip_addresses: [],
        not_after: new Date(cert.notAfter).toISOString(),
        days_left: 7,
        profile: 'svid',
        requester: 'cli:alice',
      },
    ]);
    await receiver.waitForRequests(1);
    const again = await send(served.port, { method: 'POST', path: '/v1/alerts/run', identity: ids.admin });
    assert.equal(again.status, 200, again.body);
    assert.deepEqual(asRecord(again.json())['enqueued'], []);
  });

  it('lists alerts with their delivery status, attempts and last error, filtered by status', async () => {
    receiver.behaviour = () => 503;
    ledger.certificates.recordIssued(certificate({ issuedAt: NOW - 84 * DAY, lifetimeMs: 90 * DAY }));
    const outcome = await alerts.runner.run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    await outcome.delivered;
    const reply = await send(served.port, { path: '/v1/alerts?status=pending', identity: ids.admin });
    assert.equal(reply.status, 200, reply.body);
    const page = asRecord(reply.json());
    assert.equal(page['next_cursor'], null);
    const items = page['items'];
    assert.ok(Array.isArray(items) && items.length === 1);
    const alert = asRecord(items[0]);
    assert.equal(alert['status'], 'pending');
    assert.equal(alert['attempts'], 1);
    assert.equal(alert['last_error'], 'HTTP 503: receiver is down');
    assert.equal(alert['threshold'], '7d');
    assert.equal(asRecord(alert['certificate'])['days_left'], 6);
    const deliveries = alert['deliveries'];
    assert.ok(Array.isArray(deliveries));
    assert.deepEqual(deliveries[0], {
      channel: 'webhook',
      recipient: `http://127.0.0.1:${receiver.port}/hooks/keysmith`,
      status: 'pending',
      attempts: 1,
      last_error: 'HTTP 503: receiver is down',
      next_attempt_at: new Date(NOW + 22_500).toISOString(),
      sent_at: null,
      idempotency_key: alert['idempotency_key'],
    });
    const sent = await send(served.port, { path: '/v1/alerts?status=sent', identity: ids.admin });
    assert.deepEqual(asRecord(sent.json())['items'], []);
    const bad = await send(served.port, { path: '/v1/alerts?status=lost', identity: ids.admin });
    assert.equal(bad.status, 400);
    assert.match(String(asRecord(bad.json())['detail']), /query parameter "status"/);
  });

  it('pages newest first with a cursor', async () => {
    for (let i = 0; i < 3; i += 1)
      ledger.certificates.recordIssued(certificate({ issuedAt: NOW - 84 * DAY + i * HOUR, lifetimeMs: 90 * DAY }));
    const outcome = await alerts.runner.run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    await outcome.delivered;
    const first = asRecord((await send(served.port, { path: '/v1/alerts?limit=2', identity: ids.admin })).json());
    const ids1 = (first['items'] as unknown[]).map((item) => asRecord(item)['id']);
    assert.deepEqual(ids1, [3, 2]);
    const second = asRecord(
      (await send(served.port, { path: `/v1/alerts?limit=2&cursor=${String(first['next_cursor'])}`, identity: ids.admin })).json(),
    );
    assert.deepEqual(
      (second['items'] as unknown[]).map((item) => asRecord(item)['id']),
      [1],
    );
    assert.equal(second['next_cursor'], null);
  });

  it('answers 409 while a run is still delivering', async () => {
    receiver.behaviour = () => 'hang';
    ledger.certificates.recordIssued(certificate({ issuedAt: NOW - 83 * DAY, lifetimeMs: 90 * DAY }));
    const first = await send(served.port, { method: 'POST', path: '/v1/alerts/run', identity: ids.admin });
    assert.equal(first.status, 200);
    const second = await send(served.port, { method: 'POST', path: '/v1/alerts/run', identity: ids.admin });
    assert.equal(second.status, 409, second.body);
    assert.equal(second.headers['content-type'], 'application/problem+json; charset=utf-8');
    assert.match(String(asRecord(second.json())['detail']), /already in progress/);
  });

  it('is for administrators only', async () => {
    enrol(served.ledger, ids.workload);
    const workload = await send(served.port, { path: '/v1/alerts', identity: ids.workload });
    assert.equal(workload.status, 403);
    const anonymous = await send(served.port, { method: 'POST', path: '/v1/alerts/run' });
    assert.equal(anonymous.status, 401);
  });
});
