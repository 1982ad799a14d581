import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { ClusterSecret, clusterSecretPath } from '../../../src/cli/cluster-secret.js';
import { tempDir } from '../ca/helpers.js';

/** RFC 5869 HKDF-SHA256 for one 32-byte block, written out from the RFC, to check the derivation independently. */
function hkdfSha256(ikm: Buffer, info: string): Buffer {
  // §2.2: an absent salt is HashLen zero octets.
  const prk = createHmac('sha256', Buffer.alloc(32)).update(ikm).digest();
  // §2.3: T(1) = HMAC(PRK, info | 0x01).
  return createHmac('sha256', prk)
    .update(info, 'utf8')
    .update(Buffer.from([1]))
    .digest();
}

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

/** A data directory with an (empty) CA directory, as init leaves it before the secret. */
function dataDirWithCa(): string {
  const dir = tempDir('cluster-secret');
  dirs.push(dir);
  mkdirSync(join(dir.path, 'ca'), { mode: 0o700 });
  return dir.path;
}

const noWarnings = (message: string): void => assert.fail(`unexpected warning: ${message}`);

describe('ClusterSecret', () => {
  it('creates ca/cluster.key once: 32 bytes, mode 0600, then reads the same secret', () => {
    const dataDir = dataDirWithCa();
    const first = ClusterSecret.loadOrCreate(dataDir, noWarnings);
    assert.equal(first.created, true);
    const bytes = readFileSync(clusterSecretPath(dataDir));
    assert.equal(bytes.length, 32);
    assert.equal(statSync(clusterSecretPath(dataDir)).mode & 0o777, 0o600);
    const second = ClusterSecret.loadOrCreate(dataDir, noWarnings);
    assert.equal(second.created, false);
    assert.deepEqual(readFileSync(clusterSecretPath(dataDir)), bytes);
    assert.deepEqual(second.secret.acmeNonceKey(), first.secret.acmeNonceKey());
  });

  it('gives a node that copied ca/ the same keys, and a node with its own secret other keys', () => {
    const first = dataDirWithCa();
    const joined = dataDirWithCa();
    const stranger = dataDirWithCa();
    const a = ClusterSecret.loadOrCreate(first, noWarnings).secret;
    copyFileSync(clusterSecretPath(first), clusterSecretPath(joined));
    const b = ClusterSecret.loadOrCreate(joined, noWarnings).secret;
    const c = ClusterSecret.loadOrCreate(stranger, noWarnings).secret;
    assert.deepEqual(b.ticketKeyForPeriod(493_000), a.ticketKeyForPeriod(493_000));
    assert.deepEqual(b.acmeNonceKey(), a.acmeNonceKey());
    assert.notDeepEqual(c.ticketKeyForPeriod(493_000), a.ticketKeyForPeriod(493_000));
    assert.notDeepEqual(c.acmeNonceKey(), a.acmeNonceKey());
  });

  it('derives each key with HKDF-SHA256 under its own label, never the raw secret (RFC 5869)', () => {
    const raw = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
    const secret = ClusterSecret.fromBytes(raw);
    assert.deepEqual(Buffer.from(secret.acmeNonceKey()), hkdfSha256(raw, 'keysmith v1 acme nonce mac key'));
    assert.deepEqual(Buffer.from(secret.ticketKeyForPeriod(7)), hkdfSha256(raw, 'keysmith v1 tls session-ticket key; period 7'));
    // The check value the ledger records (cluster-secret-check.ts): its own label, so it is none of the keys.
    assert.deepEqual(Buffer.from(secret.checkValue()), hkdfSha256(raw, 'keysmith v1 cluster key check'));
    const keys = [secret.acmeNonceKey(), secret.ticketKeyForPeriod(7), secret.ticketKeyForPeriod(8), secret.checkValue(), raw].map((k) =>
      Buffer.from(k).toString('hex'),
    );
    assert.equal(new Set(keys).size, 5);
    assert.equal(JSON.stringify({ secret }), '{"secret":"[cluster secret]"}');
  });

  it('refuses a secret file of the wrong length, naming the file', () => {
    const dataDir = dataDirWithCa();
    writeFileSync(clusterSecretPath(dataDir), Buffer.alloc(31), { mode: 0o600 });
    assert.throws(
      () => ClusterSecret.loadOrCreate(dataDir, noWarnings),
      new Error(`the cluster secret ${clusterSecretPath(dataDir)} holds 31 bytes, not 32: copy it again from a node of the cluster`),
    );
  });

  it('tightens a secret file readable by others to 0600 and says so', () => {
    const dataDir = dataDirWithCa();
    writeFileSync(clusterSecretPath(dataDir), Buffer.alloc(32, 7));
    chmodSync(clusterSecretPath(dataDir), 0o644);
    const warnings: string[] = [];
    const { created } = ClusterSecret.loadOrCreate(dataDir, (message) => warnings.push(message));
    assert.equal(created, false);
    assert.equal(statSync(clusterSecretPath(dataDir)).mode & 0o777, 0o600);
    assert.deepEqual(warnings, [`${clusterSecretPath(dataDir)} had mode 0644 (readable by group or others); set to 0600`]);
  });

  it('is not created before the CA directory exists', () => {
    const dir = tempDir('cluster-secret');
    dirs.push(dir);
    assert.throws(
      () => ClusterSecret.loadOrCreate(dir.path, noWarnings),
      new Error(`no CA in ${join(dir.path, 'ca')}: create the CA before the cluster secret`),
    );
  });

  it('refuses a ticket period that is not a non-negative integer', () => {
    const secret = ClusterSecret.fromBytes(Buffer.alloc(32, 1));
    assert.throws(() => secret.ticketKeyForPeriod(-1), RangeError);
    assert.throws(() => secret.ticketKeyForPeriod(1.5), RangeError);
  });
});
