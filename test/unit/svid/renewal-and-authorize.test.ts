import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RegistrationEntry } from '../../../src/domain/entries.js';
import { cryptoUnitRandom, findGrantingEntry, renewAfter } from '../../../src/svid/index.js';
import { HOUR, NODE, OTHER_NODE, throwsWith, WEB } from './helpers.js';

/** The two pure rules under the service: when to renew, and which entry grants a request. */

describe('renewAfter', () => {
  const issuedAt = 1_700_000_000_000;
  const notAfter = issuedAt + HOUR;

  it('is half the lifetime with no jitter, 45% at the low end and just under 55% at the high end', () => {
    assert.equal(
      renewAfter(issuedAt, notAfter, () => 0.5),
      issuedAt + HOUR / 2,
    );
    assert.equal(
      renewAfter(issuedAt, notAfter, () => 0),
      issuedAt + Math.round(HOUR * 0.45),
    );
    const high = renewAfter(issuedAt, notAfter, () => 1 - 2 ** -32);
    assert.ok(high < issuedAt + HOUR * 0.55 + 1 && high > issuedAt + HOUR * 0.5499);
  });

  it('refuses a random source outside [0, 1)', () => {
    assert.throws(() => renewAfter(issuedAt, notAfter, () => 1), RangeError);
    assert.throws(() => renewAfter(issuedAt, notAfter, () => -0.1), RangeError);
    assert.throws(() => renewAfter(issuedAt, notAfter, () => Number.NaN), RangeError);
  });

  it('keeps 1000 draws of the crypto source within ±10% of half the lifetime, spread over the range', () => {
    const offsets = Array.from({ length: 1000 }, () => renewAfter(issuedAt, notAfter, cryptoUnitRandom) - issuedAt);
    for (const offset of offsets) assert.ok(offset >= HOUR * 0.45 && offset <= HOUR * 0.55, `offset ${offset}`);
    // Both halves of the jitter range are used (chance of failing by luck: 2^-999).
    assert.ok(offsets.some((offset) => offset < HOUR / 2) && offsets.some((offset) => offset > HOUR / 2));
  });
});

function entry(fields: Partial<RegistrationEntry> & Pick<RegistrationEntry, 'id' | 'parentId'>): RegistrationEntry {
  return {
    spiffeId: WEB,
    x509TtlMs: HOUR,
    jwtTtlMs: 300_000,
    dnsNames: [],
    admin: false,
    expiresAt: null,
    createdAt: 1000,
    updatedAt: 1000,
    createdBy: 'cli:a',
    ...fields,
  };
}

describe('findGrantingEntry', () => {
  const now = 50_000;

  it('grants to the parent, and to the holder of the SPIFFE ID (renewal)', () => {
    const byNode = entry({ id: 'a', parentId: NODE });
    assert.equal(findGrantingEntry([byNode], NODE, WEB, now), byNode);
    assert.equal(findGrantingEntry([byNode], WEB, WEB, now), byNode);
  });

  it('refuses anyone else, and ignores entries for another SPIFFE ID', () => {
    const byNode = entry({ id: 'a', parentId: NODE });
    throwsWith(
      () => findGrantingEntry([byNode], OTHER_NODE, WEB, now),
      'forbidden',
      new RegExp(`^no registration entry lets ${OTHER_NODE} obtain ${WEB}$`),
    );
    throwsWith(
      () => findGrantingEntry([entry({ id: 'b', parentId: NODE, spiffeId: `${WEB}/x` })], NODE, WEB, now),
      'forbidden',
      /no registration entry/,
    );
  });

  it('prefers the entry naming the caller as parent, then the oldest', () => {
    const other = entry({ id: 'a', parentId: OTHER_NODE, createdAt: 1 });
    const own = entry({ id: 'b', parentId: WEB, createdAt: 9 });
    assert.equal(findGrantingEntry([other, own], WEB, WEB, now), own);
    const older = entry({ id: 'z', parentId: OTHER_NODE, createdAt: 1 });
    const newer = entry({ id: 'y', parentId: NODE, createdAt: 2 });
    assert.equal(findGrantingEntry([newer, older], WEB, WEB, now), older);
  });

  it('treats an entry as expired from its expiresAt on, and names it', () => {
    const expiring = entry({ id: 'e1', parentId: NODE, expiresAt: now });
    assert.equal(findGrantingEntry([expiring], NODE, WEB, now - 1), expiring);
    throwsWith(
      () => findGrantingEntry([expiring], NODE, WEB, now),
      'forbidden',
      new RegExp(`^entry e1 expired at ${new Date(now).toISOString().replace(/\./g, '\\.')}$`),
    );
  });
});
