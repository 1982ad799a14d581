import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CrlPublisher, type BuiltCrlSet, type CrlBuilder, type CrlBuildOrder, type CrlTimers } from '../../../src/ca/index.js';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import { FixedClock } from './helpers.js';

/**
 * The CRL publisher's scheduling (src/ca/crl.ts) with a builder that only
 * counts and a timer queue the test advances: one build for a burst, the max
 * delay bounds the wait, builds never overlap, a failed build is retried and
 * the old CRL stays served, a check that finds nothing new builds nothing.
 */

const HOUR = 3_600_000;

/** Timers on the fixed clock: `advance` fires what falls due, in order. */
class ManualTimers implements CrlTimers {
  private next = 1;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  constructor(private readonly clock: FixedClock) {}
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.set(id, { at: this.clock.now() + ms, fn });
    return id;
  }
  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }
  get armed(): number {
    return this.pending.size;
  }
  advance(ms: number): void {
    const until = this.clock.now() + ms;
    for (;;) {
      const due = [...this.pending.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (due === undefined) break;
      this.pending.delete(due[0]);
      this.clock.advance(Math.max(0, due[1].at - this.clock.now()));
      due[1].fn();
    }
    this.clock.advance(Math.max(0, until - this.clock.now()));
  }
}

/** A builder whose builds finish when the test says so; it records what it was asked. */
class HeldBuilder implements CrlBuilder {
  readonly orders: CrlBuildOrder[] = [];
  private readonly waiting: { order: CrlBuildOrder; resolve: (set: BuiltCrlSet) => void; reject: (err: Error) => void }[] = [];
  running = 0;
  maxRunning = 0;
  constructor(private count = 0) {}
  setCount(count: number): void {
    this.count = count;
  }
  build(order: CrlBuildOrder): Promise<BuiltCrlSet> {
    this.orders.push(order);
    this.running++;
    this.maxRunning = Math.max(this.maxRunning, this.running);
    return new Promise((resolve, reject) => this.waiting.push({ order, resolve, reject }));
  }
  /** Finishes the oldest build. */
  async finish(error?: Error): Promise<void> {
    const next = this.waiting.shift();
    assert.ok(next !== undefined, 'a build is running');
    this.running--;
    if (error !== undefined) next.reject(error);
    else {
      const der = Uint8Array.of(next.order.crlNumber % 256);
      next.resolve({
        ...next.order,
        full: { der, entries: this.count, etag: '"x"' },
        shards: [],
        count: this.count,
        lastRevokedAt: 0,
        timings: { readMs: 0, encodeMs: 0, signMs: 0 },
      });
    }
    // Let the publisher's continuations run.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

function publisher(
  options: { debounceMs?: number; maxDelayMs?: number; probeCount?: () => number; ledger?: Ledger; lastCrlNumber?: number } = {},
) {
  const clock = new FixedClock(Date.parse('2030-06-01T08:00:00Z'));
  // CRL numbers from a real ledger (in memory, real migrations), as serve takes them.
  const ledger = options.ledger ?? openLedger({ path: ':memory:' });
  const timers = new ManualTimers(clock);
  const builder = new HeldBuilder();
  const errors: unknown[] = [];
  const crl = new CrlPublisher({
    builder,
    probe: { revokedSummary: () => ({ count: options.probeCount?.() ?? 0, lastRevokedAt: 0 }) },
    numbers: ledger.crlNumbers,
    ...(options.lastCrlNumber === undefined ? {} : { lastCrlNumber: options.lastCrlNumber }),
    issuerName: 'CN=test',
    clock,
    timers,
    debounceMs: options.debounceMs ?? 500,
    maxDelayMs: options.maxDelayMs ?? 5_000,
    onError: (err) => errors.push(err),
  });
  return { clock, timers, builder, crl, errors, ledger };
}

describe('CrlPublisher scheduling', () => {
  it('serves nothing until the first build, and answers from memory without building', () => {
    const { crl, builder } = publisher();
    assert.equal(crl.current(), undefined);
    assert.equal(builder.orders.length, 0);
  });

  it('coalesces a burst of revocations into one build after the quiet time', async () => {
    const { crl, builder, timers } = publisher();
    for (let i = 0; i < 1000; i++) {
      crl.noteRevoked();
      timers.advance(1);
    }
    assert.equal(builder.orders.length, 0, 'the burst is still going: no build yet');
    timers.advance(499);
    assert.equal(builder.orders.length, 1);
    await builder.finish();
    assert.equal(crl.builds, 1);
    assert.equal(timers.armed, 0, 'nothing else pending');
    assert.ok(crl.current() !== undefined);
  });

  it('builds no later than the max delay after the first revocation while a burst goes on', async () => {
    const { crl, builder, timers } = publisher({ debounceMs: 500, maxDelayMs: 2_000 });
    for (let i = 0; i < 30; i++) {
      crl.noteRevoked();
      timers.advance(100);
    }
    // 3 s of revocations every 100 ms: the first build started at 2 s.
    assert.equal(builder.orders.length, 1);
    assert.equal(builder.orders[0]?.now, Date.parse('2030-06-01T08:00:02Z'));
  });

  it('runs one build at a time: revocations during a build get one more build after it', async () => {
    const { crl, builder, timers } = publisher();
    crl.noteRevoked();
    timers.advance(500);
    assert.equal(builder.running, 1);
    for (let i = 0; i < 50; i++) crl.noteRevoked();
    timers.advance(10_000);
    assert.equal(builder.orders.length, 1, 'no second build while the first runs');
    await builder.finish();
    timers.advance(500);
    assert.equal(builder.orders.length, 2);
    await builder.finish();
    assert.equal(builder.maxRunning, 1);
    assert.equal(timers.armed, 0);
    const [first, second] = builder.orders;
    assert.ok(first !== undefined && second !== undefined && second.crlNumber > first.crlNumber, 'RFC 5280 §5.2.3: the number grows');
  });

  it('keeps serving the last CRL when a build fails, reports it, and builds again', async () => {
    const { crl, builder, timers, errors } = publisher();
    crl.noteRevoked();
    timers.advance(500);
    await builder.finish();
    const served = crl.current();
    crl.noteRevoked();
    timers.advance(500);
    await builder.finish(new Error('disk on fire'));
    assert.equal(errors.length, 1);
    assert.equal(crl.current()?.der, served?.der);
    timers.advance(500);
    assert.equal(builder.orders.length, 3, 'the unserved revocation is retried');
  });

  it('on the schedule, builds nothing when the ledger reports the same revoked set, and re-signs at half the validity', async () => {
    let count = 0;
    const { crl, builder, clock } = publisher({ probeCount: () => count });
    const first = crl.refresh();
    await builder.finish();
    assert.equal(await first, 'rebuilt');
    clock.advance(HOUR);
    assert.equal(await crl.refresh(), 'unchanged');
    count = 1;
    const second = crl.refresh();
    await Promise.resolve();
    await builder.finish();
    assert.equal(await second, 'rebuilt');
    builder.setCount(1);
    clock.advance(HOUR);
    // The builder's summary still says 0 (setCount came after): one more build, then steady.
    const third = crl.refresh();
    await Promise.resolve();
    await builder.finish();
    assert.equal(await third, 'rebuilt');
    assert.equal(await crl.refresh(), 'unchanged');
    clock.advance(12 * HOUR);
    const fourth = crl.refresh();
    await Promise.resolve();
    await builder.finish();
    assert.equal(await fourth, 'rebuilt', 'half of 24 h passed');
  });

  it('takes each number from the ledger: 1, 2, 3 on a new ledger, and two publishers on one ledger never share one (RFC 5280 §5.2.3)', async () => {
    const ledger = openLedger({ path: ':memory:' });
    const a = publisher({ ledger });
    const b = publisher({ ledger });
    const numbers: number[] = [];
    for (const node of [a, b, a, a, b]) {
      const built = node.crl.rebuild();
      await node.builder.finish();
      numbers.push((await built).crlNumber);
    }
    assert.deepEqual(numbers, [1, 2, 3, 4, 5]);
    ledger.close();
  });

  it('continues above the number an earlier version kept in the CRL state file, and never goes back', async () => {
    const ledger = openLedger({ path: ':memory:' });
    const upgraded = publisher({ ledger, lastCrlNumber: 1_780_000_000_000 });
    const first = upgraded.crl.rebuild();
    await upgraded.builder.finish();
    assert.equal((await first).crlNumber, 1_780_000_000_001);
    // A publisher without the state file (another node) continues from the ledger.
    const other = publisher({ ledger });
    const second = other.crl.rebuild();
    await other.builder.finish();
    assert.equal((await second).crlNumber, 1_780_000_000_002);
    ledger.close();
  });
});
