import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { alertKey, IDEMPOTENCY_HEADER } from '../../../src/alerts/index.js';
import { startProcess } from '../../helpers/processes.js';
import { certificate, DAY, T0, tempLedger, WEBHOOK_SECRET, WebhookReceiver, type TempLedger } from './helpers.js';

/**
 * Real processes on one ledger file (alert-child.ts): a process killed with
 * SIGKILL between sending a webhook and marking it sent, and several
 * processes racing for one cron tick. Children are killed by PID only, and
 * every wait is bounded.
 */

const CHILD = fileURLToPath(new URL('./alert-child.js', import.meta.url));
const DAY_83 = T0 + 83 * DAY;

describe('alert processes on one ledger', () => {
  let tmp: TempLedger;
  let receiver: WebhookReceiver;
  beforeEach(async () => {
    tmp = tempLedger();
    receiver = await WebhookReceiver.start();
  });
  afterEach(async () => {
    await receiver.close();
    tmp.remove();
  });

  function child(args: readonly string[], now: number, extraEnv: NodeJS.ProcessEnv = {}) {
    return startProcess(process.execPath, [CHILD, ...args], {
      env: {
        PATH: process.env['PATH'],
        ALERT_CHILD_LEDGER: tmp.path,
        ALERT_CHILD_NOW: String(now),
        KEYSMITH_ALERTS_WEBHOOK_URL: receiver.url,
        KEYSMITH_ALERTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
        KEYSMITH_ALERTS_WEBHOOK_TIMEOUT: '5s',
        ...extraEnv,
      },
      lifetimeMs: 30_000,
    });
  }

  function seed(): string {
    const ledger = tmp.open();
    try {
      const cert = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY });
      ledger.certificates.recordIssued(cert);
      return cert.serial;
    } finally {
      ledger.close();
    }
  }

  it('delivers after a SIGKILL between send and mark, on restart, with the same idempotency key', async () => {
    const serial = seed();
    // The receiver takes the first request and never answers: the sender is mid-delivery when it dies.
    receiver.behaviour = (index) => (index === 0 ? 'hang' : 200);
    const first = child(['run'], DAY_83);
    try {
      await first.waitFor(/^enqueued 1$/m, { timeoutMs: 15_000 });
      await receiver.waitForRequests(1, 10_000);
      process.kill(first.pid, 'SIGKILL');
      const status = await first.waitForExit(10_000);
      assert.equal(status.signal, 'SIGKILL');
      assert.doesNotMatch(first.stdout, /delivered/);
    } finally {
      await first.kill();
    }

    const between = tmp.open();
    try {
      const alert = between.alerts.list().items[0];
      assert.equal(alert?.status, 'pending', 'the kill came before the mark');
      assert.equal(alert?.attempts, 0);
    } finally {
      between.close();
    }

    // Restarted three minutes later (the dead process's two-minute lease has run out): the start-up path resends.
    const second = child(['start'], DAY_83 + 3 * 60_000, { KEYSMITH_ALERTS_SCHEDULE: '0 9 * * *' });
    try {
      await second.waitFor(/^started$/m, { timeoutMs: 15_000 });
      const result = await second.waitForExit(10_000);
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await second.kill();
    }

    assert.equal(receiver.requests.length, 2);
    const key = alertKey(serial, 7 * DAY);
    assert.deepEqual(
      receiver.requests.map((r) => r.headers[IDEMPOTENCY_HEADER]),
      [key, key],
    );
    const serials = receiver.requests.map((r) => (r.json() as { certificates: { serial: string }[] }).certificates.map((c) => c.serial));
    assert.deepEqual(serials, [[serial], [serial]], 'the same alert, so the receiver can drop the duplicate by its key');
    const after = tmp.open();
    try {
      const alert = after.alerts.list().items[0];
      assert.equal(alert?.status, 'sent');
      assert.equal(alert?.deliveries[0]?.messageKey, key);
    } finally {
      after.close();
    }
  });

  it('lets only one of several processes run a given cron tick', async () => {
    seed();
    const slot = DAY_83;
    const env = { KEYSMITH_ALERTS_SCHEDULE: '0 9 * * *' };
    const children = [0, 1, 2].map(() => child(['slot', String(slot)], DAY_83, env));
    const outcomes: string[] = [];
    try {
      for (const c of children) {
        const result = await c.waitForExit(20_000);
        assert.equal(result.code, 0, result.stderr);
        outcomes.push(/^outcome (\S+)$/m.exec(result.stdout)?.[1] ?? result.stdout);
      }
    } finally {
      await Promise.all(children.map((c) => c.kill()));
    }
    assert.equal(outcomes.filter((o) => o === 'ran').length, 1, outcomes.join(', '));
    assert.ok(
      outcomes.every((o) => o === 'ran' || o === 'skipped:already-ran'),
      outcomes.join(', '),
    );
    assert.equal(receiver.requests.length, 1);

    // The next day's tick runs again (and finds nothing new).
    const next = child(['slot', String(slot + DAY)], DAY_83 + DAY, env);
    try {
      const result = await next.waitForExit(20_000);
      assert.match(result.stdout, /^outcome ran$/m);
    } finally {
      await next.kill();
    }
    assert.equal(receiver.requests.length, 1);
  });
});
