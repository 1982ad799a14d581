import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_RETRY, DIGEST_MAX_ITEMS, digestKey, planMessages, retryDelayMs, type WaitingDelivery } from '../../../src/alerts/index.js';

function waiting(alertId: number, recipient: string, channel: 'webhook' | 'mail' = 'mail'): WaitingDelivery {
  return { alertId, channel, recipient, idempotencyKey: `key-${alertId}`, notAfter: alertId };
}

describe('planMessages', () => {
  it('makes one message per delivery in per-certificate mode, within the per-recipient and per-run caps, in the given order', () => {
    const list = [1, 2, 3, 4].flatMap((id) => [waiting(id, 'a@x'), waiting(id, 'b@x')]);
    const plan = planMessages(list, 'per-certificate', { perRun: 5, perRecipient: 2 });
    assert.deepEqual(
      plan.map((m) => `${m.recipient}:${m.alertIds.join()}:${m.idempotencyKey}:${m.kind}`),
      ['a@x:1:key-1:single', 'b@x:1:key-1:single', 'a@x:2:key-2:single', 'b@x:2:key-2:single'],
    );
    assert.equal(planMessages(list, 'per-certificate', { perRun: 3, perRecipient: 10 }).length, 3);
  });

  it('makes one digest per recipient, at most DIGEST_MAX_ITEMS long, and at most perRun of them', () => {
    const many = Array.from({ length: DIGEST_MAX_ITEMS + 5 }, (_, i) => waiting(i + 1, 'a@x'));
    const plan = planMessages([...many, waiting(1, 'hook', 'webhook'), waiting(1, 'c@x')], 'digest', { perRun: 2, perRecipient: 1 });
    assert.deepEqual(
      plan.map((m) => `${m.channel}:${m.recipient}:${m.alertIds.length}:${m.kind}`),
      [`mail:a@x:${DIGEST_MAX_ITEMS}:digest`, 'webhook:hook:1:digest'],
    );
  });

  it('keys a digest by its contents, whatever their order', () => {
    assert.equal(digestKey(['a', 'b', 'c']), digestKey(['c', 'a', 'b']));
    assert.notEqual(digestKey(['a', 'b']), digestKey(['a', 'b', 'c']));
    assert.match(digestKey(['a']), /^keysmith-digest-[0-9a-f]{32}$/);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the base up to the cap, with equal jitter between half and all of it', () => {
    const mid = (n: number): number => retryDelayMs(n, DEFAULT_RETRY, () => 0.5);
    assert.deepEqual([1, 2, 3, 4].map(mid), [22_500, 45_000, 90_000, 180_000]);
    assert.equal(mid(20), 0.75 * DEFAULT_RETRY.maxDelayMs);
    assert.equal(
      retryDelayMs(1, DEFAULT_RETRY, () => 0),
      15_000,
    );
    assert.equal(
      retryDelayMs(1, DEFAULT_RETRY, () => 0.999999),
      30_000,
    );
    assert.equal(
      retryDelayMs(1, DEFAULT_RETRY, () => 7),
      30_000,
      'a bad random source cannot stretch the delay',
    );
  });
});
