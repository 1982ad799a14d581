import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  activeOf,
  bundleSequence,
  type PublishedSetHistory,
  classifyIntermediates,
  lifeLeft,
  publishedOf,
  x509BundleChanges,
  type IntermediateFacts,
  type IntermediateStatus,
} from '../../../src/ca/index.js';
import { FixedClock } from './helpers.js';

/**
 * The rotation state machine (src/ca/rotation.ts) on a fake clock: the
 * states are a function of the facts and the time, so the whole life of
 * three intermediates is walked by moving the clock.
 */
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const YEAR = 365 * DAY;
const T0 = Date.UTC(2026, 0, 1);
const POLICY = { longestLeafMs: 2 * DAY };

function intermediate(
  serial: string,
  preparedAt: number,
  activateAt: number,
  overrides: Partial<IntermediateFacts> = {},
): IntermediateFacts {
  return { serial, notBefore: preparedAt, notAfter: preparedAt + 5 * YEAR, preparedAt, activateAt, revokedAt: undefined, ...overrides };
}

function states(statuses: readonly IntermediateStatus[]): Record<string, string> {
  return Object.fromEntries(statuses.map((s) => [s.serial, s.state]));
}

describe('classifyIntermediates: prepared, active, retiring, retired', () => {
  const original = intermediate('aa', T0, T0);
  const second = intermediate('bb', T0 + 100 * DAY, T0 + 101 * DAY);

  it('walks a rotation on the fake clock', () => {
    const clock = new FixedClock(T0 + 100 * DAY + HOUR);
    const at = (): IntermediateStatus[] => classifyIntermediates([original, second], clock.now(), POLICY);

    // Published for a day before it signs: the original still signs.
    assert.deepEqual(states(at()), { aa: 'active', bb: 'prepared' });
    assert.deepEqual(
      publishedOf(at()).map((s) => s.serial),
      ['aa', 'bb'],
    );
    assert.equal(activeOf(at())?.serial, 'aa');

    // Its activation instant: it signs, the original retires (still published, its leaves still live).
    clock.time = second.activateAt;
    assert.deepEqual(states(at()), { aa: 'retiring', bb: 'active' });
    const retiring = at().find((s) => s.serial === 'aa');
    assert.equal(retiring?.signedUntil, second.activateAt);
    assert.equal(retiring?.droppedAt, second.activateAt + POLICY.longestLeafMs);

    // One millisecond before its last possible leaf expires it is still published; at that instant it is dropped.
    clock.time = second.activateAt + POLICY.longestLeafMs - 1;
    assert.deepEqual(states(at()), { aa: 'retiring', bb: 'active' });
    clock.advance(1);
    assert.deepEqual(states(at()), { aa: 'retired', bb: 'active' });
    assert.deepEqual(
      publishedOf(at()).map((s) => s.serial),
      ['bb'],
    );
  });

  it('keeps a retiring intermediate no longer than its own notAfter (no leaf outlives its issuer)', () => {
    const shortLived = intermediate('cc', T0, T0, { notAfter: T0 + 101 * DAY + HOUR });
    const statuses = classifyIntermediates([shortLived, second], T0 + 101 * DAY, POLICY);
    assert.equal(statuses.find((s) => s.serial === 'cc')?.droppedAt, T0 + 101 * DAY + HOUR);
  });

  it('of two activations, the later one signs; a tie goes to the larger serial on every node', () => {
    const a = intermediate('0a', T0, T0 + DAY);
    const b = intermediate('0b', T0, T0 + DAY);
    assert.deepEqual(states(classifyIntermediates([a, b], T0 + DAY, POLICY)), { '0a': 'retiring', '0b': 'active' });
    assert.deepEqual(states(classifyIntermediates([b, a], T0 + DAY, POLICY)), { '0a': 'retiring', '0b': 'active' });
  });

  it('an expired intermediate is never active; with no successor none is', () => {
    const expired = intermediate('dd', T0, T0, { notAfter: T0 + DAY });
    assert.deepEqual(states(classifyIntermediates([expired], T0 + DAY, POLICY)), { dd: 'retired' });
    assert.equal(activeOf(classifyIntermediates([expired], T0 + DAY, POLICY)), undefined);
  });
});

describe('classifyIntermediates: revocation', () => {
  it('a revoked active intermediate hands over to the newest usable one', () => {
    const original = intermediate('aa', T0, T0);
    const compromised = intermediate('bb', T0 + DAY, T0 + 2 * DAY, { revokedAt: T0 + 3 * DAY });
    // Before the revocation: bb active.
    assert.deepEqual(states(classifyIntermediates([original, compromised], T0 + 3 * DAY - 1, POLICY)), { aa: 'retiring', bb: 'active' });
    // From the revocation on: bb revoked (out of the bundle), and aa, still unexpired, is the newest usable one.
    const after = classifyIntermediates([original, compromised], T0 + 3 * DAY, POLICY);
    assert.deepEqual(states(after), { aa: 'active', bb: 'revoked' });
    assert.equal(after.find((s) => s.serial === 'bb')?.droppedAt, T0 + 3 * DAY);
    assert.deepEqual(
      publishedOf(after).map((s) => s.serial),
      ['aa'],
    );
  });

  it('a prepared intermediate revoked before it activates never signs', () => {
    const original = intermediate('aa', T0, T0);
    const prepared = intermediate('bb', T0 + DAY, T0 + 5 * DAY, { revokedAt: T0 + 2 * DAY });
    assert.deepEqual(states(classifyIntermediates([original, prepared], T0 + 6 * DAY, POLICY)), { aa: 'active', bb: 'revoked' });
  });
});

describe('spiffe_sequence: the latest change of the published set', () => {
  it('grows at publication, at each drop, and never otherwise', () => {
    const original = intermediate('aa', T0, T0);
    const second = intermediate('bb', T0 + 10 * DAY, T0 + 11 * DAY);
    const x509 = (now: number): PublishedSetHistory => ({
      lastChangedAt: (at) => Math.max(0, ...x509BundleChanges(classifyIntermediates([original, second], now, POLICY), at)),
    });
    const sequenceAt = (now: number): number => bundleSequence([x509(now)], now);
    assert.equal(sequenceAt(T0), T0, 'the first intermediate');
    assert.equal(sequenceAt(T0 + 10 * DAY - 1), T0);
    assert.equal(sequenceAt(T0 + 10 * DAY), T0 + 10 * DAY, 'the second is published');
    assert.equal(sequenceAt(T0 + 11 * DAY), T0 + 10 * DAY, 'activation changes no member of the set');
    assert.equal(sequenceAt(T0 + 13 * DAY - 1), T0 + 10 * DAY);
    assert.equal(sequenceAt(T0 + 13 * DAY), T0 + 13 * DAY, 'the original is dropped after its last leaf');
    assert.equal(sequenceAt(T0 + 400 * DAY), T0 + 13 * DAY);
  });

  it('takes the latest change over every part and is at least 1', () => {
    assert.equal(bundleSequence([], T0), 1);
    const part = (at: number): PublishedSetHistory => ({ lastChangedAt: () => at });
    assert.equal(bundleSequence([part(T0), part(T0 + 2), part(0)], T0 + 5), T0 + 2);
  });
});

describe('lifeLeft', () => {
  it('is the share of notBefore..notAfter still ahead, clamped to 0..1', () => {
    const facts = { notBefore: T0, notAfter: T0 + 100 * DAY };
    assert.equal(lifeLeft(facts, T0 - DAY), 1);
    assert.equal(lifeLeft(facts, T0 + 80 * DAY), 0.2);
    assert.equal(lifeLeft(facts, T0 + 100 * DAY), 0);
    assert.equal(lifeLeft(facts, T0 + 200 * DAY), 0);
  });
});
