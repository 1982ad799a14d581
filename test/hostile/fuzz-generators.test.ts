import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Prng } from '../robustness/flood-tools.js';
import { decodeDer, encodeDer } from './fuzz/der.js';
import { targetSeed } from './fuzz/runner.js';
import { TARGET_NAMES, type FuzzTarget } from './fuzz/target.js';
import { loadCsrSeeds } from './fuzz/targets/csr.js';
import { makeTarget } from './fuzz/targets/index.js';

/**
 * The fuzzer's generators without a service: a seed replays the same
 * inputs (so a printed seed reproduces a run), and the CSR mutations reach
 * the hostile encodings (an EC point at infinity) by themselves.
 */

function digest(target: FuzzTarget, seed: number, count: number): string {
  const prng = new Prng(seed);
  const hash = createHash('sha256');
  for (let i = 0; i < count; i++) hash.update(target.generate(prng));
  return hash.digest('hex');
}

describe('fuzz generators', () => {
  for (const name of TARGET_NAMES) {
    it(`${name}: the same seed gives the same inputs, another seed others`, async () => {
      const target = await makeTarget(name);
      const seed = targetSeed(1_106_202_611, name);
      assert.equal(digest(target, seed, 200), digest(target, seed, 200));
      assert.notEqual(digest(target, seed, 200), digest(target, seed + 1, 200));
    });
  }

  it('tls12hello: the fresh seed 1755641937, whose edits once overflowed extensions<8..2^16-1>, gives 20,000 encodable hellos', async () => {
    const target = await makeTarget('tls12hello');
    const prng = new Prng(targetSeed(1_755_641_937, 'tls12hello'));
    let longest = 0;
    for (let i = 0; i < 20_000; i++) longest = Math.max(longest, target.generate(prng).length);
    assert.ok(longest > 65_535, `some hellos span several records (longest ${longest} bytes)`);
  });

  it('re-encodes every corpus CSR byte for byte from its DER tree', async () => {
    for (const seed of await loadCsrSeeds()) assert.deepEqual(encodeDer(decodeDer(seed.der)), seed.der, seed.name);
  });

  it('makes a CSR whose EC key is the point at infinity (SPKI BIT STRING 00 00) within 2,000 inputs of the fixed seed', async () => {
    const target = await makeTarget('csr');
    const prng = new Prng(targetSeed(1_106_202_611, 'csr'));
    const ecPublicKey = Buffer.from('06072a8648ce3d0201', 'hex');
    let found = -1;
    for (let i = 0; i < 2_000 && found < 0; i++) {
      const spki = decodeDer(target.generate(prng)).children?.[0]?.children?.[2];
      const algorithm = spki?.children?.[0]?.children?.[0];
      const key = spki?.children?.[1];
      const isEc = algorithm !== undefined && encodeDer(algorithm).equals(ecPublicKey);
      if (isEc && key?.tag === 0x03 && key.content?.equals(Buffer.from([0, 0])) === true) found = i;
    }
    assert.ok(found >= 0, 'no point-at-infinity CSR in 2,000 inputs');
  });
});
