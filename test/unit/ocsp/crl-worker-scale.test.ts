import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { revokedLedger, type RevokedLedger } from '../../../bench/crl/revoked-ledger.js';
import { StallMonitor } from '../../../bench/crl/stall.js';
import { crlIssuerFor, CrlPublisher } from '../../../src/ca/index.js';
import { WorkerCrlBuilder } from '../../../src/cli/crl-builder.js';
import { checkCrlShardLayout, CrlFiles } from '../../../src/cli/crl-files.js';
import { systemClock } from '../../../src/shared/clock.js';
import { runProcess } from '../../helpers/processes.js';

/**
 * bench/crl at a smaller scale (20,000 revoked rows): the CRL is built and
 * signed in the worker thread while this thread's event loop keeps running,
 * openssl reads the result, and the files kept in the data directory give
 * the same CRLs back after a restart (and are refused for another CA).
 * Figures for 100,000 are in bench/crl/README.md.
 */

const REVOKED = 20_000;
/** The event loop's longest pause while the build runs; an idle loop on the shared 2-core machine shows 4-13 ms. */
const STALL_BOUND_MS = 60;

let dir: string;
let seeded: RevokedLedger;
let builder: WorkerCrlBuilder;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'keysmith-crl-scale-'));
  seeded = await revokedLedger(dir, REVOKED, { validRows: 5_000 });
  const { issuer } = crlIssuerFor(seeded.material);
  builder = new WorkerCrlBuilder({
    ledger: { kind: 'sqlite', path: seeded.databasePath },
    issuerName: seeded.issuerName,
    issuer,
    signingKey: seeded.material.intermediate.keyObject,
    shardCount: 4,
    crlUrl: 'http://127.0.0.1/crl',
  });
});

after(async () => {
  await builder.close();
  seeded.ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe(`a CRL of ${REVOKED} revoked certificates, built in the worker`, () => {
  it(`never pauses this event loop longer than ${STALL_BOUND_MS} ms, and openssl reads every entry`, async () => {
    const files = new CrlFiles(dir, crlIssuerFor(seeded.material).issuer, 'http://127.0.0.1/crl');
    const crl = new CrlPublisher({
      builder,
      probe: builder,
      numbers: seeded.ledger.crlNumbers,
      issuerName: seeded.issuerName,
      clock: systemClock,
      shardCount: 4,
      store: files,
    });
    // The worker's thread starts on first use; warm it so the figure is a build's.
    await builder.revokedSummary(seeded.issuerName, Date.now());
    const monitor = new StallMonitor();
    const started = performance.now();
    const set = await crl.rebuild();
    const wallMs = performance.now() - started;
    const stallMs = monitor.stop();
    console.log(
      `built ${set.full.entries} entries in ${wallMs.toFixed(0)} ms (read ${set.timings.readMs.toFixed(0)}, encode ${set.timings.encodeMs.toFixed(0)}, sign ${set.timings.signMs.toFixed(0)} ms), ${set.full.der.byteLength} bytes; longest pause ${stallMs.toFixed(1)} ms`,
    );
    assert.equal(set.full.entries, REVOKED);
    assert.equal(
      set.shards.reduce((sum, shard) => sum + shard.entries, 0),
      REVOKED,
    );
    assert.ok(stallMs < STALL_BOUND_MS, `longest pause ${stallMs.toFixed(1)} ms`);
    const file = join(dir, 'full.der');
    writeFileSync(file, set.full.der);
    const text = await runProcess('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text'], { timeoutMs: 60_000 });
    assert.equal(text.code, 0, text.stderr);
    assert.equal((text.stdout.match(/Serial Number: /g) ?? []).length, REVOKED);

    // Periodic check: nothing changed, nothing built (the check runs in the worker too).
    assert.equal(await crl.refresh(), 'unchanged');
    assert.equal(crl.builds, 1);
  });

  it('gives the kept CRLs back after a restart, byte for byte, and refuses them for another issuer or URL', async () => {
    const { issuer } = crlIssuerFor(seeded.material);
    const files = new CrlFiles(dir, issuer, 'http://127.0.0.1/crl');
    const set = await builder.build({
      now: Date.now(),
      thisUpdate: 1_900_000_000_000,
      nextUpdate: 1_900_086_400_000,
      crlNumber: 1_900_000_000_000,
    });
    await files.save(set);
    const restored = files.restore();
    assert.ok(restored !== undefined);
    assert.deepEqual(Buffer.from(restored.full.der), Buffer.from(set.full.der));
    assert.deepEqual(
      restored.shards.map((s) => s.etag),
      set.shards.map((s) => s.etag),
    );
    assert.equal(restored.crlNumber, set.crlNumber);
    // The number alone is read back whatever else the state says: the ledger's CRL numbers continue above it after an upgrade.
    assert.equal(files.lastCrlNumber(), 1_900_000_000_000);
    assert.equal(
      new CrlFiles(dir, { ...issuer, keyIdentifier: new Uint8Array(20) }, 'http://other.example/crl').lastCrlNumber(),
      1_900_000_000_000,
    );
    assert.equal(new CrlFiles(join(dir, 'nowhere'), issuer, 'http://127.0.0.1/crl').lastCrlNumber(), undefined);
    // Served at once by a new publisher, before any build.
    const crl = new CrlPublisher({
      builder,
      probe: builder,
      numbers: seeded.ledger.crlNumbers,
      issuerName: seeded.issuerName,
      clock: { now: () => 1_900_000_100_000 },
      shardCount: 4,
      restored,
    });
    assert.deepEqual(Buffer.from(crl.current(2)?.der ?? []), Buffer.from(set.shards[2]?.der ?? []));
    assert.equal(new CrlFiles(dir, { ...issuer, keyIdentifier: new Uint8Array(20) }, 'http://127.0.0.1/crl').restore(), undefined);
    assert.equal(new CrlFiles(dir, issuer, 'http://other.example/crl').restore(), undefined);
    // A torn file is not served.
    writeFileSync(join(dir, 'crl', 'shard-1.crl'), Uint8Array.of(0x30, 0x00));
    assert.equal(files.restore(), undefined);
  });
});

describe('the CRL shard layout of an intermediate', () => {
  it('is recorded on first use and a different shard count for the same intermediate and URL is refused', () => {
    const { issuer } = crlIssuerFor(seeded.material);
    const layoutDir = mkdtempSync(join(tmpdir(), 'keysmith-crl-layout-'));
    try {
      checkCrlShardLayout(layoutDir, issuer, 'http://127.0.0.1/crl', 8);
      checkCrlShardLayout(layoutDir, issuer, 'http://127.0.0.1/crl', 8);
      assert.throws(
        () => checkCrlShardLayout(layoutDir, issuer, 'http://127.0.0.1/crl', 1),
        /crlShards is 1, but certificates of this intermediate were issued naming 8 CRL shard/,
      );
      // A new intermediate (or a new CRL URL) starts a new layout.
      checkCrlShardLayout(layoutDir, { ...issuer, keyIdentifier: new Uint8Array(20) }, 'http://127.0.0.1/crl', 1);
    } finally {
      rmSync(layoutDir, { recursive: true, force: true });
    }
  });
});
