import { z } from 'zod';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IDEMPOTENCY_HEADER } from '../../../src/alerts/index.js';
import { openLedger, openLedgerBackend } from '../../../src/ledger/index.js';
import { createTestDatabase } from '../../helpers/postgres.js';
import { listeningPort, runProcess, startProcess } from '../../helpers/processes.js';
import { certificate, DAY, tempLedger, TRUST_DOMAIN, WEBHOOK_SECRET, WebhookReceiver, type TempLedger } from './helpers.js';

/**
 * The operator's view: `keysmith alerts run|list` and `keysmith serve` as
 * child processes on the real clock, a webhook receiver on 127.0.0.1, and
 * curl as the admin client. Every wait is bounded.
 */

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

describe('keysmith alerts commands and serve', () => {
  let receiver: WebhookReceiver;
  const dirs: TempLedger[] = [];
  before(async () => {
    receiver = await WebhookReceiver.start();
  });
  after(async () => {
    await receiver.close();
    for (const dir of dirs) dir.remove();
  });

  /** A data directory whose ledger holds one 90-day certificate at day 83 (real time). */
  function seededDataDir(): { dir: string; serial: string } {
    const tmp = tempLedger();
    dirs.push(tmp);
    const dir = join(tmp.dir, 'data');
    mkdirSync(dir, { mode: 0o700 });
    const ledger = openLedger({ path: join(dir, 'keysmith.db') });
    try {
      const cert = certificate({
        issuedAt: Date.now() - 83 * DAY - 60_000,
        lifetimeMs: 90 * DAY,
        spiffeId: `spiffe://${TRUST_DOMAIN}/legacy/app`,
      });
      ledger.certificates.recordIssued(cert);
      return { dir, serial: cert.serial };
    } finally {
      ledger.close();
    }
  }

  function env(dataDir: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return {
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      KEYSMITH_DATA_DIR: dataDir,
      KEYSMITH_TRUST_DOMAIN: TRUST_DOMAIN,
      KEYSMITH_LOG_LEVEL: 'warn',
      KEYSMITH_ALERTS_WEBHOOK_URL: receiver.url,
      KEYSMITH_ALERTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ...extra,
    };
  }

  function keysmith(args: readonly string[], environment: NodeJS.ProcessEnv) {
    return runProcess(process.execPath, [MAIN, ...args], { env: environment, lifetimeMs: 30_000, timeoutMs: 30_000 });
  }

  it('alerts run enqueues, prints and delivers; alerts list shows it sent; a second run enqueues nothing', async () => {
    const { dir, serial } = seededDataDir();
    const before = receiver.requests.length;
    const run = await keysmith(['alerts', 'run'], env(dir));
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(`^${serial}\\s+7d\\s+\\S+\\s+6d\\s+svid\\s+spiffe://${TRUST_DOMAIN.replace('.', '\\.')}/legacy/app$`, 'm'),
    );
    assert.match(run.stdout, /1 alert enqueued, 1 message queued/);
    assert.match(run.stdout, /delivery: 1 sent, 0 to retry, 0 failed/);
    assert.match(run.stderr, /certificate expires soon and has no successor/, 'the log line, on stderr');
    assert.equal(receiver.requests.length, before + 1);
    assert.equal(receiver.requests.at(-1)?.headers[IDEMPOTENCY_HEADER], `keysmith-${serial}-7d`);

    const list = await keysmith(['alerts', 'list'], env(dir));
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+STATUS\s+SERIAL/m);
    assert.match(list.stdout, new RegExp(`^1\\s+sent\\s+${serial}\\s+7d\\s+.*webhook:sent`, 'm'));
    const failed = await keysmith(['alerts', 'list', '--status', 'failed'], env(dir));
    assert.match(failed.stdout, /\(no alerts\)/);

    // --json: one document, the HTTP API's ExpiryAlert records, strict.
    const json = await keysmith(['alerts', 'list', '--json'], env(dir));
    assert.equal(json.code, 0, json.stderr);
    assert.equal(json.stdout.trimEnd().split('\n').length, 1);
    const Timestamp = z.iso.datetime();
    const document = z
      .strictObject({
        alerts: z.array(
          z.strictObject({
            id: z.number().int(),
            threshold: z.string(),
            idempotency_key: z.string(),
            enqueued_at: Timestamp,
            status: z.enum(['pending', 'sent', 'failed']),
            attempts: z.number().int(),
            last_error: z.string().nullable(),
            certificate: z.strictObject({
              serial: z.string(),
              subject: z.string(),
              spiffe_id: z.string().nullable(),
              dns_names: z.array(z.string()),
              ip_addresses: z.array(z.string()),
              not_after: Timestamp,
              days_left: z.number().int(),
              profile: z.string(),
              requester: z.string(),
            }),
            deliveries: z.array(
              z.strictObject({
                channel: z.enum(['webhook', 'mail']),
                recipient: z.string(),
                status: z.enum(['pending', 'sent', 'failed']),
                attempts: z.number().int(),
                last_error: z.string().nullable(),
                next_attempt_at: Timestamp.nullable(),
                sent_at: Timestamp.nullable(),
                idempotency_key: z.string().nullable(),
              }),
            ),
          }),
        ),
        next_cursor: z.null(),
      })
      .parse(JSON.parse(json.stdout));
    assert.equal(document.alerts.length, 1);
    const [alert] = document.alerts;
    assert.equal(alert?.id, 1);
    assert.equal(alert?.status, 'sent');
    assert.equal(alert?.threshold, '7d');
    assert.equal(alert?.idempotency_key, `keysmith-${serial}-7d`);
    assert.equal(alert?.certificate.serial, serial);
    assert.equal(alert?.certificate.days_left, 6);
    assert.equal(alert?.certificate.spiffe_id, `spiffe://${TRUST_DOMAIN}/legacy/app`);
    assert.equal(alert?.deliveries.length, 1);
    assert.equal(alert?.deliveries[0]?.status, 'sent');
    assert.equal(alert?.deliveries[0]?.channel, 'webhook');

    const again = await keysmith(['alerts', 'run'], env(dir));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /0 alerts enqueued/);
    assert.equal(receiver.requests.length, before + 1);
  });

  it('alerts run and list work on the cluster database KEYSMITH_DATABASE_URL names, and leave no SQLite file', async () => {
    const database = await createTestDatabase('alerts_cli');
    try {
      const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 1 });
      const cert = certificate({
        issuedAt: Date.now() - 83 * DAY - 60_000,
        lifetimeMs: 90 * DAY,
        spiffeId: `spiffe://${TRUST_DOMAIN}/legacy/pg`,
      });
      try {
        await opened.ledger.certificates.recordIssued(cert);
      } finally {
        await opened.ledger.close();
      }
      const tmp = tempLedger();
      dirs.push(tmp);
      const dir = join(tmp.dir, 'data');
      const environment = env(dir, { KEYSMITH_DATABASE_URL: database.url });
      const before = receiver.requests.length;
      const run = await keysmith(['alerts', 'run'], environment);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /1 alert enqueued, 1 message queued/);
      assert.match(run.stdout, /delivery: 1 sent, 0 to retry, 0 failed/);
      assert.equal(receiver.requests.length, before + 1);
      assert.equal(receiver.requests.at(-1)?.headers[IDEMPOTENCY_HEADER], `keysmith-${cert.serial}-7d`);
      const list = await keysmith(['alerts', 'list'], environment);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, new RegExp(`^1\\s+sent\\s+${cert.serial}\\s+7d\\s+.*webhook:sent`, 'm'));
      assert.equal(existsSync(join(dir, 'keysmith.db')), false, 'the ledger is the database, not a file in the data directory');
    } finally {
      await database.drop();
    }
  });

  it('answers --help and refuses bad options with exit code 2', async () => {
    const { dir } = seededDataDir();
    for (const command of [
      ['alerts', 'run'],
      ['alerts', 'list'],
    ]) {
      const help = await keysmith([...command, '--help'], env(dir));
      assert.equal(help.code, 0);
      assert.match(help.stdout, /usage: keysmith alerts/);
    }
    const bad = await keysmith(['alerts', 'list', '--status', 'lost'], env(dir));
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--status: expected pending, sent or failed/);
    const cron = await keysmith(['serve'], env(dir, { KEYSMITH_ALERTS_SCHEDULE: '99 * * * *' }));
    assert.equal(cron.code, 78, cron.stderr);
    assert.match(cron.stderr, /alertsSchedule: '99 \* \* \* \*' is not a cron expression/);
  });

  it('serve catches up at start-up, delivers, and reports the alert over the API and in /metrics', async () => {
    const { dir, serial } = seededDataDir();
    const before = receiver.requests.length;
    const server = startProcess(process.execPath, [MAIN, 'serve'], {
      env: env(dir, { KEYSMITH_LISTEN: '127.0.0.1:0' }),
      lifetimeMs: 90_000,
    });
    try {
      await server.waitFor(/listening on https:\/\/\S+/, { timeoutMs: 30_000 });
      const port = listeningPort(server.output);
      await receiver.waitForRequests(before + 1, 20_000);
      assert.equal(receiver.requests.at(-1)?.headers[IDEMPOTENCY_HEADER], `keysmith-${serial}-7d`);
      const curl = (path: string) =>
        runProcess(
          'curl',
          [
            '--silent',
            '--show-error',
            '--max-time',
            '10',
            '--cert',
            join(dir, 'admin', 'cert.pem'),
            '--key',
            join(dir, 'admin', 'key.pem'),
            '--cacert',
            join(dir, 'bundle.pem'),
            `https://127.0.0.1:${port}${path}`,
          ],
          { lifetimeMs: 20_000 },
        );
      // The sent mark follows the receiver's answer by a moment; poll briefly.
      let status = '';
      for (let i = 0; i < 50 && status !== 'sent'; i += 1) {
        const listed = await curl('/v1/alerts');
        const page = JSON.parse(listed.stdout) as { items: { status: string; certificate: { serial: string } }[] };
        status = page.items.find((a) => a.certificate.serial === serial)?.status ?? '';
        if (status !== 'sent') await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(status, 'sent');
      const metrics = await curl('/metrics');
      assert.match(metrics.stdout, /^keysmith_alerts_enqueued_total 1$/m);
      assert.match(metrics.stdout, /^keysmith_alert_messages_sent_total\{channel="webhook"\} 1$/m);
      process.kill(server.pid, 'SIGTERM');
      const exit = await server.waitForExit(20_000);
      assert.equal(exit.code, 0, server.describeOutput());
    } finally {
      await server.kill();
    }
  });
});
