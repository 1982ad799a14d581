import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crlShardOf } from '../../../src/ca/index.js';
import { describeCertificate, describeCrl } from '../../../src/x509/index.js';
import { openssl } from '../ca/helpers.js';
import { ocspStack, type OcspStack } from './helpers.js';

/**
 * Sharded CRLs (src/ca/crl-shard.ts, after Boulder): each leaf names its
 * shard's distribution point, and that shard's CRL (built in the worker)
 * lists it under an Issuing Distribution Point naming the same URL.
 */

const SHARDS = 4;
let stack: OcspStack;

before(async () => {
  stack = await ocspStack({ crlShards: SHARDS });
});
after(() => stack.close());

describe('CRL shards', () => {
  it('spreads random serials over the shards and is stable for a serial', () => {
    const counts = new Array<number>(SHARDS).fill(0);
    for (let i = 0; i < 4000; i++) {
      const serial = (0x40000000 + i * 7919).toString(16).padStart(32, '4');
      const shard = crlShardOf(serial, SHARDS);
      assert.equal(crlShardOf(serial, SHARDS), shard);
      counts[shard] = (counts[shard] ?? 0) + 1;
    }
    assert.ok(
      counts.every((n) => n > 800),
      `each shard gets its share: ${counts.join(', ')}`,
    );
    assert.equal(crlShardOf('4a01', 1), 0);
  });

  it('lists each revoked leaf in the shard its CRL Distribution Point names, under a critical IDP of that URL (RFC 5280 §5.2.5)', async () => {
    // Enough leaves that every shard gets some; the leaf template proves each new shape against the schema builder as it goes.
    const issued = await Promise.all(Array.from({ length: 24 }, () => stack.issue()));
    for (const leaf of issued) await stack.authority.revoke(leaf.serial, 'keyCompromise');
    await stack.crl.settled();
    const full = stack.crl.current();
    assert.equal(full?.entries, issued.length);
    assert.equal(describeCrl(full.der).distributionPoint, null, 'the full CRL covers everything: no IDP');
    for (const leaf of issued) {
      const [url] = describeCertificate(leaf.der).crlUrls;
      const shard = crlShardOf(leaf.serial, SHARDS);
      assert.equal(url, `http://127.0.0.1/crl/${shard}`);
      const crl = stack.crl.current(shard);
      assert.ok(crl !== undefined);
      const described = describeCrl(crl.der);
      assert.equal(described.distributionPoint, url);
      assert.equal(described.isDistributionPointCritical, true);
      assert.ok(described.entries.some((e) => e.serial === leaf.serial));
      assert.equal(described.crlNumber, full.crlNumber, 'one number per build');
    }
    const total = Array.from({ length: SHARDS }, (_, n) => stack.crl.current(n)?.entries ?? 0).reduce((a, b) => a + b, 0);
    assert.equal(total, issued.length, 'every entry in exactly one shard');
    assert.equal(stack.crl.current(SHARDS), undefined);
    const file = join(stack.dir, 'shard0.crl');
    writeFileSync(file, stack.crl.current(0)?.der ?? new Uint8Array());
    assert.match(
      openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text', '-CAfile', stack.files.chain]),
      /Issuing Distribution Point: critical/,
    );
  });
});
