import { createECDH, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
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

/**
 * The X25519 base point as a public key: DH with it yields our own public
 * key. This avoids JWK export of a generateKeyPairSync key, which can hang
 * Node 20 under GC (see PERF-NOTES), and costs less than a DER export.
 */
const X25519_BASE_POINT: KeyObject = createPublicKey({
  key: { kty: 'OKP', crv: 'X25519', x: Buffer.concat([Buffer.of(9), Buffer.alloc(31)]).toString('base64url') },
  format: 'jwk',
});

class X25519Exchange implements KeyExchange {
  readonly group = NamedGroup.x25519;
  readonly publicKey: Buffer;
  private readonly privateKey: KeyObject;

  constructor() {
    this.privateKey = generateKeyPairSync('x25519').privateKey;
    this.publicKey = diffieHellman({ privateKey: this.privateKey, publicKey: X25519_BASE_POINT });
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

class EcdhExchange implements KeyExchange {
  readonly publicKey: Buffer;
  private readonly ecdh;

  constructor(readonly group: number, curve: 'prime256v1' | 'secp384r1', private readonly pointLength: number) {
    this.ecdh = createECDH(curve);
    this.publicKey = this.ecdh.generateKeys();
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

export function generateKeyExchange(group: number): KeyExchange {
  switch (group) {
    case NamedGroup.x25519:
      return new X25519Exchange();
    case NamedGroup.secp256r1:
      return new EcdhExchange(group, 'prime256v1', 65);
    case NamedGroup.secp384r1:
      return new EcdhExchange(group, 'secp384r1', 97);
    default:
      throw new TlsAlertError('internal_error', `no key exchange for group ${group}`);
  }
}

export const nodeCryptoProvider: CryptoProvider = {
  randomBytes: (length) => randomBytes(length),
  generateKeyExchange,
};
