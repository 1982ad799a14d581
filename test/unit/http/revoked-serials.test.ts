import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevokedSerials } from '../../../src/http/index.js';

describe('RevokedSerials (revocations this node heard of)', () => {
  it('remembers serials up to its bound and forgets the oldest first; one told about again is kept longest', () => {
    const serials = new RevokedSerials(3);
    for (const serial of ['0a', '0b', '0c']) serials.add(serial);
    serials.add('0a');
    serials.add('0d');
    assert.equal(serials.size, 3);
    assert.deepEqual(
      ['0a', '0b', '0c', '0d'].map((serial) => serials.has(serial)),
      [true, false, true, true],
    );
  });

  it('refuses a bound that is not a positive integer', () => {
    assert.throws(() => new RevokedSerials(0), RangeError);
    assert.throws(() => new RevokedSerials(1.5), RangeError);
  });
});
