import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { TLS12_SUITES } from '../../../../src/tls/crypto/suites.js';
import { Tls12CipherSuite } from '../../../../src/tls/codec/enums.js';
import { extendedMasterSecret, prf12, tls12KeyBlock, tls12VerifyData } from '../../../../src/tls/keyschedule/prf12.js';

const crypto = nodeCryptoProvider;

/**
 * Expected values computed once with OpenSSL 3.0's TLS1-PRF, seed = label || seed:
 *   openssl kdf -keylen 100 -kdfopt digest:SHA256 -kdfopt hexsecret:9bbe436ba940f017b17652849a71db35 \
 *     -kdfopt hexseed:$(printf 'test label' | xxd -p)a0ba9f936cda311827a6f796ffd5198c TLS1-PRF
 *   openssl kdf -keylen 148 -kdfopt digest:SHA384 -kdfopt hexsecret:b80b733d6ceefcdc71566ea48e5567df \
 *     -kdfopt hexseed:$(printf 'test label' | xxd -p)cd665cf6a8447dd6ff8b27555edb7465 TLS1-PRF
 * (the same inputs and outputs as the widely used TLS 1.2 PRF test vectors).
 */
const SHA256_VECTOR =
  'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab' +
  '4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66';
const SHA384_VECTOR =
  '7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd' +
  '8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee6' +
  '91c8f3a26854308d5eaa3be85e0990703d73e56f';

/** OpenSSL's TLS1-PRF over label || seed, when an openssl binary is there; undefined otherwise. */
function opensslPrf(digest: string, secret: Buffer, label: string, seed: Buffer, length: number): string | undefined {
  const hexSeed = Buffer.concat([Buffer.from(label, 'latin1'), seed]).toString('hex');
  const run = spawnSync(
    'openssl',
    [
      'kdf',
      '-keylen',
      String(length),
      '-kdfopt',
      `digest:${digest}`,
      '-kdfopt',
      `hexsecret:${secret.toString('hex')}`,
      '-kdfopt',
      `hexseed:${hexSeed}`,
      'TLS1-PRF',
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0 || run.error !== undefined) return undefined;
  return run.stdout.trim().replace(/:/g, '').toLowerCase();
}

describe('TLS 1.2 PRF (RFC 5246 §5)', () => {
  it('gives the SHA-256 PRF vector computed with openssl kdf TLS1-PRF (100 bytes)', () => {
    const out = prf12(
      crypto,
      'sha256',
      Buffer.from('9bbe436ba940f017b17652849a71db35', 'hex'),
      'test label',
      Buffer.from('a0ba9f936cda311827a6f796ffd5198c', 'hex'),
      100,
    );
    assert.equal(out.toString('hex'), SHA256_VECTOR);
  });

  it('gives the SHA-384 PRF vector computed with openssl kdf TLS1-PRF (148 bytes)', () => {
    const out = prf12(
      crypto,
      'sha384',
      Buffer.from('b80b733d6ceefcdc71566ea48e5567df', 'hex'),
      'test label',
      Buffer.from('cd665cf6a8447dd6ff8b27555edb7465', 'hex'),
      148,
    );
    assert.equal(out.toString('hex'), SHA384_VECTOR);
  });

  it('cuts the output to any length: a shorter output is a prefix of a longer one', () => {
    const secret = Buffer.alloc(48, 7);
    const long = prf12(crypto, 'sha256', secret, 'key expansion', Buffer.alloc(64, 1), 200);
    for (const n of [1, 12, 31, 32, 33, 64, 104])
      assert.ok(prf12(crypto, 'sha256', secret, 'key expansion', Buffer.alloc(64, 1), n).equals(long.subarray(0, n)));
  });

  it('agrees with openssl run now on the master secret, key block and verify_data labels', (t) => {
    const pms = crypto.randomBytes(32);
    const sessionHash = crypto.randomBytes(48);
    const expected = opensslPrf('SHA384', pms, 'extended master secret', sessionHash, 48);
    if (expected === undefined) return t.skip('no openssl kdf here');
    const master = extendedMasterSecret(crypto, 'sha384', pms, sessionHash);
    assert.equal(master.toString('hex'), expected);
    const clientRandom = crypto.randomBytes(32);
    const serverRandom = crypto.randomBytes(32);
    const suite = TLS12_SUITES.get(Tls12CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384);
    assert.ok(suite !== undefined);
    const block = opensslPrf('SHA384', master, 'key expansion', Buffer.concat([serverRandom, clientRandom]), 72);
    const keys = tls12KeyBlock(crypto, suite, master, clientRandom, serverRandom);
    assert.equal(Buffer.concat([keys.client.key, keys.server.key, keys.client.iv, keys.server.iv]).toString('hex'), block);
    const handshakeHash = crypto.randomBytes(48);
    assert.equal(
      tls12VerifyData(crypto, 'sha384', master, 'client', handshakeHash).toString('hex'),
      opensslPrf('SHA384', master, 'client finished', handshakeHash, 12),
    );
    assert.equal(
      tls12VerifyData(crypto, 'sha384', master, 'server', handshakeHash).toString('hex'),
      opensslPrf('SHA384', master, 'server finished', handshakeHash, 12),
    );
  });

  it('cuts the key block per suite: 16/32-byte keys, 4-byte GCM salts, 12-byte ChaCha20-Poly1305 IVs (RFC 5246 §6.3)', () => {
    const master = Buffer.alloc(48, 3);
    for (const suite of TLS12_SUITES.values()) {
      const keys = tls12KeyBlock(crypto, suite, master, Buffer.alloc(32, 1), Buffer.alloc(32, 2));
      const whole = prf12(
        crypto,
        suite.hash,
        master,
        'key expansion',
        Buffer.concat([Buffer.alloc(32, 2), Buffer.alloc(32, 1)]),
        2 * suite.keyLength + 2 * suite.fixedIvLength,
      );
      assert.equal(keys.client.key.length, suite.aead === 'aes-128-gcm' ? 16 : 32, suite.name);
      assert.equal(keys.client.iv.length, suite.aead === 'chacha20-poly1305' ? 12 : 4, suite.name);
      assert.ok(Buffer.concat([keys.client.key, keys.server.key, keys.client.iv, keys.server.iv]).equals(whole), suite.name);
    }
  });
});
