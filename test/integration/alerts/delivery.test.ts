import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import {
  AlertRunner,
  ATTEMPT_HEADER,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  alertKey,
  type MailMessage,
  type MailTransport,
} from '../../../src/alerts/index.js';
import { alertMetricsOn } from '../../../src/cli/alerts.js';
import type { Ledger } from '../../../src/ledger/index.js';
import {
  certificate,
  DAY,
  FakeClock,
  HOUR,
  makeRunner,
  MemoryLogger,
  settings,
  T0,
  tempLedger,
  TRUST_DOMAIN,
  verifySignature,
  WEBHOOK_SECRET,
  WebhookReceiver,
  webhookTo,
  type TempLedger,
} from './helpers.js';

/**
 * Delivery from the outbox to a real webhook receiver on 127.0.0.1, with an
 * injected clock driving retries: exactly once per alert, signed, with an
 * idempotency key that survives resends; back-off, give-up, caps, digests.
 */

function asRecord(value: unknown): Record<string, unknown> {
  assert.ok(typeof value === 'object' && value !== null && !Array.isArray(value));
  return Object.fromEntries(Object.entries(value));
}

class MemoryMail implements MailTransport {
  readonly sent: MailMessage[] = [];
  async sendMail(message: MailMessage): Promise<unknown> {
    this.sent.push(message);
    return { messageId: message.messageId };
  }
}

describe('expiry alert delivery by webhook', () => {
  let tmp: TempLedger;
  let ledger: Ledger;
  let clock: FakeClock;
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    tmp = tempLedger();
    ledger = tmp.open();
    clock = new FakeClock();
    receiver = await WebhookReceiver.start();
  });
  afterEach(async () => {
    await receiver.close();
    ledger.close();
    tmp.remove();
  });

  it('posts one signed alert for a 90-day certificate at day 83, and never a second: not on a second run, not after a restart', async () => {
    const spiffeId = `spiffe://${TRUST_DOMAIN}/payments/api`;
    const cert = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY, spiffeId, dnsNames: ['payments.internal'], requester: 'cli:alice' });
    ledger.certificates.recordIssued(cert);
    clock.set(T0 + 83 * DAY);
    const alertSettings = settings({ webhook: webhookTo(receiver) });

    const outcome = await makeRunner(ledger, clock, alertSettings).run({ reason: 'manual' });
    assert.equal(outcome.status, 'ran');
    if (outcome.status !== 'ran') return;
    assert.deepEqual(await outcome.delivered, { sent: 1, retrying: 0, failed: 0, isPartial: false });
    assert.equal(receiver.requests.length, 1);

    const request = receiver.requests[0]!;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/hooks/keysmith?token=t0ps3cret');
    assert.equal(request.headers['content-type'], 'application/json');
    assert.ok(
      verifySignature(WEBHOOK_SECRET, request.body, request.headers[SIGNATURE_HEADER] as string | undefined),
      'HMAC-SHA256 over the body verifies',
    );
    assert.ok(!verifySignature('another secret entirely', request.body, request.headers[SIGNATURE_HEADER] as string | undefined));
    const key = alertKey(cert.serial, 7 * DAY);
    assert.equal(request.headers[IDEMPOTENCY_HEADER], key);
    assert.equal(request.headers[ATTEMPT_HEADER], '1');
    const body = asRecord(request.json());
    assert.equal(body['type'], 'keysmith.certificates.expiring');
    assert.equal(body['kind'], 'single');
    assert.equal(body['idempotency_key'], key);
    assert.equal(body['sent_at'], new Date(T0 + 83 * DAY).toISOString());
    const certificates = body['certificates'];
    assert.ok(Array.isArray(certificates) && certificates.length === 1);
    assert.deepEqual(certificates[0], {
      serial: cert.serial,
      subject: cert.subject,
      spiffe_id: spiffeId,
      dns_names: ['payments.internal'],
      ip_addresses: [],
      not_after: new Date(T0 + 90 * DAY).toISOString(),
      days_left: 7,
      profile: 'svid',
      requester: 'cli:alice',
      threshold: '7d',
      idempotency_key: key,
    });

    // Again, and again an hour later: nothing new to enqueue, nothing due.
    const again = await makeRunner(ledger, clock, alertSettings).run({ reason: 'manual' });
    assert.equal(again.status === 'ran' ? (await again.delivered).sent : -1, 0);
    clock.advance(HOUR);
    ledger.close();
    ledger = tmp.open();
    const restarted = makeRunner(ledger, clock, alertSettings, { holder: 'restarted-process' });
    assert.deepEqual(await restarted.deliverDue(), { sent: 0, retrying: 0, failed: 0, isPartial: false });
    const afterRestart = await restarted.run({ reason: 'manual' });
    assert.equal(afterRestart.status === 'ran' ? afterRestart.enqueued.length : -1, 0);
    assert.equal(receiver.requests.length, 1, 'exactly one delivery in all');

    const listed = ledger.alerts.list().items;
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.status, 'sent');
    assert.deepEqual(
      listed[0]?.deliveries.map((d) => ({
        channel: d.channel,
        recipient: d.recipient,
        status: d.status,
        attempts: d.attempts,
        key: d.messageKey,
      })),
      [{ channel: 'webhook', recipient: `http://127.0.0.1:${receiver.port}/hooks/keysmith`, status: 'sent', attempts: 1, key }],
      'listed without the token in the query',
    );
  });

  it('delivers to a receiver that is down for the first attempts once it is back, backing off in between, with one idempotency key', async () => {
    receiver.behaviour = (index) => (index < 2 ? 503 : 200);
    const cert = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY });
    ledger.certificates.recordIssued(cert);
    clock.set(T0 + 83 * DAY);
    const logger = new MemoryLogger();
    const runner = makeRunner(ledger, clock, settings({ webhook: webhookTo(receiver) }), { logger });
    const outcome = await runner.run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    assert.deepEqual(await outcome.delivered, { sent: 0, retrying: 1, failed: 0, isPartial: false });

    const pending = ledger.alerts.list().items[0]!;
    assert.equal(pending.status, 'pending');
    assert.equal(pending.attempts, 1);
    assert.equal(pending.lastError, 'HTTP 503: receiver is down');
    // Equal jitter at its midpoint: 3/4 of the 30 s base.
    assert.equal(pending.deliveries[0]?.nextAttemptAt, T0 + 83 * DAY + 22_500);
    assert.ok(logger.messages('warn').includes('expiry alert webhook delivery failed; will retry'));

    assert.deepEqual(await runner.deliverDue(), { sent: 0, retrying: 0, failed: 0, isPartial: false }, 'not due yet');
    assert.equal(receiver.requests.length, 1);
    clock.advance(23_000);
    assert.deepEqual(await runner.deliverDue(), { sent: 0, retrying: 1, failed: 0, isPartial: false });
    const second = ledger.alerts.list().items[0]!;
    // The back-off doubles: 3/4 of 60 s.
    assert.equal(second.deliveries[0]?.nextAttemptAt, clock.now() + 45_000);
    clock.advance(45_000);
    assert.deepEqual(await runner.deliverDue(), { sent: 1, retrying: 0, failed: 0, isPartial: false });

    assert.equal(receiver.requests.length, 3);
    const keys = receiver.requests.map((r) => r.headers[IDEMPOTENCY_HEADER]);
    assert.deepEqual(keys, Array(3).fill(alertKey(cert.serial, 7 * DAY)));
    assert.deepEqual(
      receiver.requests.map((r) => r.headers[ATTEMPT_HEADER]),
      ['1', '2', '3'],
    );
    const sent = ledger.alerts.list().items[0]!;
    assert.equal(sent.status, 'sent');
    assert.equal(sent.attempts, 3);
    assert.equal(await runner.nextAttemptAt(), null);
  });

  it('marks a message failed after the last attempt, keeping the last error (dropped connections, timeouts)', async () => {
    receiver.behaviour = (index) => (index === 0 ? 'drop' : 'hang');
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
    clock.set(T0 + 83 * DAY);
    const registry = new Registry();
    const logger = new MemoryLogger();
    // Metrics through the same prom-client adapter `serve` uses.
    const runner = new AlertRunner(
      {
        outbox: ledger.alerts,
        leases: ledger.leases,
        clock,
        logger,
        holder: 'metered',
        random: () => 0.5,
        metrics: alertMetricsOn(registry),
      },
      settings({ webhook: webhookTo(receiver, 300), retry: { maxAttempts: 2, baseDelayMs: 1_000, maxDelayMs: 10_000 } }),
    );
    const outcome = await runner.run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    assert.deepEqual(await outcome.delivered, { sent: 0, retrying: 1, failed: 0, isPartial: false });
    assert.match(ledger.alerts.list().items[0]?.lastError ?? '', /ECONNRESET|socket hang up/);
    clock.advance(10_000);
    assert.deepEqual(await runner.deliverDue(), { sent: 0, retrying: 0, failed: 1, isPartial: false });
    const failed = ledger.alerts.list({ status: 'failed' }).items;
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.attempts, 2);
    assert.equal(failed[0]?.lastError, 'no answer within 300 ms');
    assert.equal(ledger.alerts.list({ status: 'pending' }).items.length, 0);
    assert.ok(logger.messages('error').some((m) => /failed for good after 2 attempts/.test(m)));
    clock.advance(DAY);
    assert.deepEqual(await runner.deliverDue(), { sent: 0, retrying: 0, failed: 0, isPartial: false }, 'a failed message is not retried');
    const text = await registry.metrics();
    assert.match(text, /keysmith_alerts_enqueued_total 1/);
    assert.match(text, /keysmith_alert_delivery_retries_total\{channel="webhook"\} 1/);
    assert.match(text, /keysmith_alert_messages_failed_total\{channel="webhook"\} 1/);
  });

  it('caps messages per recipient and per run; what is held back goes out on the next runs', async () => {
    for (let i = 0; i < 5; i += 1) ledger.certificates.recordIssued(certificate({ issuedAt: T0 + i * HOUR, lifetimeMs: 90 * DAY }));
    clock.set(T0 + 84 * DAY);
    const mail = new MemoryMail();
    const alertSettings = settings({
      webhook: webhookTo(receiver),
      mail: { from: 'keysmith@example.org', to: ['ops@example.org', 'oncall@example.org'], transport: mail },
      caps: { perRun: 5, perRecipient: 2 },
    });
    const runner = makeRunner(ledger, clock, alertSettings);
    const first = await runner.run({ reason: 'manual' });
    assert.ok(first.status === 'ran');
    assert.equal(first.enqueued.length, 5);
    assert.equal(first.messages, 5, 'two per recipient, five in all');
    await first.delivered;
    assert.equal(receiver.requests.length + mail.sent.length, 5);
    // Most urgent first across recipients: alert 1 to all three, alert 2 to both mail recipients.
    assert.equal(receiver.requests.length, 1);
    assert.equal(mail.sent.length, 4);
    const heldBack = ledger.alerts.list({ status: 'pending' }).items;
    assert.equal(heldBack.length, 4, 'only the first alert went everywhere');
    assert.ok(heldBack.every((a) => a.deliveries.some((d) => d.messageKey === null)));

    const counts: number[] = [];
    for (let run = 0; run < 3; run += 1) {
      clock.advance(DAY);
      const next = await runner.run({ reason: 'manual' });
      assert.ok(next.status === 'ran');
      assert.equal(next.enqueued.length, 0);
      await next.delivered;
      counts.push(next.messages);
    }
    assert.deepEqual(counts, [5, 5, 0]);
    assert.equal(receiver.requests.length, 5);
    assert.deepEqual([...new Set(mail.sent.map((m) => m.to))].sort(), ['oncall@example.org', 'ops@example.org']);
    assert.equal(mail.sent.length, 10);
    assert.equal(ledger.alerts.list({ status: 'sent' }).items.length, 5);
    const bodies = receiver.requests.map((r) => asRecord(r.json())['certificates']);
    const notAfters = bodies.map((c) => (Array.isArray(c) ? String(asRecord(c[0])['not_after']) : ''));
    assert.deepEqual(notAfters, [...notAfters].sort(), 'most urgent first');
  });

  it('sends one digest per recipient and run in digest mode, with a key that names its contents', async () => {
    const certs = [0, 1, 2].map((i) => certificate({ issuedAt: T0 + i * HOUR, lifetimeMs: 90 * DAY }));
    for (const c of certs) ledger.certificates.recordIssued(c);
    clock.set(T0 + 84 * DAY);
    const runner = makeRunner(ledger, clock, settings({ webhook: webhookTo(receiver), mode: 'digest' }));
    const outcome = await runner.run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    assert.equal(outcome.messages, 1);
    await outcome.delivered;
    assert.equal(receiver.requests.length, 1);
    const body = asRecord(receiver.requests[0]!.json());
    assert.equal(body['kind'], 'digest');
    assert.match(String(body['idempotency_key']), /^keysmith-digest-[0-9a-f]{32}$/);
    assert.equal(receiver.requests[0]!.headers[IDEMPOTENCY_HEADER], body['idempotency_key']);
    const listed = body['certificates'];
    assert.ok(Array.isArray(listed));
    assert.deepEqual(
      listed.map((c) => asRecord(c)['serial']),
      certs.map((c) => c.serial),
    );
    assert.deepEqual(
      listed.map((c) => asRecord(c)['idempotency_key']),
      certs.map((c) => alertKey(c.serial, 7 * DAY)),
    );
    const alerts = ledger.alerts.list().items;
    assert.ok(alerts.every((a) => a.status === 'sent' && a.deliveries[0]?.messageKey === body['idempotency_key']));
  });

  it('logs one line per new alert (the log channel) and delivers nothing else when no channel is configured', async () => {
    const cert = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY, spiffeId: `spiffe://${TRUST_DOMAIN}/cache` });
    ledger.certificates.recordIssued(cert);
    clock.set(T0 + 83 * DAY + HOUR);
    const logger = new MemoryLogger();
    const outcome = await makeRunner(ledger, clock, settings(), { logger }).run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    assert.equal(outcome.messages, 0);
    const line = logger.lines.find((l) => l.message === 'certificate expires soon and has no successor');
    assert.ok(line !== undefined && line.level === 'warn');
    assert.deepEqual(asRecord(line.fields), {
      serial: cert.serial,
      identity: `spiffe://${TRUST_DOMAIN}/cache`,
      subject: cert.subject,
      profile: 'svid',
      requester: 'cli:alice',
      notAfter: new Date(cert.notAfter).toISOString(),
      daysLeft: 6,
      threshold: '7d',
      idempotencyKey: alertKey(cert.serial, 7 * DAY),
    });
    assert.equal(ledger.alerts.list().items[0]?.status, 'sent', 'logged is all there is to do');
  });
});
