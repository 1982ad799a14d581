import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { alertKey } from '../../../../src/alerts/index.js';
import { isDomainError } from '../../../../src/shared/errors.js';
import type { OpenedLedger } from '../../../../src/ledger/index.js';
import type { DeliveryTarget, EnqueuedAlert } from '../../../../src/domain/alerts.js';
import { BACKENDS, type OpenedTestLedger } from '../../../helpers/backends.js';
import { certificate, DAY, T0 } from '../../../integration/alerts/helpers.js';

/** The alert outbox's guarantees, one body for both backends (SQLite answers at once, PostgreSQL later: every call is awaited). */
for (const backend of BACKENDS) {
  describe(`alert outbox: ${backend.name}`, () => {
    let test: OpenedTestLedger;
    let opened: OpenedLedger;
    beforeEach(async () => {
      test = await backend.open();
      opened = test.opened;
    });
    afterEach(() => test.dispose());

    const now = T0 + 83 * DAY;
    const week = [{ withinMs: 7 * DAY, profiles: null }];
    const mail = { channel: 'mail' as const, recipient: 'ops@example.org' };
    const hook = { channel: 'webhook' as const, recipient: 'https://hooks.example.org/keysmith' };

    async function enqueueOne(targets: readonly DeliveryTarget[] = [mail]): Promise<{ runId: number; serial: string }> {
      const cert = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY });
      await opened.ledger.certificates.recordIssued(cert);
      const runId = await opened.ledger.alerts.startRun({ reason: 'manual', holder: 'h', now });
      assert.ok(runId !== null);
      const enqueued = await opened.ledger.alerts.enqueueExpiring({ runId, now, thresholds: week, targets, keyFor: alertKey });
      assert.deepEqual(
        enqueued.map((a) => a.serial),
        [cert.serial],
      );
      return { runId, serial: cert.serial };
    }

    async function messageFor(runId: number): Promise<number> {
      const [waiting] = await opened.ledger.alerts.waitingDeliveries({ perRecipient: 10, limit: 10 });
      assert.ok(waiting !== undefined);
      const [id] = await opened.ledger.alerts.createMessages(runId, now, [
        {
          channel: waiting.channel,
          recipient: waiting.recipient,
          kind: 'single',
          idempotencyKey: waiting.idempotencyKey,
          alertIds: [waiting.alertId],
        },
      ]);
      assert.ok(id !== undefined);
      return id;
    }

    it('reports its depth by state: waiting deliveries, pending and failed messages (keysmith_alert_outbox_depth)', async () => {
      const alerts = opened.ledger.alerts;
      assert.deepEqual(await alerts.outboxDepth(), { waiting: 0, pending: 0, failed: 0 });
      const { runId } = await enqueueOne([mail, hook]);
      assert.deepEqual(await alerts.outboxDepth(), { waiting: 2, pending: 0, failed: 0 });
      const first = await messageFor(runId);
      assert.deepEqual(await alerts.outboxDepth(), { waiting: 1, pending: 1, failed: 0 });
      const second = await messageFor(runId);
      assert.deepEqual(await alerts.outboxDepth(), { waiting: 0, pending: 2, failed: 0 });
      await alerts.recordFailure(first, 'refused', null);
      await alerts.markSent(second, now + 1);
      assert.deepEqual(await alerts.outboxDepth(), { waiting: 0, pending: 0, failed: 1 });
    });

    it('claims a cron slot once, also when three claims race', async () => {
      const alerts = opened.ledger.alerts;
      assert.equal(typeof (await alerts.startRun({ reason: 'schedule', slot: now, holder: 'a', now })), 'number');
      assert.equal(await alerts.startRun({ reason: 'schedule', slot: now, holder: 'b', now }), null);
      const slot = now + DAY;
      const claims = await Promise.all(['a', 'b', 'c'].map((holder) => alerts.startRun({ reason: 'schedule', slot, holder, now: slot })));
      assert.equal(claims.filter((id) => id !== null).length, 1, `claims: ${JSON.stringify(claims)}`);
    });

    it('starts a catch-up only when no run finished within the period', async () => {
      const alerts = opened.ledger.alerts;
      assert.equal(await alerts.lastFinishedRunStart(), null);
      const first = await alerts.startRun({ reason: 'catch-up', holder: 'a', now, unlessFinishedSince: now - DAY });
      assert.ok(first !== null, 'no run has finished yet');
      await alerts.finishRun(first, now + 5, 0);
      assert.equal(await alerts.lastFinishedRunStart(), now);
      assert.equal(
        await alerts.startRun({ reason: 'catch-up', holder: 'a', now: now + 1_000, unlessFinishedSince: now + 1_000 - DAY }),
        null,
      );
      assert.equal(
        typeof (await alerts.startRun({ reason: 'catch-up', holder: 'a', now: now + DAY + 1, unlessFinishedSince: now + 1 })),
        'number',
      );
    });

    it('enqueues a certificate once per threshold, with one waiting delivery per target', async () => {
      const { runId, serial } = await enqueueOne([mail, hook]);
      const again = await opened.ledger.alerts.enqueueExpiring({
        runId,
        now: now + 1,
        thresholds: week,
        targets: [mail, hook],
        keyFor: alertKey,
      });
      assert.deepEqual(again, []);
      const waiting = await opened.ledger.alerts.waitingDeliveries({ perRecipient: 10, limit: 10 });
      assert.deepEqual(
        waiting.map((w) => [w.channel, w.recipient, w.idempotencyKey]),
        [
          ['mail', mail.recipient, alertKey(serial, 7 * DAY)],
          ['webhook', hook.recipient, alertKey(serial, 7 * DAY)],
        ],
      );
      const page = await opened.ledger.alerts.list();
      assert.equal(page.items.length, 1);
      assert.equal(page.items[0]?.status, 'pending');
      assert.deepEqual(
        page.items[0]?.deliveries.map((d) => [d.channel, d.status, d.messageKey]),
        [
          ['mail', 'pending', null],
          ['webhook', 'pending', null],
        ],
      );
    });

    it('refuses a malformed key or threshold and writes nothing', async () => {
      await opened.ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
      const runId = await opened.ledger.alerts.startRun({ reason: 'manual', holder: 'h', now });
      assert.ok(runId !== null);
      await assert.rejects(
        async () => opened.ledger.alerts.enqueueExpiring({ runId, now, thresholds: week, targets: [mail], keyFor: () => 'k'.repeat(201) }),
        (err: unknown) => isDomainError(err, 'malformed'),
      );
      await assert.rejects(
        async () =>
          opened.ledger.alerts.enqueueExpiring({
            runId,
            now,
            thresholds: [{ withinMs: 0, profiles: null }],
            targets: [mail],
            keyFor: alertKey,
          }),
        (err: unknown) => isDomainError(err, 'malformed'),
      );
      assert.deepEqual((await opened.ledger.alerts.list()).items, []);
    });

    it('refuses a stale plan as a whole: a delivery already in a message is not taken twice', async () => {
      const { runId } = await enqueueOne();
      const [waiting] = await opened.ledger.alerts.waitingDeliveries({ perRecipient: 10, limit: 10 });
      assert.ok(waiting !== undefined);
      const message = {
        channel: waiting.channel,
        recipient: waiting.recipient,
        kind: 'single' as const,
        idempotencyKey: waiting.idempotencyKey,
        alertIds: [waiting.alertId],
      };
      assert.equal((await opened.ledger.alerts.createMessages(runId, now, [message])).length, 1);
      await assert.rejects(
        async () => opened.ledger.alerts.createMessages(runId, now, [{ ...message, idempotencyKey: 'other' }]),
        (err: unknown) => isDomainError(err, 'conflict'),
      );
      await assert.rejects(
        async () => opened.ledger.alerts.createMessages(runId, now, [message]),
        (err: unknown) => isDomainError(err, 'conflict'),
        'the same message key to the same recipient twice',
      );
      assert.equal((await opened.ledger.alerts.dueMessages(now, 10)).length, 1, 'the refused batches left nothing behind');
    });

    it('hands out due messages per channel with their items, and marks them sent once', async () => {
      const { runId, serial } = await enqueueOne([mail, hook]);
      const waiting = await opened.ledger.alerts.waitingDeliveries({ perRecipient: 10, limit: 10 });
      const ids = await opened.ledger.alerts.createMessages(
        runId,
        now,
        waiting.map((w) => ({
          channel: w.channel,
          recipient: w.recipient,
          kind: 'single' as const,
          idempotencyKey: w.idempotencyKey,
          alertIds: [w.alertId],
        })),
      );
      assert.equal(ids.length, 2);
      const webhookDue = await opened.ledger.alerts.dueMessages(now, 10, 'webhook');
      assert.deepEqual(
        webhookDue.map((m) => [m.channel, m.recipient, m.kind, m.attempts]),
        [['webhook', hook.recipient, 'single', 0]],
      );
      const [message] = webhookDue;
      assert.ok(message !== undefined);
      const items = await opened.ledger.alerts.messageItems(message.id);
      assert.deepEqual(
        items.map((i) => [i.serial, i.thresholdMs, i.idempotencyKey, i.notAfter]),
        [[serial, 7 * DAY, alertKey(serial, 7 * DAY), T0 + 90 * DAY]],
      );
      await opened.ledger.alerts.markSent(message.id, now + 10);
      await opened.ledger.alerts.markSent(message.id, now + 20);
      assert.deepEqual(await opened.ledger.alerts.dueMessages(now, 10, 'webhook'), []);
      const [summary] = (await opened.ledger.alerts.list()).items;
      const sentHook = summary?.deliveries.find((d) => d.channel === 'webhook');
      assert.equal(sentHook?.status, 'sent');
      assert.equal(sentHook?.sentAt, now + 10, 'the second mark changed nothing');
      assert.equal(sentHook?.attempts, 1);
      assert.equal(summary?.status, 'pending', 'the mail is still pending');
    });

    it('keeps failures bounded and gives up on request', async () => {
      const { runId } = await enqueueOne();
      const id = await messageFor(runId);
      await opened.ledger.alerts.recordFailure(id, 'x'.repeat(10_000), now + 1_000);
      assert.equal((await opened.ledger.alerts.list()).items[0]?.lastError?.length, 500);
      assert.equal(await opened.ledger.alerts.nextAttemptAt(), now + 1_000);
      assert.deepEqual(await opened.ledger.alerts.dueMessages(now, 10), []);
      await opened.ledger.alerts.recordFailure(id, 'gone', null);
      assert.equal((await opened.ledger.alerts.list()).items[0]?.status, 'failed');
      assert.equal(await opened.ledger.alerts.nextAttemptAt(), null);
      await opened.ledger.alerts.markSent(id, now);
      assert.equal((await opened.ledger.alerts.list()).items[0]?.status, 'failed', 'a failed message is not marked sent later');
    });

    it('pages newest first and filters on the overall status', async () => {
      for (let i = 0; i < 3; i += 1) await opened.ledger.certificates.recordIssued(certificate({ issuedAt: T0 - i, lifetimeMs: 90 * DAY }));
      const runId = await opened.ledger.alerts.startRun({ reason: 'manual', holder: 'h', now });
      assert.ok(runId !== null);
      const enqueued = await opened.ledger.alerts.enqueueExpiring({ runId, now, thresholds: week, targets: [mail], keyFor: alertKey });
      assert.equal(enqueued.length, 3);
      const first = enqueued[0];
      assert.ok(first !== undefined);
      const [messageId] = await opened.ledger.alerts.createMessages(runId, now, [
        { ...mail, kind: 'single', idempotencyKey: first.idempotencyKey, alertIds: [first.id] },
      ]);
      assert.ok(messageId !== undefined);
      await opened.ledger.alerts.recordFailure(messageId, 'refused', null);
      const ids = enqueued.map((a) => a.id).sort((a, b) => b - a);
      const one = await opened.ledger.alerts.list({ limit: 2 });
      assert.deepEqual(
        one.items.map((a) => a.id),
        ids.slice(0, 2),
      );
      assert.equal(one.nextCursor, String(ids[1]));
      const two = await opened.ledger.alerts.list({ limit: 2, cursor: one.nextCursor ?? '' });
      assert.deepEqual(
        two.items.map((a) => a.id),
        ids.slice(2),
      );
      assert.equal(two.nextCursor, null);
      assert.deepEqual(
        (await opened.ledger.alerts.list({ status: 'failed' })).items.map((a) => [a.id, a.lastError]),
        [[first.id, 'refused']],
      );
      assert.deepEqual(
        (await opened.ledger.alerts.list({ status: 'pending' })).items.map((a) => a.id),
        ids.filter((id) => id !== first.id),
      );
      assert.deepEqual((await opened.ledger.alerts.list({ status: 'sent' })).items, []);
    });

    it('filters on one certificate (its alert history), with status and paging', async () => {
      const watched = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY });
      const other = certificate({ issuedAt: T0 - 1, lifetimeMs: 90 * DAY });
      await opened.ledger.certificates.recordIssued(watched);
      await opened.ledger.certificates.recordIssued(other);
      // Two runs: 30 days ahead, then 7 days ahead; each certificate crosses both thresholds, four alerts in all.
      const thresholds = [...week, { withinMs: 30 * DAY, profiles: null }];
      const enqueued: EnqueuedAlert[] = [];
      for (const at of [now - 23 * DAY, now]) {
        const runId = await opened.ledger.alerts.startRun({ reason: 'manual', holder: 'h', now: at });
        assert.ok(runId !== null);
        const found = await opened.ledger.alerts.enqueueExpiring({ runId, now: at, thresholds, targets: [mail], keyFor: alertKey });
        await opened.ledger.alerts.finishRun(runId, at, found.length);
        enqueued.push(...found);
      }
      assert.equal(enqueued.length, 4);
      const watchedIds = enqueued
        .filter((a) => a.serial === watched.serial)
        .map((a) => a.id)
        .sort((a, b) => b - a);
      assert.equal(watchedIds.length, 2);
      const history = await opened.ledger.alerts.list({ serial: watched.serial });
      assert.deepEqual(
        history.items.map((a) => [a.id, a.certificate.serial, a.thresholdMs]),
        watchedIds.map((id) => [id, watched.serial, enqueued.find((a) => a.id === id)?.thresholdMs]),
      );
      const first = await opened.ledger.alerts.list({ serial: watched.serial, limit: 1 });
      assert.deepEqual(
        first.items.map((a) => a.id),
        [watchedIds[0]],
      );
      const second = await opened.ledger.alerts.list({ serial: watched.serial, limit: 1, cursor: first.nextCursor ?? '' });
      assert.deepEqual(
        second.items.map((a) => a.id),
        [watchedIds[1]],
      );
      assert.equal(second.nextCursor, null);
      assert.equal((await opened.ledger.alerts.list({ serial: watched.serial, status: 'pending' })).items.length, 2);
      assert.deepEqual((await opened.ledger.alerts.list({ serial: watched.serial, status: 'sent' })).items, []);
      assert.deepEqual((await opened.ledger.alerts.list({ serial: 'abcdef' })).items, []);
      await assert.rejects(
        async () => opened.ledger.alerts.list({ serial: 'XYZ' }),
        (err: unknown) => isDomainError(err, 'malformed'),
      );
    });

    it('refuses a cursor it did not hand out, a limit out of range and an unknown status', async () => {
      await assert.rejects(
        async () => opened.ledger.alerts.list({ cursor: 'abc' }),
        (err: unknown) => isDomainError(err, 'malformed'),
      );
      await assert.rejects(
        async () => opened.ledger.alerts.list({ limit: 0 }),
        (err: unknown) => isDomainError(err, 'malformed'),
      );
      const status = 'lost' as 'sent';
      await assert.rejects(
        async () => opened.ledger.alerts.list({ status }),
        (err: unknown) => isDomainError(err, 'malformed'),
      );
    });
  });
}
