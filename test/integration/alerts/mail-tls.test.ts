import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import { alertSettings, composeAlerts, createMailTransport } from '../../../src/cli/alerts.js';
import { loadConfig, type Config } from '../../../src/config/index.js';
import type { Ledger } from '../../../src/ledger/index.js';
import { portOf } from '../../helpers/processes.js';
import { certificate, DAY, FakeClock, freshLedgerEachTest, mailConfigFor, makeRunner, MemoryLogger, T0 } from './helpers.js';
import { ScriptedSmtpServer } from './smtp-peers.js';

/**
 * SMTP credentials never cross in clear text: with a user
 * and password and no TLS from the first byte, STARTTLS is mandatory; a server
 * that does not offer it, or an attacker who strips or refuses it, gets
 * neither AUTH nor the mail. Only the opt-out by name sends them in clear.
 * The server's certificate is verified, against alertsSmtpCaFile when set.
 */

const CREDENTIALS = { KEYSMITH_ALERTS_SMTP_USER: 'relay-user', KEYSMITH_ALERTS_SMTP_PASSWORD: 'relay-password-123' };
/** What AUTH PLAIN carries (RFC 4616: authzid NUL authcid NUL password, base64). */
const PLAIN_CREDENTIALS = Buffer.from('\u0000relay-user\u0000relay-password-123').toString('base64');

function mailConfig(port: number, extra: NodeJS.ProcessEnv = {}): Config {
  return mailConfigFor(port, { KEYSMITH_ALERTS_SMTP_TIMEOUT: '5s', ...CREDENTIALS, ...extra });
}

describe('SMTP AUTH only over TLS', () => {
  let ledger: Ledger;
  freshLedgerEachTest((opened) => {
    ledger = opened;
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
  });

  async function runAgainst(config: Config) {
    const outcome = await makeRunner(ledger, new FakeClock(T0 + 83 * DAY), alertSettings(config, createMailTransport(config))).run({
      reason: 'manual',
    });
    assert.ok(outcome.status === 'ran');
    return outcome.delivered;
  }

  for (const offerStartTls of [false, true]) {
    it(`sends neither AUTH nor the mail when the server ${offerStartTls ? 'offers STARTTLS but refuses it (454)' : 'offers no STARTTLS'}`, async () => {
      const smtp = await ScriptedSmtpServer.start({ offerStartTls });
      try {
        assert.deepEqual(await runAgainst(mailConfig(smtp.port)), { sent: 0, retrying: 1, failed: 0, isPartial: false });
        const verbs = smtp.commands.map((c) => c.split(' ')[0]?.toUpperCase());
        assert.deepEqual(verbs, ['EHLO', 'STARTTLS'], 'STARTTLS is asked for whatever EHLO said, and nothing follows its refusal');
        assert.ok(!smtp.commands.some((c) => /^AUTH\b/i.test(c)), 'the server never saw AUTH');
        assert.ok(!smtp.commands.some((c) => c.includes(PLAIN_CREDENTIALS)), 'the credentials never crossed');
        assert.deepEqual(smtp.messages, []);
        assert.match(
          ledger.alerts.list().items[0]?.lastError ?? '',
          /^the SMTP server 127\.0\.0\.1 did not complete STARTTLS \(.+\); credentials are sent only over TLS, so nothing was sent \(alertsSmtpSecure for TLS from the first byte, or alertsSmtpAllowPlaintextAuth to opt out\)$/,
        );
      } finally {
        await smtp.close();
      }
    });
  }

  it('sends them in clear text only with alertsSmtpAllowPlaintextAuth, and says so at start', async () => {
    const smtp = await ScriptedSmtpServer.start({ offerStartTls: false });
    try {
      const config = mailConfig(smtp.port, { KEYSMITH_ALERTS_SMTP_ALLOW_PLAINTEXT_AUTH: 'true' });
      const logger = new MemoryLogger();
      const composed = composeAlerts({
        config: { ...config, alertsSchedule: 'off' },
        ledger,
        clock: new FakeClock(T0 + 83 * DAY),
        logger,
        random: () => 0.5,
      });
      assert.ok(logger.messages('warn').some((m) => /alertsSmtpAllowPlaintextAuth is set: SMTP credentials go out in clear text/.test(m)));
      const outcome = await composed.runner.run({ reason: 'manual' });
      assert.ok(outcome.status === 'ran');
      assert.deepEqual(await outcome.delivered, { sent: 1, retrying: 0, failed: 0, isPartial: false });
      await composed.stop();
      assert.ok(smtp.commands.includes(`AUTH PLAIN ${PLAIN_CREDENTIALS}`), 'in clear text, as the operator chose');
      assert.equal(smtp.messages.length, 1);
    } finally {
      await smtp.close();
    }
  });

  it('logs no warning and requires no STARTTLS when no credentials are set', async () => {
    const smtp = await ScriptedSmtpServer.start({ offerStartTls: false });
    try {
      const config = loadConfig({
        env: {
          KEYSMITH_ALERTS_SMTP_HOST: '127.0.0.1',
          KEYSMITH_ALERTS_SMTP_PORT: String(smtp.port),
          KEYSMITH_ALERTS_MAIL_FROM: 'keysmith@pki.example',
          KEYSMITH_ALERTS_MAIL_TO: 'ops@example.org',
        },
      });
      const logger = new MemoryLogger();
      composeAlerts({ config: { ...config, alertsSchedule: 'off' }, ledger, logger });
      assert.deepEqual(logger.messages('warn'), []);
      assert.deepEqual(await runAgainst(config), { sent: 1, retrying: 0, failed: 0, isPartial: false });
      assert.ok(!smtp.commands.some((c) => /^AUTH\b/i.test(c)));
    } finally {
      await smtp.close();
    }
  });
});

describe('SMTP STARTTLS with a verified certificate', () => {
  let dir: string;
  let caFile: string;
  let smtp: SMTPServer;
  let port: number;
  const logins: { username: string | undefined; secure: boolean }[] = [];
  let ledger: Ledger;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'keysmith-smtp-tls-'));
    caFile = join(dir, 'relay.pem');
    const keyFile = join(dir, 'relay.key');
    // A self-signed relay certificate for 127.0.0.1: trusted only through alertsSmtpCaFile.
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        keyFile,
        '-out',
        caFile,
        '-days',
        '1',
        '-subj',
        '/CN=relay.test',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore', timeout: 20_000 },
    );
    smtp = new SMTPServer({
      secure: false,
      key: readFileSync(keyFile),
      cert: readFileSync(caFile),
      authMethods: ['PLAIN', 'LOGIN'],
      logger: false,
      onAuth(auth, session, callback) {
        logins.push({ username: auth.username, secure: session.secure });
        callback(null, { user: auth.username });
      },
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback());
      },
    });
    await new Promise<void>((resolve, reject) => {
      smtp.once('error', reject);
      smtp.listen(0, '127.0.0.1', () => resolve());
    });
    port = portOf(smtp.server.address());
  });
  after(async () => {
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    logins.length = 0;
  });
  freshLedgerEachTest((opened) => {
    ledger = opened;
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
  });

  it('logs in after STARTTLS to a relay whose certificate alertsSmtpCaFile verifies', async () => {
    const config = mailConfig(port, { KEYSMITH_ALERTS_SMTP_CA_FILE: caFile });
    const outcome = await makeRunner(ledger, new FakeClock(T0 + 83 * DAY), alertSettings(config, createMailTransport(config))).run({
      reason: 'manual',
    });
    assert.ok(outcome.status === 'ran');
    assert.deepEqual(await outcome.delivered, { sent: 1, retrying: 0, failed: 0, isPartial: false });
    assert.deepEqual(logins, [{ username: 'relay-user', secure: true }]);
  });

  it('refuses a relay certificate it cannot verify (no CA file): no AUTH, the error says why', async () => {
    const config = mailConfig(port);
    const outcome = await makeRunner(ledger, new FakeClock(T0 + 83 * DAY), alertSettings(config, createMailTransport(config))).run({
      reason: 'manual',
    });
    assert.ok(outcome.status === 'ran');
    assert.deepEqual(await outcome.delivered, { sent: 0, retrying: 1, failed: 0, isPartial: false });
    assert.deepEqual(logins, []);
    assert.match(ledger.alerts.list().items[0]?.lastError ?? '', /self[- ]signed certificate/);
  });

  it('refuses a CA file that holds no certificate, naming the setting', () => {
    const config = mailConfig(port, { KEYSMITH_ALERTS_SMTP_CA_FILE: join(dir, 'relay.key') });
    assert.throws(() => createMailTransport(config), /alertsSmtpCaFile: .*relay\.key holds no PEM certificate/);
  });
});
