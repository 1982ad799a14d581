import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, loadConfig, parseAlertThresholds } from '../../../src/config/index.js';

const DAY = 86_400_000;

describe('alert configuration', () => {
  it('defaults to 09:00 UTC daily, 7 days, one message per certificate', () => {
    const config = loadConfig({ env: {} });
    assert.equal(config.alertsSchedule, '0 9 * * *');
    assert.deepEqual(config.alertsThresholds, [{ withinMs: 7 * DAY, profiles: null }]);
    assert.equal(config.alertsMode, 'per-certificate');
    assert.equal(config.alertsWebhookTimeout, 10_000);
    assert.equal(config.alertsMaxPerRun, 100);
    assert.equal(config.alertsMaxPerRecipient, 20);
    assert.equal(config.alertsMaxAttempts, 8);
    assert.equal(config.alertsWebhookUrl, undefined);
  });

  it('reads a threshold list, tightest first, optionally scoped to profiles', () => {
    assert.deepEqual(parseAlertThresholds('30d:root+intermediate, 7d'), [
      { withinMs: 7 * DAY, profiles: null },
      { withinMs: 30 * DAY, profiles: ['intermediate', 'root'] },
    ]);
    assert.throws(() => parseAlertThresholds('7d,7d:root'), /given twice/);
    assert.throws(() => parseAlertThresholds('7d:leaf'), /unknown profile leaf/);
    assert.throws(() => parseAlertThresholds('7d,,30d'), /separated by commas/);
    assert.throws(() => parseAlertThresholds('0d'), /from 1s to 3650d/);
  });

  it('reads every KEYSMITH_ALERTS_* variable', () => {
    const config = loadConfig({
      env: {
        KEYSMITH_ALERTS_SCHEDULE: '*/30 * * * *',
        KEYSMITH_ALERTS_THRESHOLDS: '30d,7d',
        KEYSMITH_ALERTS_MODE: 'digest',
        KEYSMITH_ALERTS_WEBHOOK_URL: 'https://hooks.example.org/keysmith',
        KEYSMITH_ALERTS_WEBHOOK_SECRET: 'sixteen chars at least',
        KEYSMITH_ALERTS_WEBHOOK_TIMEOUT: '30s',
        KEYSMITH_ALERTS_SMTP_HOST: 'smtp.example.org',
        KEYSMITH_ALERTS_SMTP_PORT: '465',
        KEYSMITH_ALERTS_SMTP_SECURE: 'true',
        KEYSMITH_ALERTS_SMTP_USER: 'keysmith',
        KEYSMITH_ALERTS_SMTP_PASSWORD: 'hunter2',
        KEYSMITH_ALERTS_MAIL_FROM: 'keysmith <pki@example.org>',
        KEYSMITH_ALERTS_MAIL_TO: 'ops@example.org,oncall@example.org',
        KEYSMITH_ALERTS_MAX_PER_RUN: '50',
        KEYSMITH_ALERTS_MAX_PER_RECIPIENT: '5',
        KEYSMITH_ALERTS_MAX_ATTEMPTS: '3',
      },
    });
    assert.equal(config.alertsSchedule, '*/30 * * * *');
    assert.equal(config.alertsThresholds.length, 2);
    assert.equal(config.alertsMode, 'digest');
    assert.equal(config.alertsWebhookTimeout, 30_000);
    assert.equal(config.alertsSmtpPort, 465);
    assert.equal(config.alertsSmtpSecure, true);
    assert.deepEqual(config.alertsMailTo, ['ops@example.org', 'oncall@example.org']);
    assert.equal(config.alertsMaxPerRun, 50);
    assert.equal(config.alertsMaxPerRecipient, 5);
    assert.equal(config.alertsMaxAttempts, 3);
  });

  it('names each mistake and never echoes a secret or the webhook URL', () => {
    const problems = (env: NodeJS.ProcessEnv): string => {
      try {
        loadConfig({ env });
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      assert.fail('expected a ConfigError');
    };
    const text = problems({
      KEYSMITH_ALERTS_WEBHOOK_URL: 'ftp://hooks.example.org/?token=s3cr3t',
      KEYSMITH_ALERTS_WEBHOOK_SECRET: 'short',
      KEYSMITH_ALERTS_SCHEDULE: 'daily',
    });
    assert.match(text, /KEYSMITH_ALERTS_WEBHOOK_URL \(alertsWebhookUrl\): expected an http:\/\/ or https:\/\/ URL/);
    assert.match(text, /KEYSMITH_ALERTS_WEBHOOK_SECRET \(alertsWebhookSecret\): expected at least 16 characters/);
    assert.match(text, /KEYSMITH_ALERTS_SCHEDULE \(alertsSchedule\): expected a cron expression/);
    assert.doesNotMatch(text, /s3cr3t|short/);
    assert.match(
      problems({ KEYSMITH_ALERTS_WEBHOOK_URL: 'https://hooks.example.org/' }),
      /alertsWebhookSecret: expected with alertsWebhookUrl/,
    );
    const mail = problems({ KEYSMITH_ALERTS_MAIL_TO: 'ops@example.org' });
    assert.match(mail, /alertsSmtpHost: expected: mail alerts need/);
    assert.match(mail, /alertsMailFrom: expected: mail alerts need/);
  });
});
