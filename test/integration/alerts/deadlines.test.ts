import { createServer } from 'node:http';
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ALERT_LEASE, AlertRunner, type AlertSettings, type MailTransport, type OutgoingMail } from '../../../src/alerts/index.js';
import { alertSettings, createMailTransport } from '../../../src/cli/alerts.js';
import { loadConfig, type Config } from '../../../src/config/index.js';
import type { Ledger } from '../../../src/ledger/index.js';
import { systemClock } from '../../../src/shared/clock.js';
import { portOf } from '../../helpers/processes.js';
import {
  certificate,
  DAY,
  FakeClock,
  freshLedgerEachTest,
  mailConfigFor,
  makeRunner,
  MemoryLogger,
  settings,
  T0,
  tempLedger,
  WEBHOOK_SECRET,
  WebhookReceiver,
  webhookTo,
  type TempLedger,
} from './helpers.js';
import { DrippingHttpPeer, ScriptedSmtpServer, StreamingWebhook } from './smtp-peers.js';

/**
 * Every outbound delivery ends by its overall deadline, whatever the peer
 * does: an SMTP server that drips its EHLO reply, an HTTP
 * peer that drips its head; the lease outlives a slow delivery by its
 * heartbeat and fences out a second runner; a run stops at its own deadline.
 * The deadlines here are real and short (1-2 s); each timed assertion allows
 * a margin of a second or more for a busy machine.
 */

const GiB = 1024 ** 3;
/** What a socket and its buffers may hold of a body nobody reads. */
const UNREAD_BODY_BOUND = 32 * 1024 * 1024;

function mailConfig(port: number, extra: NodeJS.ProcessEnv = {}): Config {
  return mailConfigFor(port, { KEYSMITH_ALERTS_SMTP_TIMEOUT: '2s', ...extra });
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > end) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function runnerOn(
  ledger: Ledger,
  alertSettingsValue: AlertSettings,
  holder: string,
  logger = new MemoryLogger(),
  leaseMs = 600,
): AlertRunner {
  return new AlertRunner(
    { outbox: ledger.alerts, leases: ledger.leases, clock: systemClock, logger, holder, random: () => 0.5, leaseMs },
    alertSettingsValue,
  );
}

describe('overall deadlines for alert deliveries', () => {
  let tmp: TempLedger;
  let ledger: Ledger;
  let smtp: ScriptedSmtpServer;
  beforeEach(async () => {
    tmp = tempLedger();
    ledger = tmp.open();
    smtp = await ScriptedSmtpServer.start({ dripMs: 1_000, maxLines: 60 });
  });
  afterEach(async () => {
    await smtp.close();
    ledger.close();
    tmp.remove();
  });

  it('ends an SMTP delivery whose server drips its EHLO reply at the deadline, closes the socket, and does not hold the webhook back', async () => {
    const receiver = await WebhookReceiver.start();
    try {
      ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
      const clock = new FakeClock(T0 + 83 * DAY);
      const config = mailConfig(smtp.port, { KEYSMITH_ALERTS_MAIL_TO: 'ops@example.org, oncall@example.org' });
      const runner = makeRunner(ledger, clock, {
        ...alertSettings(config, createMailTransport(config)),
        webhook: webhookTo(receiver, 2_000),
      });
      const started = performance.now();
      const outcome = await runner.run({ reason: 'manual' });
      assert.ok(outcome.status === 'ran');
      await receiver.waitForRequests(1, 5_000);
      const webhookAfter = performance.now() - started;
      const report = await outcome.delivered;
      const elapsed = performance.now() - started;
      // The webhook went out on its own lane while the mail hung; the second mail waits for the next pass.
      assert.deepEqual(report, { sent: 1, retrying: 1, failed: 0, isPartial: true });
      assert.ok(webhookAfter < 1_500, `webhook delivered after ${webhookAfter.toFixed(0)} ms, not behind the SMTP deadline`);
      assert.ok(elapsed >= 1_950 && elapsed < 2_000 + 1_500, `delivery pass took ${elapsed.toFixed(0)} ms for a 2000 ms deadline`);
      assert.equal(smtp.connections.length, 1, 'the channel is not tried again in the same pass');
      assert.deepEqual(
        smtp.commands.map((c) => c.split(' ')[0]),
        ['EHLO'],
        'the client was still waiting for its EHLO reply',
      );
      await until(() => smtp.connections[0]?.closedAt !== undefined, 'the dripping server sees its socket closed');
      const record = smtp.connections[0];
      assert.ok(
        record?.closedAt !== undefined && record.closedAt - record.openedAt < 2_000 + 1_000,
        'the socket is destroyed at the deadline, not left half-open',
      );

      const mail = ledger.alerts.list().items[0]?.deliveries.filter((d) => d.channel === 'mail') ?? [];
      assert.equal(mail.length, 2);
      const attempted = mail.find((d) => d.messageKey !== null && d.lastError !== null);
      assert.match(attempted?.lastError ?? '', /^the SMTP exchange did not finish within 2000 ms$/);
      assert.equal(attempted?.status, 'pending', 'a missed deadline is a failed attempt with back-off');
      // DEFAULT_RETRY: 30 s base, equal jitter pinned at its midpoint.
      assert.equal(attempted?.nextAttemptAt, clock.now() + 22_500);

      const second = await runner.run({ reason: 'manual' });
      assert.equal(second.status, 'ran', 'a second run starts afterwards');
      if (second.status === 'ran') await second.delivered;
    } finally {
      await receiver.close();
    }
  });

  it('keeps the lease by its heartbeat while a delivery outlasts it: a second runner on the ledger file never runs meanwhile', async () => {
    ledger.certificates.recordIssued(certificate({ issuedAt: Date.now() - 83 * DAY, lifetimeMs: 90 * DAY }));
    const config = mailConfig(smtp.port);
    const other = tmp.open();
    try {
      // Lease 600 ms against a 2 s delivery: without the heartbeat the other runner would get in after 600 ms.
      const first = runnerOn(ledger, alertSettings(config, createMailTransport(config)), 'process-a');
      const second = runnerOn(other, alertSettings(config, createMailTransport(config)), 'process-b');
      // Both start at once: exactly one runs.
      const [outcome, raced] = await Promise.all([first.run({ reason: 'manual' }), second.run({ reason: 'manual' })]);
      assert.deepEqual(raced, { status: 'skipped', reason: 'lease-held' });
      assert.ok(outcome.status === 'ran');
      let isDelivered = false;
      const delivered = outcome.delivered.finally(() => {
        isDelivered = true;
      });
      assert.deepEqual(await first.run({ reason: 'manual' }, { wait: false }), { status: 'skipped', reason: 'busy' });
      const tries: string[] = [];
      while (!isDelivered) {
        const attempt = await second.run({ reason: 'manual' });
        if (!isDelivered) tries.push(attempt.status === 'ran' ? 'ran' : attempt.reason);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await delivered;
      assert.ok(tries.length >= 20, `${tries.length} tries`);
      assert.deepEqual([...new Set(tries)], ['lease-held'], 'never two runs at once');
      assert.equal(ledger.leases.holderOf(ALERT_LEASE, Date.now()), undefined, 'released at the end');
      const after = await second.run({ reason: 'manual' });
      assert.equal(after.status, 'ran');
      if (after.status === 'ran') await after.delivered;
    } finally {
      other.close();
    }
  });

  it('stops at once when another holder takes the lease: the attempt in flight is aborted and nothing is recorded', async () => {
    ledger.certificates.recordIssued(certificate({ issuedAt: Date.now() - 83 * DAY, lifetimeMs: 90 * DAY }));
    const config = mailConfig(smtp.port, { KEYSMITH_ALERTS_SMTP_TIMEOUT: '10s' });
    const logger = new MemoryLogger();
    const other = tmp.open();
    try {
      const runner = runnerOn(ledger, alertSettings(config, createMailTransport(config)), 'process-a', logger);
      const outcome = await runner.run({ reason: 'manual' });
      assert.ok(outcome.status === 'ran');
      await until(() => smtp.connections.length === 1, 'the delivery is in flight');
      // A process that believes the lease expired takes it (as if our heartbeat had stalled past the lifetime).
      const token = other.leases.holderOf(ALERT_LEASE, Date.now());
      assert.match(token ?? '', /^process-a#\d+$/, 'each acquisition holds the lease under its own token');
      other.leases.release(ALERT_LEASE, token ?? '');
      assert.ok(other.leases.acquire(ALERT_LEASE, 'process-b#1', Date.now(), 60_000));
      const stolenAt = performance.now();
      assert.deepEqual(await outcome.delivered, { sent: 0, retrying: 0, failed: 0, isPartial: true });
      assert.ok(performance.now() - stolenAt < 150 + 1_000, 'noticed by the next heartbeat (every 150 ms)');
      await until(() => smtp.connections[0]?.closedAt !== undefined, 'the aborted delivery closes its socket');
      const delivery = ledger.alerts.list().items[0]?.deliveries[0];
      assert.equal(delivery?.attempts, 0, 'an abandoned attempt is not counted: the new holder may be sending it');
      assert.equal(delivery?.lastError, null);
      assert.equal(other.leases.holderOf(ALERT_LEASE, Date.now()), 'process-b#1', "our release does not drop the new holder's lease");
      assert.ok(logger.messages('warn').some((m) => /lease lost to another process/.test(m)));
    } finally {
      other.close();
    }
  });

  it('cuts off the attempt in flight at stop(), records nothing for it, and closes the socket', async () => {
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
    const config = mailConfig(smtp.port, { KEYSMITH_ALERTS_SMTP_TIMEOUT: '10s' });
    const runner = makeRunner(ledger, new FakeClock(T0 + 83 * DAY), alertSettings(config, createMailTransport(config)));
    const outcome = await runner.run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    await until(() => smtp.connections.length === 1, 'the delivery is in flight');
    const stopping = performance.now();
    await runner.stop();
    assert.ok(performance.now() - stopping < 1_000, 'a hanging receiver does not hold the shutdown up');
    assert.deepEqual(await outcome.delivered, { sent: 0, retrying: 0, failed: 0, isPartial: true });
    await until(() => smtp.connections[0]?.closedAt !== undefined, 'the socket is closed');
    const delivery = ledger.alerts.list().items[0]?.deliveries[0];
    assert.equal(delivery?.attempts, 0, 'resent on the next start with the same key, as after a crash');
    assert.equal(delivery?.status, 'pending');
    assert.equal(delivery?.lastError, null);
  });

  it('ends a delivery pass at the run deadline; the attempt cut off counts as failed and the rest waits', async () => {
    for (let i = 0; i < 10; i += 1) ledger.certificates.recordIssued(certificate({ issuedAt: T0 + i * 1_000, lifetimeMs: 90 * DAY }));
    const clock = new FakeClock(T0 + 84 * DAY);
    const sent: string[] = [];
    // A slow relay that answers each mail in 400 ms and honours the abort signal, like nodemailer.
    const slow: MailTransport = {
      sendMail: (message: OutgoingMail) =>
        new Promise((resolve, reject) => {
          const timer = setTimeout(() => {
            sent.push(message.messageId);
            resolve({});
          }, 400);
          message.signal?.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new Error('aborted'));
          });
        }),
    };
    const runner = makeRunner(
      ledger,
      clock,
      settings({ mail: { from: 'keysmith@example.org', to: ['ops@example.org'], transport: slow, timeoutMs: 1_000 }, runTimeoutMs: 1_000 }),
    );
    const started = performance.now();
    const outcome = await runner.run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    const report = await outcome.delivered;
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1_000 + 1_000, `${elapsed.toFixed(0)} ms`);
    assert.equal(report.isPartial, true);
    assert.equal(report.sent, sent.length);
    assert.ok(report.sent >= 1 && report.sent <= 3, `${report.sent} sent in a 1000 ms pass of 400 ms sends`);
    assert.equal(report.retrying, 1, 'the attempt in flight at the deadline');
    const failed = ledger.alerts
      .list({ status: 'pending' })
      .items.flatMap((a) => a.deliveries)
      .filter((d) => d.lastError !== null);
    assert.equal(failed.length, 1);
    assert.equal(failed[0]?.lastError, "the alert run's deadline of 1000 ms passed");
    assert.equal(ledger.alerts.list({ status: 'pending' }).items.length, 10 - report.sent);
  });
});

describe('webhook answers judged from the head', () => {
  let ledger: Ledger;
  freshLedgerEachTest((opened) => {
    ledger = opened;
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
  });

  function hookSettings(url: string, timeoutMs: number): AlertSettings {
    return settings({ webhook: { url, secret: WEBHOOK_SECRET, timeoutMs } });
  }

  it('takes a 200 with a 1 GiB body as delivered without reading the body', async (t) => {
    const hook = await StreamingWebhook.start(200, GiB);
    try {
      const heapBefore = process.memoryUsage().heapUsed;
      const outcome = await makeRunner(ledger, new FakeClock(T0 + 83 * DAY), hookSettings(hook.url, 10_000)).run({ reason: 'manual' });
      assert.ok(outcome.status === 'ran');
      assert.deepEqual(await outcome.delivered, { sent: 1, retrying: 0, failed: 0, isPartial: false });
      await until(() => hook.closedAt.length === 1, 'the connection is closed after the head');
      t.diagnostic(`body bytes the server produced before the connection closed: ${hook.producedBytes}`);
      assert.ok(hook.producedBytes < UNREAD_BODY_BOUND, `${hook.producedBytes} bytes of the 1 GiB body left the server`);
      assert.ok(process.memoryUsage().heapUsed - heapBefore < UNREAD_BODY_BOUND, 'the heap did not take the body');
      assert.equal(ledger.alerts.list().items[0]?.status, 'sent');
    } finally {
      await hook.close();
    }
  });

  it('reads at most 4 KiB of an error answer for the last error, then drops the connection', async () => {
    const hook = await StreamingWebhook.start(503, GiB);
    try {
      const outcome = await makeRunner(ledger, new FakeClock(T0 + 83 * DAY), hookSettings(hook.url, 10_000)).run({ reason: 'manual' });
      assert.ok(outcome.status === 'ran');
      assert.deepEqual(await outcome.delivered, { sent: 0, retrying: 1, failed: 0, isPartial: false });
      await until(() => hook.closedAt.length === 1, 'the connection is closed after 4 KiB');
      assert.ok(hook.producedBytes < UNREAD_BODY_BOUND, `${hook.producedBytes} bytes of the 1 GiB body left the server`);
      assert.equal(ledger.alerts.list().items[0]?.lastError, `HTTP 503: ${'a'.repeat(200)}`);
    } finally {
      await hook.close();
    }
  });

  it('never keeps the secret or the URL token a receiver echoes in its error body', async () => {
    const server = createServer((req, res) => {
      req.resume();
      res.writeHead(401, { 'content-type': 'text/plain' }).end(`bad signature with key "${WEBHOOK_SECRET}" for ${req.url ?? ''}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const url = `http://127.0.0.1:${portOf(server.address())}/hook?token=t0ps3cret`;
      const outcome = await makeRunner(ledger, new FakeClock(T0 + 83 * DAY), hookSettings(url, 5_000)).run({ reason: 'manual' });
      assert.ok(outcome.status === 'ran');
      await outcome.delivered;
      assert.equal(ledger.alerts.list().items[0]?.lastError, 'HTTP 401: bad signature with key "[redacted]" for /hook?token=[redacted]');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('ends at its deadline against a peer that drips its head one byte at a time (never idle)', async () => {
    const peer = await DrippingHttpPeer.start(50);
    try {
      const started = performance.now();
      const outcome = await makeRunner(ledger, new FakeClock(T0 + 83 * DAY), hookSettings(peer.url, 1_000)).run({ reason: 'manual' });
      assert.ok(outcome.status === 'ran');
      assert.deepEqual(await outcome.delivered, { sent: 0, retrying: 1, failed: 0, isPartial: false });
      const elapsed = performance.now() - started;
      assert.ok(elapsed >= 950 && elapsed < 1_000 + 1_000, `${elapsed.toFixed(0)} ms for a 1000 ms deadline`);
      assert.equal(ledger.alerts.list().items[0]?.lastError, 'no answer within 1000 ms');
      await until(() => peer.closedAt.length === 1, 'the peer sees the connection closed');
      assert.ok((peer.closedAt[0] ?? Infinity) - (peer.openedAt[0] ?? 0) < 1_000 + 1_000);
    } finally {
      await peer.close();
    }
  });
});

describe('the alert lease in the ledger: fencing', () => {
  let ledger: Ledger;
  freshLedgerEachTest((opened) => {
    ledger = opened;
  });

  it('does not renew a lease that ran out, even when nobody took it', () => {
    assert.ok(ledger.leases.acquire('alerts', 'p#1', T0, 1_000));
    assert.ok(ledger.leases.renew('alerts', 'p#1', T0 + 999, 1_000));
    assert.ok(
      !ledger.leases.renew('alerts', 'p#1', T0 + 1_999, 1_000),
      'ran out at T0 + 1999: someone may have taken and released it meanwhile',
    );
    assert.ok(!ledger.leases.renew('alerts', 'p#2', T0 + 500, 1_000), 'another token of the same process is another holder');
    ledger.leases.release('alerts', 'p#2');
    assert.equal(ledger.leases.holderOf('alerts', T0 + 1_500), 'p#1', 'release compares the token');
  });
});

describe('alert delivery settings', () => {
  it('reads the deadlines and the SMTP TLS settings, with their defaults, and refuses a run deadline shorter than an attempt', () => {
    const defaults = loadConfig({ env: {} });
    assert.equal(defaults.alertsSmtpTimeout, 30_000);
    assert.equal(defaults.alertsWebhookTimeout, 10_000);
    assert.equal(defaults.alertsRunTimeout, 300_000);
    assert.equal(defaults.alertsSmtpAllowPlaintextAuth, false);
    assert.equal(defaults.alertsSmtpCaFile, undefined);
    const set = loadConfig({
      env: {
        KEYSMITH_ALERTS_SMTP_TIMEOUT: '5s',
        KEYSMITH_ALERTS_RUN_TIMEOUT: '2m',
        KEYSMITH_ALERTS_SMTP_ALLOW_PLAINTEXT_AUTH: 'true',
        KEYSMITH_ALERTS_SMTP_CA_FILE: '/etc/ssl/relay.pem',
      },
    });
    assert.deepEqual(
      [set.alertsSmtpTimeout, set.alertsRunTimeout, set.alertsSmtpAllowPlaintextAuth, set.alertsSmtpCaFile],
      [5_000, 120_000, true, '/etc/ssl/relay.pem'],
    );
    assert.throws(
      () => loadConfig({ env: { KEYSMITH_ALERTS_RUN_TIMEOUT: '20s' } }),
      /\(alertsRunTimeout\): expected at least alertsWebhookTimeout and alertsSmtpTimeout/,
    );
  });
});
