import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { TlsAlertError } from '../alert.js';
import { NamedGroup } from '../codec/enums.js';
import type { KeyExchange } from './key-exchange.js';

/** The two RFC 7748 curves: key and share length, and the base point u (9 for X25519, 5 for X448). */
interface XdhCurve {
  readonly name: 'X25519' | 'X448';
  readonly group: number;
  readonly length: number;
  readonly basePoint: KeyObject;
  /** A placeholder `x`: Node requires the JWK member but derives the public key from `d`. */
  readonly placeholderX: string;
}

function curve(name: 'X25519' | 'X448', group: number, length: number, u: number): XdhCurve {
  const base = Buffer.alloc(length);
  base[0] = u;
  return {
    name,
    group,
    length,
    basePoint: createPublicKey({ key: { kty: 'OKP', crv: name, x: base.toString('base64url') }, format: 'jwk' }),
    placeholderX: Buffer.alloc(length).toString('base64url'),
  };
}

const X25519 = curve('X25519', NamedGroup.x25519, 32, 9);
const X448 = curve('X448', NamedGroup.x448, 56, 5);

interface XdhKey {
  readonly privateKey: KeyObject;
  readonly publicKey: Buffer;
}

/**
 * Makes a key from random bytes. Importing `d` as JWK and exporting the
 * public half as JWK costs ~1/3 less than generateKeyPairSync plus a
 * base-point DH, and never JWK-exports a generateKeyPairSync key, which can
 * hang Node 20 under GC (PERF-NOTES). If this Node does not derive the
 * public key from `d` (checked once per curve, below), the slower safe path is used.
 */
function fromJwk(c: XdhCurve, random: Buffer): XdhKey {
  const privateKey = createPrivateKey({
    key: { kty: 'OKP', crv: c.name, d: random.toString('base64url'), x: c.placeholderX },
    format: 'jwk',
  });
  const x = privateKey.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') throw new Error('no public key in the JWK export');
  return { privateKey, publicKey: Buffer.from(x, 'base64url') };
}

/** The fallback: a generated key whose public half comes from a DH with the base point, never from a JWK export. */
function viaBasePoint(c: XdhCurve): XdhKey {
  const privateKey = c.name === 'X25519' ? generateKeyPairSync('x25519').privateKey : generateKeyPairSync('x448').privateKey;
  return { privateKey, publicKey: diffieHellman({ privateKey, publicKey: c.basePoint }) };
}

function isJwkPathSound(c: XdhCurve): boolean {
  try {
    const { privateKey, publicKey } = fromJwk(c, Buffer.alloc(c.length, 0x5a));
    return publicKey.equals(diffieHellman({ privateKey, publicKey: c.basePoint }));
  } catch {
    return false;
  }
}

/** Per curve, checked once at load: the JWK path when this Node derives the public key from `d`, else the base-point path. */
function keyMaker(c: XdhCurve): (random: Buffer) => XdhKey {
  return isJwkPathSound(c) ? (random) => fromJwk(c, random) : () => viaBasePoint(c);
}

const makeX25519 = keyMaker(X25519);
const makeX448 = keyMaker(X448);

/** An X25519 or X448 ephemeral key (RFC 8446 §4.2.8.2, RFC 7748). */
export class XdhExchange implements KeyExchange {
  readonly group: number;
  readonly publicKey: Buffer;
  private readonly curve: XdhCurve;
  private readonly privateKey: KeyObject;

  constructor(group: number, random: (length: number) => Buffer) {
    const isX448 = group === NamedGroup.x448;
    const c = isX448 ? X448 : X25519;
    this.curve = c;
    this.group = c.group;
    const key = (isX448 ? makeX448 : makeX25519)(random(c.length));
    this.privateKey = key.privateKey;
    this.publicKey = key.publicKey;
  }

  computeSharedSecret(peerPublicKey: Buffer): Buffer {
    const c = this.curve;
    // §4.2.8.2: the share is exactly 32 (X25519) or 56 (X448) bytes; RFC 7748 §5 makes every such string a valid u-coordinate.
    if (peerPublicKey.length !== c.length)
      throw new TlsAlertError('illegal_parameter', `${c.name} share is ${peerPublicKey.length} bytes, not ${c.length}`);
    let secret: Buffer;
    try {
      const publicKey = createPublicKey({ key: { kty: 'OKP', crv: c.name, x: peerPublicKey.toString('base64url') }, format: 'jwk' });
      secret = diffieHellman({ privateKey: this.privateKey, publicKey });
    } catch (cause) {
      // OpenSSL refuses a low-order point itself (its derive fails on an all-zero result).
      throw new TlsAlertError('illegal_parameter', `${c.name} share gives an all-zero or invalid shared secret (RFC 7748 §6)`, { cause });
    }
    // RFC 8446 §7.4.2 / RFC 7748 §6.1-6.2: an all-zero shared secret MUST abort; checked here too, not only left to OpenSSL.
    if (secret.every((b) => b === 0))
      throw new TlsAlertError('illegal_parameter', `${c.name} share gives an all-zero shared secret (RFC 7748 §6)`);
    return secret;
  }
}
