import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pooledRandom } from '../../../src/shared/random.js';

describe('pooledRandom', () => {
  it('hands out the lengths asked for, never the same bytes twice, across block refills', () => {
    const random = pooledRandom();
    const seen = new Set<string>();
    // 600 draws of 16-40 bytes cross the 4 KiB block several times.
    for (let i = 0; i < 600; i++) {
      const length = 16 + (i % 25);
      const bytes = random(length);
      assert.equal(bytes.length, length);
      const hex = Buffer.from(bytes).toString('hex');
      assert.notEqual(hex, '00'.repeat(length), 'a zeroed (already handed out) stretch of the block');
      assert.equal(seen.has(hex), false);
      seen.add(hex);
    }
    assert.equal(random(0).length, 0);
    assert.equal(random(5000).length, 5000);
    assert.throws(() => random(-1), RangeError);
  });

  it('gives copies: changing one draw changes no later draw', () => {
    const random = pooledRandom();
    const first = random(32);
    first.fill(7);
    assert.notDeepEqual(Buffer.from(random(32)), Buffer.alloc(32, 7));
  });
});
