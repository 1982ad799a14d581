import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationScheduler, type SchedulerLimits } from '../../../src/acme/validation/scheduler.js';

/**
 * The validation scheduler with scripted jobs: each job is a promise the
 * test settles, and time is a number the test moves. No sleeps.
 */

class Jobs {
  readonly started: string[] = [];
  private readonly release = new Map<string, () => void>();

  job(id: string): () => Promise<void> {
    return () => {
      this.started.push(id);
      return new Promise<void>((resolve) => this.release.set(id, resolve));
    };
  }

  /** Ends job `id` and lets the scheduler's bookkeeping (a promise chain) run. */
  async finish(id: string): Promise<void> {
    const release = this.release.get(id);
    assert.ok(release !== undefined, `job ${id} is not running`);
    this.release.delete(id);
    release();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }

  get running(): readonly string[] {
    return [...this.release.keys()];
  }
}

const LIMITS: SchedulerLimits = { maxInFlight: 4, maxInFlightPerAccount: 2, maxQueued: 6, maxQueuedPerAccount: 4 };

function scheduler(limits: SchedulerLimits = LIMITS, now: () => number = () => 0): ValidationScheduler {
  return new ValidationScheduler(limits, now);
}

describe('ValidationScheduler', () => {
  it('runs at most maxInFlightPerAccount for one account and queues the rest in order', async () => {
    const s = scheduler();
    const jobs = new Jobs();
    const admissions = ['a1', 'a2', 'a3', 'a4'].map((id) => s.submit('A', id, jobs.job(id)));
    assert.deepEqual(
      admissions.map((a) => (a.ok ? a.state : a.reason)),
      ['running', 'running', 'queued', 'queued'],
    );
    assert.deepEqual(jobs.started, ['a1', 'a2']);
    assert.deepEqual(s.load, { inFlight: 2, queued: 2, accounts: 1 });
    await jobs.finish('a2');
    assert.deepEqual(jobs.started, ['a1', 'a2', 'a3'], 'FIFO: the first queued starts first');
    await jobs.finish('a1');
    await jobs.finish('a3');
    assert.deepEqual(jobs.started, ['a1', 'a2', 'a3', 'a4']);
    await jobs.finish('a4');
    assert.deepEqual(s.load, { inFlight: 0, queued: 0, accounts: 0 });
  });

  it('runs at most maxInFlight across accounts', () => {
    const s = scheduler();
    const jobs = new Jobs();
    for (const account of ['A', 'B', 'C']) for (const n of [1, 2]) s.submit(account, `${account}${n}`, jobs.job(`${account}${n}`));
    assert.deepEqual(jobs.started, ['A1', 'A2', 'B1', 'B2']);
    assert.deepEqual(s.load, { inFlight: 4, queued: 2, accounts: 3 });
  });

  it('hands freed slots to accounts in turn, not to the longest backlog first', async () => {
    const s = scheduler({ maxInFlight: 2, maxInFlightPerAccount: 2, maxQueued: 100, maxQueuedPerAccount: 50 });
    const jobs = new Jobs();
    // A floods first; B and C come later with one job each.
    for (let n = 1; n <= 10; n++) s.submit('A', `A${n}`, jobs.job(`A${n}`));
    s.submit('B', 'B1', jobs.job('B1'));
    s.submit('C', 'C1', jobs.job('C1'));
    s.submit('B', 'B2', jobs.job('B2'));
    assert.deepEqual(jobs.started, ['A1', 'A2']);
    for (const id of ['A1', 'A2']) await jobs.finish(id);
    // Round robin over A, B, C: A3 and B1 take the two slots.
    assert.deepEqual(jobs.started.slice(2), ['A3', 'B1']);
    await jobs.finish('A3');
    assert.equal(jobs.started.at(-1), 'C1', 'C gets its turn before A or B again');
    await jobs.finish('B1');
    assert.equal(jobs.started.at(-1), 'A4');
    await jobs.finish('C1');
    assert.equal(jobs.started.at(-1), 'B2');
    assert.deepEqual(s.placement('A5', 'A'), { state: 'queued', ahead: 0 });
  });

  it('skips an account at its own cap and serves the next one', async () => {
    const s = scheduler({ maxInFlight: 3, maxInFlightPerAccount: 1, maxQueued: 10, maxQueuedPerAccount: 10 });
    const jobs = new Jobs();
    s.submit('A', 'A1', jobs.job('A1'));
    s.submit('A', 'A2', jobs.job('A2'));
    s.submit('B', 'B1', jobs.job('B1'));
    s.submit('B', 'B2', jobs.job('B2'));
    assert.deepEqual(jobs.started, ['A1', 'B1'], 'one per account although a third slot is free');
    await jobs.finish('B1');
    assert.deepEqual(jobs.started, ['A1', 'B1', 'B2'], 'A is at its cap: B2 runs');
  });

  it('refuses past the queue bounds, per account and overall, and changes nothing then', () => {
    const s = scheduler();
    const jobs = new Jobs();
    for (let n = 1; n <= 6; n++) s.submit('A', `A${n}`, jobs.job(`A${n}`));
    assert.deepEqual(s.load, { inFlight: 2, queued: 4, accounts: 1 });
    assert.deepEqual(s.canAdmit('A'), { ok: false, reason: 'accountQueueFull' });
    assert.deepEqual(s.submit('A', 'A7', jobs.job('A7')), { ok: false, reason: 'accountQueueFull' });
    // B runs (slots are free) without queueing, then fills the last two queue places.
    for (let n = 1; n <= 4; n++) s.submit('B', `B${n}`, jobs.job(`B${n}`));
    assert.deepEqual(s.load, { inFlight: 4, queued: 6, accounts: 2 });
    assert.deepEqual(s.submit('C', 'C1', jobs.job('C1')), { ok: false, reason: 'queueFull' });
    assert.deepEqual(s.load, { inFlight: 4, queued: 6, accounts: 2 });
    assert.equal(jobs.started.includes('A7') || jobs.started.includes('C1'), false);
  });

  it('forces in work accepted before a restart past the queue bounds, never past the in-flight caps', async () => {
    const s = scheduler();
    const jobs = new Jobs();
    for (let n = 1; n <= 12; n++) {
      const admission = s.submit('A', `A${n}`, jobs.job(`A${n}`), { force: true });
      assert.equal(admission.ok, true);
    }
    assert.deepEqual(s.load, { inFlight: 2, queued: 10, accounts: 1 });
    assert.deepEqual(jobs.started, ['A1', 'A2']);
    // A new response from another account is refused while the recovered backlog is over the bound.
    assert.deepEqual(s.canAdmit('B'), { ok: true, state: 'running' });
    s.submit('B', 'B1', jobs.job('B1'));
    s.submit('B', 'B2', jobs.job('B2'));
    assert.deepEqual(s.canAdmit('B'), { ok: false, reason: 'queueFull' });
    for (let n = 1; n <= 12; n++) {
      await jobs.finish(`A${n}`);
      assert.ok(jobs.running.filter((id) => id.startsWith('A')).length <= 2);
    }
    assert.deepEqual(s.load, { inFlight: 2, queued: 0, accounts: 1 });
  });

  it('reports placement and a Retry-After that grows with the backlog ahead', async () => {
    let now = 0;
    const s = scheduler({ maxInFlight: 4, maxInFlightPerAccount: 2, maxQueued: 100, maxQueuedPerAccount: 100 }, () => now);
    const jobs = new Jobs();
    for (let n = 1; n <= 12; n++) s.submit('A', `A${n}`, jobs.job(`A${n}`));
    assert.deepEqual(s.placement('A1', 'A'), { state: 'running' });
    assert.deepEqual(s.placement('A3', 'A'), { state: 'queued', ahead: 0 });
    assert.deepEqual(s.placement('A12', 'A'), { state: 'queued', ahead: 9 });
    assert.equal(s.placement('nope', 'A'), undefined);
    // Before any validation finished, one is assumed to take 1 s.
    assert.equal(s.retryAfterSeconds(s.placement('A1', 'A'), 60), 1);
    assert.equal(s.retryAfterSeconds(s.placement('A12', 'A'), 60), 5, '9 ahead at 2 per round: the 5th round');
    // Validations that take 10 s (hanging targets) raise the average and the hint, up to the ceiling.
    for (let n = 1; n <= 10; n++) {
      now += 10_000;
      await jobs.finish(`A${n}`);
    }
    assert.ok(s.retryAfterSeconds({ state: 'running' }, 60) >= 8);
    assert.equal(s.retryAfterSeconds({ state: 'queued', ahead: 500 }, 60), 60);
    assert.ok(s.refusedRetryAfterSeconds(60) >= 8);
    await jobs.finish('A11');
    await jobs.finish('A12');
    assert.equal(s.placement('A12', 'A'), undefined);
  });

  it('settles idle() once nothing runs or waits, and survives a job that throws', async () => {
    const s = scheduler();
    const jobs = new Jobs();
    s.submit('A', 'boom', () => {
      throw new Error('a bug in a job');
    });
    s.submit('A', 'A1', jobs.job('A1'));
    s.submit('A', 'A2', jobs.job('A2'));
    let isIdle = false;
    const idle = s.idle().then(() => (isIdle = true));
    for (let i = 0; i < 5; i++) await Promise.resolve();
    assert.deepEqual(jobs.started, ['A1', 'A2'], 'the throwing job freed its slot');
    await jobs.finish('A1');
    assert.equal(isIdle, false);
    await jobs.finish('A2');
    await idle;
    assert.equal(isIdle, true);
  });

  it('refuses limits that are not positive integers or that contradict each other', () => {
    assert.throws(() => scheduler({ ...LIMITS, maxInFlight: 0 }), TypeError);
    assert.throws(() => scheduler({ ...LIMITS, maxQueued: 1.5 }), TypeError);
    assert.throws(() => scheduler({ ...LIMITS, maxInFlightPerAccount: 5 }), /maxInFlightPerAccount may not exceed maxInFlight/);
    assert.throws(() => scheduler({ ...LIMITS, maxQueuedPerAccount: 7 }), /maxQueuedPerAccount may not exceed maxQueued/);
  });
});
