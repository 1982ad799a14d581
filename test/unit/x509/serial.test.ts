import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDomainError } from '../../../src/shared/errors.js';
import { normalizeSerial, randomSerial } from '../../../src/x509/index.js';

describe('randomSerial', () => {
  it('is 16 octets of lowercase hex, positive, with a non-zero first octet (RFC 5280 §4.1.2.2)', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const serial = randomSerial();
      assert.match(serial, /^[4-7][0-9a-f]{31}$/);
      seen.add(serial);
    }
    assert.equal(seen.size, 2000);
  });

  it('fixes only the top two bits of what the random source gives', () => {
    assert.equal(
      randomSerial(() => new Uint8Array(16).fill(0xff)),
      '7f' + 'ff'.repeat(15),
    );
    assert.equal(
      randomSerial(() => new Uint8Array(16)),
      '40' + '00'.repeat(15),
    );
    assert.throws(() => randomSerial(() => new Uint8Array(8)), /wanted 16/);
  });
});

describe('normalizeSerial', () => {
  it('accepts the forms tools print and returns the ledger form', () => {
    assert.equal(normalizeSerial('5A:1B:2C'), '5a1b2c');
    assert.equal(normalizeSerial('00FF01'), 'ff01');
    assert.equal(normalizeSerial('abc'), '0abc');
    assert.equal(normalizeSerial('0001'), '01');
  });

  it('refuses non-hex, zero, empty and over-long serials', () => {
    for (const bad of ['', 'xyz', '00', '0000', 'ab'.repeat(22)]) {
      assert.throws(
        () => normalizeSerial(bad),
        (err: unknown) => isDomainError(err, 'malformed'),
        bad,
      );
    }
  });
});
