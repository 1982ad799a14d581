import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TlsAlertError } from '../../../../src/tls/alert.js';
import type { AeadOpener, AeadSealer, KeyExchange, PrivateKey, PublicKey, RunningHash } from '../../../../src/tls/crypto/provider.js';
import type { AeadName, HashName } from '../../../../src/tls/crypto/suites.js';
import { FakeRandom } from '../../../fakes/fake-random.js';
import { TlsPair } from '../../../fakes/tls-pair.js';

/**
 * Every primitive a server handshake needs reaches the engine through its
 * provider: with any one of them broken (after the config is built), a
 * mutual-TLS handshake fails on the server with internal_error whose cause
 * is that break. A primitive the engine took from node:crypto directly
 * would let the handshake complete.
 */

const PRIMITIVES = [
  'randomBytes',
  'generateKeyExchange',
  'startHash',
  'hmac',
  'hkdfExtract',
  'hkdfExpand',
  'aeadSealer',
  'aeadOpener',
  'sign',
  'verify',
] as const;
type Primitive = (typeof PRIMITIVES)[number];

class BreakingProvider extends FakeRandom {
  isArmed = false;

  constructor(private readonly broken: Primitive) {
    super('provider-routing/server');
  }

  private check(name: Primitive): void {
    if (this.isArmed && name === this.broken) throw new Error(`broken ${name}`);
  }

  override randomBytes(length: number): Buffer {
    this.check('randomBytes');
    return super.randomBytes(length);
  }
  override generateKeyExchange(group: number): KeyExchange {
    this.check('generateKeyExchange');
    return super.generateKeyExchange(group);
  }
  override startHash(hash: HashName): RunningHash {
    this.check('startHash');
    return super.startHash(hash);
  }
  override hmac(hash: HashName, key: Uint8Array, data: Uint8Array): Buffer {
    this.check('hmac');
    return super.hmac(hash, key, data);
  }
  override hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Buffer {
    this.check('hkdfExtract');
    return super.hkdfExtract(hash, salt, ikm);
  }
  override hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Buffer {
    this.check('hkdfExpand');
    return super.hkdfExpand(hash, prk, info, length);
  }
  override aeadSealer(aead: AeadName, key: Buffer, nonce: Buffer): AeadSealer {
    this.check('aeadSealer');
    return super.aeadSealer(aead, key, nonce);
  }
  override aeadOpener(aead: AeadName, key: Buffer, nonce: Buffer): AeadOpener {
    this.check('aeadOpener');
    return super.aeadOpener(aead, key, nonce);
  }
  override sign(scheme: number, key: PrivateKey, content: Buffer): Buffer {
    this.check('sign');
    return super.sign(scheme, key, content);
  }
  override verify(scheme: number, key: PublicKey, content: Buffer, signature: Buffer): boolean {
    this.check('verify');
    return super.verify(scheme, key, content, signature);
  }
}

describe('the server reaches every primitive through its CryptoProvider', () => {
  it('completes a mutual-TLS handshake with nothing broken (the control)', () => {
    const provider = new BreakingProvider('randomBytes');
    const pair = new TlsPair({ serverProvider: provider, server: { clientAuth: 'require' } });
    pair.handshake();
    assert.equal(pair.results.server?.peer?.leaf.subject.includes('keysmith'), true);
  });

  for (const primitive of PRIMITIVES) {
    it(`fails with internal_error when ${primitive} is broken`, () => {
      const provider = new BreakingProvider(primitive);
      const pair = new TlsPair({ serverProvider: provider, server: { clientAuth: 'require' } });
      provider.isArmed = true;
      if (primitive === 'aeadSealer') {
        // The fatal alert is sealed too, so the sealer's own error leaves receive() as it is.
        assert.throws(() => pair.pump(), { message: 'broken aeadSealer' });
        return;
      }
      pair.pump();
      const error = pair.errors.server;
      assert.ok(error instanceof TlsAlertError, `server did not fail with ${primitive} broken`);
      assert.equal(error.alert, 'internal_error');
      assert.equal(error.cause instanceof Error ? error.cause.message : undefined, `broken ${primitive}`);
    });
  }
});
