import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPair, sign } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint } from 'jose';
import { AccountKeyCache } from '../../../src/acme/account-keys.js';
import { decodeJwsBody, importAccountKey, jwkThumbprint, verifySignature, type AccountKey } from '../../../src/acme/jws.js';
import { AcmeProblemError } from '../../../src/acme/problems.js';

/** The account key cache (bounded, keyed by the stored JWK) and the synchronous JWS check that replaced jose's. */

const generate = promisify(generateKeyPair);

async function accountKey(): Promise<{ key: AccountKey; storedJwk: string }> {
  const pair = await generate('ec', { namedCurve: 'P-256' });
  const key = await importAccountKey({ ...pair.publicKey.export({ format: 'jwk' }) }, 'ES256');
  return { key, storedJwk: JSON.stringify(key.jwk) };
}

describe('AccountKeyCache', () => {
  it('holds at most maxEntries accounts and drops the least recently used first', async () => {
    const cache = new AccountKeyCache(2);
    const [a, b, c] = await Promise.all([accountKey(), accountKey(), accountKey()]);
    cache.remember('a', a.storedJwk, a.key);
    cache.remember('b', b.storedJwk, b.key);
    // Using a makes b the least recently used.
    assert.equal(cache.get('a', a.storedJwk), a.key);
    cache.remember('c', c.storedJwk, c.key);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b', b.storedJwk), undefined);
    assert.equal(cache.get('a', a.storedJwk), a.key);
    assert.equal(cache.get('c', c.storedJwk), c.key);
  });

  it('misses, and drops the entry, when the stored JWK is no longer the one it was imported from (a key rollover)', async () => {
    const cache = new AccountKeyCache(10);
    const [old, rolled] = await Promise.all([accountKey(), accountKey()]);
    cache.remember('acct', old.storedJwk, old.key);
    assert.equal(cache.get('acct', rolled.storedJwk), undefined);
    assert.equal(cache.size, 0);
    assert.equal(cache.get('acct', old.storedJwk), undefined);
  });

  it('forgets an account on request, and holds nothing with size 0', async () => {
    const entry = await accountKey();
    const cache = new AccountKeyCache(10);
    cache.remember('acct', entry.storedJwk, entry.key);
    cache.forget('acct');
    assert.equal(cache.get('acct', entry.storedJwk), undefined);
    const off = new AccountKeyCache(0);
    off.remember('acct', entry.storedJwk, entry.key);
    assert.equal(off.size, 0);
    assert.throws(() => new AccountKeyCache(-1), TypeError);
  });
});

describe('JWS verification (RFC 7515 §5.2) and thumbprints (RFC 7638)', () => {
  async function signed(
    header: Record<string, unknown>,
    payload: string,
    mutate?: (signature: Buffer) => Buffer,
  ): Promise<{ body: Buffer; key: AccountKey }> {
    const pair = await generate('ec', { namedCurve: 'P-256' });
    const key = await importAccountKey({ ...pair.publicKey.export({ format: 'jwk' }) }, 'ES256');
    const protectedHeader = Buffer.from(JSON.stringify({ alg: 'ES256', url: 'https://x/acme/new-order', ...header })).toString('base64url');
    const encodedPayload = Buffer.from(payload).toString('base64url');
    const raw = sign('sha256', Buffer.from(`${protectedHeader}.${encodedPayload}`), { key: pair.privateKey, dsaEncoding: 'ieee-p1363' });
    const signature = (mutate === undefined ? raw : mutate(raw)).toString('base64url');
    return { body: Buffer.from(JSON.stringify({ protected: protectedHeader, payload: encodedPayload, signature })), key };
  }

  const isMalformed = (error: unknown): boolean => error instanceof AcmeProblemError && error.type === 'malformed';

  it('verifies an ES256 signature and returns the payload', async () => {
    const { body, key } = await signed({}, '{"a":1}');
    const payload = verifySignature(decodeJwsBody('application/jose+json', body), key.key);
    assert.equal(Buffer.from(payload).toString('utf8'), '{"a":1}');
  });

  it('refuses a signature of the wrong length (DER instead of R || S, or one byte more), a flipped bit and a crit header', async () => {
    const der = await signed({}, '{}', (raw) =>
      Buffer.concat([Buffer.from([0x30, 0x44, 0x02, 0x20]), raw.subarray(0, 32), Buffer.from([0x02, 0x20]), raw.subarray(32)]),
    );
    assert.throws(() => verifySignature(decodeJwsBody('application/jose+json', der.body), der.key.key), isMalformed);
    const longer = await signed({}, '{}', (raw) => Buffer.concat([raw, Buffer.from([0])]));
    assert.throws(() => verifySignature(decodeJwsBody('application/jose+json', longer.body), longer.key.key), isMalformed);
    const flipped = await signed({}, '{}', (raw) => {
      const copy = Buffer.from(raw);
      copy[10] = (copy[10] ?? 0) ^ 1;
      return copy;
    });
    assert.throws(() => verifySignature(decodeJwsBody('application/jose+json', flipped.body), flipped.key.key), isMalformed);
    // RFC 7515 §4.1.11: an extension we do not understand (b64: false of RFC 7797 included) is refused, even with a good signature.
    const crit = await signed({ crit: ['b64'], b64: false }, '{}');
    assert.throws(
      () => verifySignature(decodeJwsBody('application/jose+json', crit.body), crit.key.key),
      (error: unknown) => isMalformed(error) && /crit/.test((error as Error).message),
    );
  });

  it('refuses a JWS member whose length is no base64url encoding (4n+1 characters)', async () => {
    const { body } = await signed({}, '{}');
    const jws = JSON.parse(body.toString('utf8')) as { protected: string; payload: string; signature: string };
    for (const member of ['protected', 'payload', 'signature'] as const) {
      const broken = Buffer.from(
        JSON.stringify({ ...jws, [member]: `${jws[member]}${'A'.repeat((((1 - jws[member].length) % 4) + 4) % 4)}` }),
      );
      assert.equal(JSON.parse(broken.toString('utf8'))[member].length % 4, 1);
      assert.throws(
        () => decodeJwsBody('application/jose+json', broken),
        (error: unknown) => isMalformed(error) && /base64url/.test((error as Error).message),
        member,
      );
    }
  });

  it('computes the same thumbprint as jose for EC, RSA and OKP keys', async () => {
    for (const pair of [
      await generate('ec', { namedCurve: 'P-384' }),
      await generate('rsa', { modulusLength: 2048 }),
      await generate('ed25519'),
    ]) {
      const key = await importAccountKey({ ...pair.publicKey.export({ format: 'jwk' }) }, undefined);
      assert.equal(jwkThumbprint(key.jwk), await calculateJwkThumbprint({ ...key.jwk }, 'sha256'));
      assert.equal(key.thumbprint, jwkThumbprint(key.jwk));
    }
  });
});
