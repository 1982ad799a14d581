import { createDiffieHellman, type DiffieHellman } from 'node:crypto';
import { bigIntFromBytes } from '../../shared/bytes.js';
import { TlsAlertError } from '../alert.js';
import { NamedGroup } from '../codec/enums.js';
import type { KeyExchange } from './key-exchange.js';

/**
 * The RFC 7919 finite-field groups (Appendix A), as big-endian hex. Copied
 * from OpenSSL 3.0's built-in ffdhe groups and checked against the RFC text:
 * each prime starts and ends with 64 one bits, generator 2.
 */
const PRIMES = {
  ffdhe2048: [
    'ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce249b3ef9',
    '7d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557135e7f57c935',
    '984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb61d108a94bb2c8e3fb',
    'b96adab760d7f4681d4f42a3de394df4ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f61',
    '9172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c58ef1837d1683b2c6f34a26c1b2effa',
    '886b423861285c97ffffffffffffffff',
  ].join(''),
  ffdhe3072: [
    'ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce249b3ef9',
    '7d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557135e7f57c935',
    '984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb61d108a94bb2c8e3fb',
    'b96adab760d7f4681d4f42a3de394df4ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f61',
    '9172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c58ef1837d1683b2c6f34a26c1b2effa',
    '886b4238611fcfdcde355b3b6519035bbc34f4def99c023861b46fc9d6e6c9077ad91d2691f7f7ee598cb0fac186d91c',
    'aefe130985139270b4130c93bc437944f4fd4452e2d74dd364f2e21e71f54bff5cae82ab9c9df69ee86d2bc522363a0d',
    'abc521979b0deada1dbf9a42d5c4484e0abcd06bfa53ddef3c1b20ee3fd59d7c25e41d2b66c62e37ffffffffffffffff',
  ].join(''),
  ffdhe4096: [
    'ffffffffffffffffadf85458a2bb4a9aafdc5620273d3cf1d8b9c583ce2d3695a9e13641146433fbcc939dce249b3ef9',
    '7d2fe363630c75d8f681b202aec4617ad3df1ed5d5fd65612433f51f5f066ed0856365553ded1af3b557135e7f57c935',
    '984f0c70e0e68b77e2a689daf3efe8721df158a136ade73530acca4f483a797abc0ab182b324fb61d108a94bb2c8e3fb',
    'b96adab760d7f4681d4f42a3de394df4ae56ede76372bb190b07a7c8ee0a6d709e02fce1cdf7e2ecc03404cd28342f61',
    '9172fe9ce98583ff8e4f1232eef28183c3fe3b1b4c6fad733bb5fcbc2ec22005c58ef1837d1683b2c6f34a26c1b2effa',
    '886b4238611fcfdcde355b3b6519035bbc34f4def99c023861b46fc9d6e6c9077ad91d2691f7f7ee598cb0fac186d91c',
    'aefe130985139270b4130c93bc437944f4fd4452e2d74dd364f2e21e71f54bff5cae82ab9c9df69ee86d2bc522363a0d',
    'abc521979b0deada1dbf9a42d5c4484e0abcd06bfa53ddef3c1b20ee3fd59d7c25e41d2b669e1ef16e6f52c3164df4fb',
    '7930e9e4e58857b6ac7d5f42d69f6d187763cf1d5503400487f55ba57e31cc7a7135c886efb4318aed6a1e012d9e6832',
    'a907600a918130c46dc778f971ad0038092999a333cb8b7a1a1db93d7140003c2a4ecea9f98d0acc0a8291cdcec97dcf',
    '8ec9b55a7f88a46b4db5a851f44182e1c68a007e5e655f6affffffffffffffff',
  ].join(''),
} as const;

type FfdheName = keyof typeof PRIMES;

interface FfdheGroup {
  readonly name: FfdheName;
  readonly code: number;
  readonly prime: Buffer;
  readonly primeValue: bigint;
  /**
   * Bytes of our secret exponent: RFC 7919 Appendix A's minimum short
   * exponent (225, 275, 325 bits: twice the group's strength), rounded up to
   * whole bytes (§5.2 allows short exponents).
   */
  readonly exponentLength: number;
}

function group(name: FfdheName, code: number, exponentBits: number): FfdheGroup {
  const prime = Buffer.from(PRIMES[name], 'hex');
  return { name, code, prime, primeValue: BigInt(`0x${PRIMES[name]}`), exponentLength: Math.ceil(exponentBits / 8) };
}

export const FFDHE_GROUPS: ReadonlyMap<number, FfdheGroup> = new Map(
  [
    group('ffdhe2048', NamedGroup.ffdhe2048, 225),
    group('ffdhe3072', NamedGroup.ffdhe3072, 275),
    group('ffdhe4096', NamedGroup.ffdhe4096, 325),
  ].map((g) => [g.code, g]),
);

export function isFfdheGroup(code: number): boolean {
  return FFDHE_GROUPS.has(code);
}

/**
 * One node:crypto DiffieHellman object per group, made on first use: the
 * parameters are fixed and the object is only ever used synchronously, with
 * the private value set right before each use, so connections never see
 * each other's keys.
 */
const engines = new Map<number, DiffieHellman>();

function engineFor(g: FfdheGroup): DiffieHellman {
  let dh = engines.get(g.code);
  if (dh === undefined) {
    dh = createDiffieHellman(g.prime, 2);
    engines.set(g.code, dh);
  }
  return dh;
}

/** Left-pads a big-endian value to the prime's length (RFC 8446 §4.2.8.1, §7.4.1). */
function padToPrime(g: FfdheGroup, value: Buffer): Buffer {
  if (value.length === g.prime.length) return value;
  const out = Buffer.alloc(g.prime.length);
  value.copy(out, g.prime.length - value.length);
  return out;
}

/**
 * Checks a peer's FFDHE share before node:crypto sees it (RFC 8446 §4.2.8.1):
 * exactly the prime's length, zero-padded on the left, and 1 < Y < p - 1
 * (RFC 7919 §5.1), so the peer cannot push us into the subgroup {1, p - 1}.
 */
export function checkFfdheShare(g: FfdheGroup, share: Buffer): void {
  if (share.length !== g.prime.length) {
    throw new TlsAlertError(
      'illegal_parameter',
      `${g.name} share is ${share.length} bytes, not the prime's ${g.prime.length} (RFC 8446 §4.2.8.1)`,
    );
  }
  const y = bigIntFromBytes(share);
  if (y <= 1n || y >= g.primeValue - 1n)
    throw new TlsAlertError('illegal_parameter', `${g.name} share is outside 1 < Y < p-1 (RFC 7919 §5.1)`);
}

/** An ephemeral FFDHE key (RFC 8446 §4.2.8.1) with a short secret exponent drawn from `random`. */
export class FfdheExchange implements KeyExchange {
  readonly group: number;
  readonly publicKey: Buffer;
  private readonly definition: FfdheGroup;
  private readonly exponent: Buffer;

  constructor(code: number, random: (length: number) => Buffer) {
    const g = FFDHE_GROUPS.get(code);
    if (g === undefined) throw new TlsAlertError('internal_error', `no FFDHE group ${code}`);
    this.group = code;
    this.definition = g;
    this.exponent = drawExponent(g, random);
    const dh = engineFor(g);
    dh.setPrivateKey(this.exponent);
    this.publicKey = padToPrime(g, dh.generateKeys());
  }

  computeSharedSecret(peerPublicKey: Buffer): Buffer {
    const g = this.definition;
    checkFfdheShare(g, peerPublicKey);
    const dh = engineFor(g);
    dh.setPrivateKey(this.exponent);
    let secret: Buffer;
    try {
      secret = dh.computeSecret(peerPublicKey);
    } catch (cause) {
      throw new TlsAlertError('illegal_parameter', `${g.name} share refused by node:crypto`, { cause });
    }
    // §7.4.1: Z is left-padded with zeros to the size of the prime.
    return padToPrime(g, secret);
  }
}

/** A secret exponent of the group's short length, at least 2 (a value of 0 or 1 would give a fixed public key). */
function drawExponent(g: FfdheGroup, random: (length: number) => Buffer): Buffer {
  for (;;) {
    const x = random(g.exponentLength);
    if (x.subarray(0, -1).some((b) => b !== 0) || (x.at(-1) ?? 0) > 1) return x;
  }
}
