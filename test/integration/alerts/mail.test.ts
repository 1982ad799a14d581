import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alertKey } from '../../../src/alerts/index.js';
import { alertSettings, createMailTransport } from '../../../src/cli/alerts.js';
import { loadConfig } from '../../../src/config/index.js';
import type { Ledger } from '../../../src/ledger/index.js';
import { certificate, DAY, FakeClock, makeRunner, SmtpReceiver, T0, tempLedger, TRUST_DOMAIN, type TempLedger } from './helpers.js';

/**
 * Mail alerts through nodemailer to a real SMTP receiver (smtp-server on
 * 127.0.0.1), configured the way an operator does: KEYSMITH_ALERTS_* variables.
 */
describe('expiry alert delivery by mail (SMTP)', () => {
  let tmp: TempLedger;
  let ledger: Ledger;
  let smtp: SmtpReceiver;
  beforeEach(async () => {
    tmp = tempLedger();
    ledger = tmp.open();
    smtp = await SmtpReceiver.start();
  });
  afterEach(async () => {
    await smtp.close();
    ledger.close();
    tmp.remove();
  });

  function configFor(extra: NodeJS.ProcessEnv = {}) {
    return loadConfig({
      env: {
        KEYSMITH_ALERTS_SMTP_HOST: '127.0.0.1',
        KEYSMITH_ALERTS_SMTP_PORT: String(smtp.port),
        KEYSMITH_ALERTS_MAIL_FROM: 'keysmith <keysmith@pki.example>',
        KEYSMITH_ALERTS_MAIL_TO: 'ops@example.org, oncall@example.org',
        ...extra,
      },
    });
  }

  it('mails each recipient once per certificate, with the idempotency key as Message-ID', async () => {
    const cert = certificate({
      issuedAt: T0,
      lifetimeMs: 90 * DAY,
      spiffeId: `spiffe://${TRUST_DOMAIN}/billing`,
      dnsNames: ['billing.internal'],
    });
    ledger.certificates.recordIssued(cert);
    const clock = new FakeClock(T0 + 83 * 86_400_000);
    const config = configFor();
    const runner = makeRunner(ledger, clock, alertSettings(config, createMailTransport(config)));
    const outcome = await runner.run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    assert.deepEqual(await outcome.delivered, { sent: 2, retrying: 0, failed: 0, isPartial: false });
    await smtp.waitForMails(2);
    assert.deepEqual(
      smtp.mails
        .map((m) => m.to)
        .flat()
        .sort(),
      ['oncall@example.org', 'ops@example.org'],
    );
    const key = alertKey(cert.serial, 7 * DAY);
    for (const mail of smtp.mails) {
      assert.equal(mail.from, 'keysmith@pki.example');
      const raw = mail.raw.replace(/\r\n[ \t]+/g, ' ');
      assert.match(raw, /^Subject: \[keysmith\] certificate spiffe:\/\/keysmith\.test\/billing expires in 7 days$/m);
      assert.match(raw, new RegExp(`^Message-ID: <${key}@alerts\\.keysmith>$`, 'mi'));
      assert.match(raw, new RegExp(`^X-Keysmith-Idempotency-Key: ${key}$`, 'mi'));
      assert.match(raw, new RegExp(`serial: +${cert.serial}`));
      assert.match(raw, /DNS names: billing\.internal/);
      assert.match(raw, /requester: cli:alice/);
    }
    const again = await runner.run({ reason: 'manual' });
    assert.ok(again.status === 'ran');
    await again.delivered;
    assert.equal(smtp.mails.length, 2, 'no second mail');
  });

  it('sends one digest mail per recipient in digest mode', async () => {
    for (let i = 0; i < 3; i += 1) ledger.certificates.recordIssued(certificate({ issuedAt: T0 + i * 1000, lifetimeMs: 90 * DAY }));
    const clock = new FakeClock(T0 + 84 * DAY);
    const config = configFor({ KEYSMITH_ALERTS_MODE: 'digest', KEYSMITH_ALERTS_MAIL_TO: 'ops@example.org' });
    const outcome = await makeRunner(ledger, clock, alertSettings(config, createMailTransport(config))).run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    await outcome.delivered;
    await smtp.waitForMails(1);
    assert.equal(smtp.mails.length, 1);
    assert.match(smtp.mails[0]!.raw, /^Subject: \[keysmith\] 3 certificates expiring soon$/m);
  });

  it('records the SMTP failure and retries when the server cannot be reached', async () => {
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
    const clock = new FakeClock(T0 + 83 * DAY);
    const config = configFor({ KEYSMITH_ALERTS_SMTP_PORT: '1' });
    const outcome = await makeRunner(ledger, clock, alertSettings(config, createMailTransport(config))).run({ reason: 'manual' });
    assert.ok(outcome.status === 'ran');
    assert.deepEqual(await outcome.delivered, { sent: 0, retrying: 2, failed: 0, isPartial: false });
    assert.match(ledger.alerts.list().items[0]?.lastError ?? '', /ECONNREFUSED|connect/i);
  });
});
