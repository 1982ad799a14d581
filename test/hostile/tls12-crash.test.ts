import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../robustness/flood-tools.js';
import { targetSeed } from './fuzz/runner.js';
import { FUZZ_ENV } from './fuzz/target.js';
import { makeTarget } from './fuzz/targets/index.js';
import { HostileService } from './harness.js';
import { mtlsHealthz } from './tls12-wire.js';

/**
 * The crash test for the TLS 1.2 surfaces: `keysmith serve` as a child
 * takes a fixed-seed batch of the tls12 fuzz target's mutated client
 * flights (each on a real handshake) and of the tls12hello target's
 * mutated ClientHellos, then must still be running and answer /healthz over
 * mutual TLS in TLS 1.3 and in TLS 1.2. Bounded: a fixed input count.
 */

const SEED = 1_106_202_611;
const BATCHES = { tls12: 400, tls12hello: 800 } as const;

describe('keysmith serve survives the TLS 1.2 fuzz targets', () => {
  let service: HostileService;
  before(async () => {
    // The tls12 target's settings (a 2 s handshake timeout) cover the tls12hello target too.
    service = await HostileService.start({ env: { ...FUZZ_ENV, ...(await makeTarget('tls12')).env } });
  });
  after(() => service.stop());

  for (const name of ['tls12', 'tls12hello'] as const) {
    it(`${BATCHES[name]} ${name} inputs (seed ${SEED}) leave it running and answering`, async () => {
      const target = await makeTarget(name);
      const session = await target.open(service);
      const prng = new Prng(targetSeed(SEED, name));
      const outcomes = new Map<string, number>();
      try {
        for (let sent = 0; sent < BATCHES[name]; sent += target.parallel) {
          const batch = Array.from({ length: target.parallel }, () => target.generate(prng));
          for (const outcome of await Promise.all(batch.map((input) => session.send(input))))
            outcomes.set(String(outcome.status), (outcomes.get(String(outcome.status)) ?? 0) + 1);
          assert.equal(service.isAlive, true, `keysmith exited after ${sent + batch.length} inputs\n${service.child.describeOutput()}`);
        }
      } finally {
        session.close();
      }
      console.log(`${name}: outcomes ${JSON.stringify(Object.fromEntries(outcomes))}`);
      // tls12 ends every connection itself (its oracle); tls12hello hangs up after the first answer, so only crashes count there.
      if (name === 'tls12') assert.deepEqual([...outcomes.keys()], ['closed']);
      await service.assertHealthy(`after the ${name} batch`);
    });
  }

  it('answers /healthz over mutual TLS in TLS 1.3 and in TLS 1.2 afterwards', async () => {
    assert.deepEqual(await mtlsHealthz(service, 'TLSv1.3'), { status: 200, protocol: 'TLSv1.3' });
    assert.deepEqual(await mtlsHealthz(service, 'TLSv1.2'), { status: 200, protocol: 'TLSv1.2' });
  });
});
