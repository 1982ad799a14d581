import { createECDH, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { TlsAlertError } from '../alert.js';
import { NamedGroup } from '../codec/enums.js';

/** An ephemeral (EC)DHE key for one handshake (RFC 8446 §4.2.8). */
export interface KeyExchange {
  readonly group: number;
  /** Our key_exchange bytes: the raw X25519 key or the uncompressed EC point. */
  readonly publicKey: Buffer;
  /** Throws illegal_parameter when the peer's share is malformed or gives an all-zero secret. */
  computeSharedSecret(peerPublicKey: Buffer): Buffer;
}

/** The randomness and key generation the engine uses; tests inject fixed ones. */
export interface CryptoProvider {
  randomBytes(length: number): Buffer;
  generateKeyExchange(group: number): KeyExchange;
}

export const SUPPORTED_GROUPS: readonly number[] = [NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1];

/** The X25519 base point as a public key: DH with it yields a private key's public key. */
const X25519_BASE_POINT: KeyObject = createPublicKey({
  key: { kty: 'OKP', crv: 'X25519', x: Buffer.concat([Buffer.of(9), Buffer.alloc(31)]).toString('base64url') },
  format: 'jwk',
});

/** A placeholder `x`: Node requires the member but derives the public key from `d`. */
const PLACEHOLDER_X = Buffer.alloc(32).toString('base64url');

/**
 * Makes an X25519 key from 32 random bytes. Importing `d` as JWK and
 * exporting the public half as JWK costs ~1/3 less than generateKeyPairSync
 * plus a base-point DH, and never JWK-exports a generateKeyPairSync key, which
 * can hang Node 20 under GC (PERF-NOTES). If this Node does not derive the
 * public key from `d` (checked once, below), the slower safe path is used.
 */
function x25519FromJwk(random: Buffer): { privateKey: KeyObject; publicKey: Buffer } {
  const privateKey = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: random.toString('base64url'), x: PLACEHOLDER_X }, format: 'jwk' });
  const x = privateKey.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('no public key in the JWK export');
  return { privateKey, publicKey: Buffer.from(x, 'base64url') };
}

function x25519ViaBasePoint(): { privateKey: KeyObject; publicKey: Buffer } {
  const privateKey = generateKeyPairSync('x25519').privateKey;
  return { privateKey, publicKey: diffieHellman({ privateKey, publicKey: X25519_BASE_POINT }) };
}

function isJwkPathSound(): boolean {
  try {
    const { privateKey, publicKey } = x25519FromJwk(randomBytes(32));
    return publicKey.equals(diffieHellman({ privateKey, publicKey: X25519_BASE_POINT }));
  } catch {
    return false;
  }
}

const makeX25519Key: (random: Buffer) => { privateKey: KeyObject; publicKey: Buffer } = isJwkPathSound() ? x25519FromJwk : () => x25519ViaBasePoint();

class X25519Exchange implements KeyExchange {
  readonly group = NamedGroup.x25519;
  readonly publicKey: Buffer;
  private readonly privateKey: KeyObject;

  constructor(random: Buffer) {
    const key = makeX25519Key(random);
    this.privateKey = key.privateKey;
    this.publicKey = key.publicKey;
  }

  computeSharedSecret(peerPublicKey: Buffer): Buffer {
    // §4.2.8.2: X25519 key_exchange is exactly 32 bytes.
    if (peerPublicKey.length !== 32) throw new TlsAlertError('illegal_parameter', 'x25519 share is not 32 bytes');
    try {
      const publicKey = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: peerPublicKey.toString('base64url') }, format: 'jwk' });
      const secret = diffieHellman({ privateKey: this.privateKey, publicKey });
      // §7.4.2: an all-zero shared secret MUST abort; OpenSSL already refuses, this makes it explicit.
      if (secret.every((b) => b === 0)) throw new Error('all-zero secret');
      return secret;
    } catch (cause) {
      throw new TlsAlertError('illegal_parameter', 'x25519 share rejected', { cause });
    }
  }
}

/** P-256 / P-384 ECDHE. Tests may give `scalarSource` for reproducible keys; the engine lets OpenSSL draw them. */
export class EcdhExchange implements KeyExchange {
  readonly publicKey: Buffer;
  private readonly ecdh;

  constructor(
    readonly group: number,
    curve: 'prime256v1' | 'secp384r1',
    private readonly pointLength: number,
    scalarSource?: (length: number) => Buffer,
  ) {
    this.ecdh = createECDH(curve);
    this.publicKey = scalarSource === undefined ? this.ecdh.generateKeys() : this.useScalarFrom(scalarSource, pointLength === 65 ? 32 : 48);
  }

  private useScalarFrom(source: (length: number) => Buffer, scalarLength: number): Buffer {
    // A scalar at or above the group order is refused; draw again (probability about 2^-32).
    for (let attempt = 0; ; attempt++) {
      try {
        this.ecdh.setPrivateKey(source(scalarLength));
        return this.ecdh.getPublicKey();
      } catch (err) {
        if (attempt >= 8) throw err;
      }
    }
  }

  computeSharedSecret(peerPublicKey: Buffer): Buffer {
    // §4.2.8.2: only the uncompressed point form (0x04 || X || Y) is allowed.
    if (peerPublicKey.length !== this.pointLength || peerPublicKey[0] !== 4) {
      throw new TlsAlertError('illegal_parameter', 'EC share is not an uncompressed point');
    }
    try {
      return this.ecdh.computeSecret(peerPublicKey);
    } catch (cause) {
      throw new TlsAlertError('illegal_parameter', 'EC share is not on the curve', { cause });
    }
  }
}

export function generateKeyExchange(group: number, random: (length: number) => Buffer = randomBytes): KeyExchange {
  switch (group) {
    case NamedGroup.x25519:
      return new X25519Exchange(random(32));
    case NamedGroup.secp256r1:
      return new EcdhExchange(group, 'prime256v1', 65);
    case NamedGroup.secp384r1:
      return new EcdhExchange(group, 'secp384r1', 97);
    default:
      throw new TlsAlertError('internal_error', `no key exchange for group ${group}`);
  }
}

/**
 * Randomness drawn from the system in 4 KiB blocks: a handshake takes a
 * dozen small values, and each randomBytes call has a fixed cost.
 */
class RandomPool {
  private block = Buffer.alloc(0);
  private offset = 0;

  take(length: number): Buffer {
    if (length > 256) return randomBytes(length);
    if (this.offset + length > this.block.length) {
      this.block = randomBytes(4096);
      this.offset = 0;
    }
    // A copy, so no two callers ever share bytes of the block.
    const out = Buffer.from(this.block.subarray(this.offset, this.offset + length));
    this.block.fill(0, this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
}

const pool = new RandomPool();
const pooledRandom = (length: number): Buffer => pool.take(length);

export const nodeCryptoProvider: CryptoProvider = {
  randomBytes: pooledRandom,
  generateKeyExchange: (group) => generateKeyExchange(group, pooledRandom),
};
