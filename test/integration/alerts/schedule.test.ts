import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { ALERT_LEASE, AlertSchedule, cronPeriodMs, type AlertRunner } from '../../../src/alerts/index.js';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
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
  WebhookReceiver,
  webhookTo,
  type TempLedger,
} from './helpers.js';

/**
 * When runs happen: node-cron ticks in UTC, the catch-up at start-up, the
 * ledger lease between processes, and no overlap within one process.
 */

interface RunRow {
  readonly reason: string;
  readonly slot: number | null;
  readonly holder: string;
  readonly finished: number;
}

function runs(path: string): RunRow[] {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare<[], RunRow>('SELECT reason, slot, holder, finished_at IS NOT NULL AS finished FROM alert_runs ORDER BY id').all();
  } finally {
    db.close();
  }
}

describe('cron periods', () => {
  it('is the shortest gap between the next runs', () => {
    assert.equal(cronPeriodMs('0 9 * * *'), DAY);
    assert.equal(cronPeriodMs('*/15 * * * *'), 15 * 60_000);
    assert.equal(cronPeriodMs('0 9 * * 1-5'), DAY);
    assert.equal(cronPeriodMs('*/10 * * * * *'), 10_000);
  });

  it('refuses what node-cron cannot read', () => {
    const ledger = openLedger({ path: ':memory:' });
    try {
      const runner = makeRunner(ledger, new FakeClock(), settings());
      assert.throws(
        () => new AlertSchedule({ expression: '61 * * * *', runner, clock: new FakeClock(), logger: new MemoryLogger() }),
        /not a cron expression/,
      );
    } finally {
      ledger.close();
    }
  });
});

describe('the alert schedule', () => {
  let tmp: TempLedger;
  let ledger: Ledger;
  let clock: FakeClock;
  let receiver: WebhookReceiver;
  const schedules: AlertSchedule[] = [];
  beforeEach(async () => {
    tmp = tempLedger();
    ledger = tmp.open();
    clock = new FakeClock(T0 + 83 * DAY);
    receiver = await WebhookReceiver.start();
  });
  afterEach(async () => {
    await Promise.all(schedules.splice(0).map((s) => s.stop()));
    await receiver.close();
    ledger.close();
    tmp.remove();
  });

  function schedule(expression: string, runner: AlertRunner): AlertSchedule {
    const made = new AlertSchedule({ expression, runner, clock, logger: new MemoryLogger(), leasePatienceMs: 2_000, leaseRetryMs: 25 });
    schedules.push(made);
    return made;
  }

  it('catches up at start-up when the last run is older than one period, and not otherwise', async () => {
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
    const alertSettings = settings({ webhook: webhookTo(receiver) });
    const first = schedule('0 9 * * *', makeRunner(ledger, clock, alertSettings, { holder: 'first' }));
    await first.start();
    assert.deepEqual(runs(tmp.path), [{ reason: 'catch-up', slot: null, holder: 'first', finished: 1 }]);
    assert.equal(receiver.requests.length, 1);
    await first.stop();

    clock.advance(23 * HOUR);
    const second = schedule('0 9 * * *', makeRunner(ledger, clock, alertSettings, { holder: 'second' }));
    await second.start();
    assert.equal(runs(tmp.path).length, 1, 'a run finished less than a day ago');
    await second.stop();

    clock.advance(2 * HOUR);
    const third = schedule('0 9 * * *', makeRunner(ledger, clock, alertSettings, { holder: 'third' }));
    await third.start();
    assert.deepEqual(
      runs(tmp.path).map((r) => `${r.reason}/${r.holder}`),
      ['catch-up/first', 'catch-up/third'],
    );
    assert.equal(receiver.requests.length, 1, 'still one delivery');
  });

  it('runs each cron slot once, and a later slot again', async () => {
    const runner = makeRunner(ledger, clock, settings());
    const s = schedule('0 9 * * *', runner);
    const slot = T0 + 83 * DAY;
    assert.equal((await s.runSlot(slot)).status, 'ran');
    assert.deepEqual(await s.runSlot(slot), { status: 'skipped', reason: 'already-ran' });
    assert.equal((await s.runSlot(slot + DAY)).status, 'ran');
    assert.deepEqual(
      runs(tmp.path).map((r) => r.slot),
      [slot, slot + DAY],
    );
  });

  it('waits for a lease another process holds, within its patience, then runs the tick', async () => {
    const runner = makeRunner(ledger, clock, settings(), { holder: 'this-process' });
    assert.ok(ledger.leases.acquire(ALERT_LEASE, 'other-process', clock.now(), 60_000));
    assert.deepEqual(await runner.run({ reason: 'manual' }), { status: 'skipped', reason: 'lease-held' });
    const s = schedule('0 9 * * *', runner);
    setTimeout(() => ledger.leases.release(ALERT_LEASE, 'other-process'), 150);
    const outcome = await s.runSlot(T0 + 83 * DAY);
    assert.equal(outcome.status, 'ran');
    assert.equal(ledger.leases.holderOf(ALERT_LEASE, clock.now()), undefined, 'released after the run');
  });

  it('takes over a lease that expired (its holder died)', async () => {
    assert.ok(ledger.leases.acquire(ALERT_LEASE, 'dead-process', clock.now(), 60_000));
    const runner = makeRunner(ledger, clock, settings(), { holder: 'survivor' });
    assert.deepEqual(await runner.run({ reason: 'manual' }), { status: 'skipped', reason: 'lease-held' });
    clock.advance(60_000);
    assert.equal((await runner.run({ reason: 'manual' })).status, 'ran');
  });

  it('never overlaps runs in one process: a second run queues behind the first one’s delivery, or is refused without waiting', async () => {
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
    receiver.behaviour = () => 'hang';
    const runner = makeRunner(ledger, clock, settings({ webhook: webhookTo(receiver, 400) }));
    const events: string[] = [];
    const first = await runner.run({ reason: 'manual' });
    assert.ok(first.status === 'ran');
    void first.delivered.then(() => events.push('first delivered'));
    assert.ok(runner.isBusy);
    assert.deepEqual(await runner.run({ reason: 'manual' }, { wait: false }), { status: 'skipped', reason: 'busy' });
    const second = await runner.run({ reason: 'manual' });
    events.push('second ran');
    assert.equal(second.status, 'ran');
    assert.deepEqual(events, ['first delivered', 'second ran']);
  });

  it('fires on node-cron ticks (every second here) and delivers what a tick finds', async () => {
    const runner = makeRunner(ledger, clock, settings({ webhook: webhookTo(receiver) }));
    const s = schedule('* * * * * *', runner);
    await s.start();
    assert.ok(s.nextRun() !== null);
    ledger.certificates.recordIssued(certificate({ issuedAt: T0, lifetimeMs: 90 * DAY }));
    await receiver.waitForRequests(1, 5_000);
    const scheduled = runs(tmp.path).filter((r) => r.reason === 'schedule');
    assert.ok(scheduled.length >= 1);
    assert.ok(
      scheduled.every((r) => r.slot !== null && r.slot % 1000 === 0),
      'slots are whole seconds',
    );
  });
});
