import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { StrikeRegister } from '../../../src/tls/anti-replay.js';
import { isTicketAgeFresh } from '../../../src/tls/handshake/server/early-data.js';

const key = (n: number): Buffer => Buffer.alloc(32, n);

describe('StrikeRegister (RFC 8446 §8.2, ClientHello recording)', () => {
  it('takes a binder once and calls the same binder again a replay', () => {
    const register = new StrikeRegister({ capacity: 4, holdMs: 20_000 });
    assert.equal(register.strike(key(1), 1_000), 'fresh');
    assert.equal(register.strike(key(1), 1_001), 'replay');
    assert.equal(register.strike(key(2), 1_002), 'fresh');
    assert.equal(register.size, 2);
  });

  it('fails closed when full: a new binder is refused, not accepted, and not recorded', () => {
    const register = new StrikeRegister({ capacity: 2, holdMs: 20_000 });
    assert.equal(register.strike(key(1), 0), 'fresh');
    assert.equal(register.strike(key(2), 0), 'fresh');
    assert.equal(register.strike(key(3), 0), 'full');
    assert.equal(register.size, 2);
    // A replay of a held binder is still a replay when full.
    assert.equal(register.strike(key(1), 0), 'replay');
  });

  it('drops entries once held for holdMs, making room again (memory stays bounded)', () => {
    const register = new StrikeRegister({ capacity: 2, holdMs: 20_000 });
    register.strike(key(1), 0);
    register.strike(key(2), 5_000);
    assert.equal(register.strike(key(3), 19_999), 'full');
    assert.equal(register.strike(key(3), 20_000), 'fresh', 'key 1 expired at 20 s');
    assert.equal(register.size, 2);
    assert.equal(register.strike(key(2), 24_999), 'replay');
    assert.equal(register.strike(key(2), 25_000), 'fresh', 'key 2 expired at 25 s');
  });

  it('tells binders apart by every byte, whatever their offset in the buffer', () => {
    const register = new StrikeRegister({ capacity: 8, holdMs: 1_000 });
    const big = Buffer.concat([key(7), key(8)]);
    assert.equal(register.strike(big.subarray(0, 32), 0), 'fresh');
    assert.equal(register.strike(big.subarray(32), 0), 'fresh');
    assert.equal(register.strike(Buffer.from(key(7)), 0), 'replay');
  });

  it('refuses a capacity or hold that is not a positive integer', () => {
    assert.throws(() => new StrikeRegister({ capacity: 0, holdMs: 1 }), TypeError);
    assert.throws(() => new StrikeRegister({ capacity: 1, holdMs: 0 }), TypeError);
  });
});

describe('ticket age window (RFC 8446 §8.3)', () => {
  const ageAdd = 0xfffffff0;
  it('accepts a client age within the tolerance of ours, across the u32 wrap of obfuscated_ticket_age', () => {
    // Issued at 1,000,000; now 1,005,000: our age 5 s. The client says 5.2 s, obfuscated (wraps past 2^32).
    const obfuscated = (5_200 + ageAdd) >>> 0;
    assert.equal(isTicketAgeFresh(1_005_000, 1_000_000, ageAdd, obfuscated, 10_000), true);
  });

  it('refuses a ClientHello held back past the tolerance (a replay later on)', () => {
    const obfuscated = (5_000 + ageAdd) >>> 0;
    assert.equal(isTicketAgeFresh(1_015_000, 1_000_000, ageAdd, obfuscated, 10_000), true, 'exactly 10 s off');
    assert.equal(isTicketAgeFresh(1_015_001, 1_000_000, ageAdd, obfuscated, 10_000), false);
    assert.equal(isTicketAgeFresh(1_000_000, 1_000_000, ageAdd, (20_000 + ageAdd) >>> 0, 10_000), false, 'a client age from the future');
  });
});
