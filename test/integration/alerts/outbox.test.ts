import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alertKey } from '../../../src/alerts/index.js';
import { isDomainError } from '../../../src/shared/errors.js';
import type { Ledger } from '../../../src/ledger/index.js';
import { certificate, DAY, freshLedgerEachTest, T0 } from './helpers.js';

/** The ledger side of alerts: the outbox's guarantees and the lease, on a real file. */
describe('alert outbox and leases in the ledger', () => {
  let ledger: Ledger;
  freshLedgerEachTest((opened) => {
    ledger = opened;
  });

  const now = T0 + 83 * DAY;
  const targets = [{ channel: 'mail' as const, recipient: 'ops@example.org' }];

  function enqueueOne(): number {
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
    const runId = ledger.alerts.startRun({ reason: 'manual', holder: 'h', now });
    assert.ok(runId !== null);
    const [alert] = ledger.alerts.enqueueExpiring({ runId, now, thresholds: [{ withinMs: 7 * DAY, profiles: null }], targets, keyFor: alertKey });
    assert.ok(alert !== undefined);
    return runId;
  }

  it('claims a cron slot once', () => {
    assert.equal(typeof ledger.alerts.startRun({ reason: 'schedule', slot: now, holder: 'a', now }), 'number');
    assert.equal(ledger.alerts.startRun({ reason: 'schedule', slot: now, holder: 'b', now }), null);
  });

  it('refuses a stale plan as a whole: a delivery already in a message is not taken twice', () => {
    const runId = enqueueOne();
    const [waiting] = ledger.alerts.waitingDeliveries({ perRecipient: 10, limit: 10 });
    assert.ok(waiting !== undefined);
    const message = { channel: waiting.channel, recipient: waiting.recipient, kind: 'single' as const, idempotencyKey: waiting.idempotencyKey, alertIds: [waiting.alertId] };
    assert.equal(ledger.alerts.createMessages(runId, now, [message]).length, 1);
    assert.throws(
      () => ledger.alerts.createMessages(runId, now, [{ ...message, idempotencyKey: 'other' }]),
      (err: unknown) => isDomainError(err, 'conflict'),
    );
    assert.equal(ledger.alerts.dueMessages(now, 10).length, 1, 'the refused batch left nothing behind');
  });

  it('keeps failures bounded and gives up on request', () => {
    const runId = enqueueOne();
    const [waiting] = ledger.alerts.waitingDeliveries({ perRecipient: 10, limit: 10 });
    assert.ok(waiting !== undefined);
    const [id] = ledger.alerts.createMessages(runId, now, [{ channel: waiting.channel, recipient: waiting.recipient, kind: 'single', idempotencyKey: waiting.idempotencyKey, alertIds: [waiting.alertId] }]);
    assert.ok(id !== undefined);
    ledger.alerts.recordFailure(id, 'x'.repeat(10_000), now + 1_000);
    assert.equal(ledger.alerts.list().items[0]?.lastError?.length, 500);
    assert.equal(ledger.alerts.nextAttemptAt(), now + 1_000);
    assert.deepEqual(ledger.alerts.dueMessages(now, 10), []);
    ledger.alerts.recordFailure(id, 'gone', null);
    assert.equal(ledger.alerts.list().items[0]?.status, 'failed');
    assert.equal(ledger.alerts.nextAttemptAt(), null);
    ledger.alerts.markSent(id, now);
    assert.equal(ledger.alerts.list().items[0]?.status, 'failed', 'a failed message is not marked sent later');
  });

  it('refuses a cursor it did not hand out, and a limit out of range', () => {
    assert.throws(() => ledger.alerts.list({ cursor: 'abc' }), (err: unknown) => isDomainError(err, 'malformed'));
    assert.throws(() => ledger.alerts.list({ limit: 0 }), (err: unknown) => isDomainError(err, 'malformed'));
  });

  it('leases: one holder at a time, renewable by it, free again on release or expiry', () => {
    assert.ok(ledger.leases.acquire('alerts', 'a', now, 1_000));
    assert.ok(!ledger.leases.acquire('alerts', 'b', now + 999, 1_000));
    assert.ok(ledger.leases.acquire('alerts', 'a', now + 500, 1_000), 'the holder may take it again');
    assert.ok(ledger.leases.renew('alerts', 'a', now + 600, 1_000));
    assert.ok(!ledger.leases.renew('alerts', 'b', now + 600, 1_000));
    ledger.leases.release('alerts', 'b');
    assert.equal(ledger.leases.holderOf('alerts', now + 700), 'a', 'only the holder releases');
    assert.ok(ledger.leases.acquire('alerts', 'b', now + 1_600, 1_000), 'expired');
    assert.ok(!ledger.leases.renew('alerts', 'a', now + 1_700, 1_000), 'lost to b');
    ledger.leases.release('alerts', 'b');
    assert.equal(ledger.leases.holderOf('alerts', now + 1_700), undefined);
    assert.ok(ledger.leases.acquire('other', 'a', now, 1_000), 'leases are independent by name');
  });
});
