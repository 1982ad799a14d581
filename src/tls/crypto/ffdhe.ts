import { createDiffieHellman, type DiffieHellman } from 'node:crypto';
import { bigIntFromBytes } from '../../shared/bytes.js';
import { TlsAlertError } from '../alert.js';
import { NamedGroup } from '../codec/enums.js';
import { FFDHE_PRIMES } from './ffdhe-primes.js';
import type { KeyExchange } from './key-exchange.js';

type FfdheName = keyof typeof FFDHE_PRIMES;

interface FfdheGroup {
  readonly name: FfdheName;
  readonly code: number;
  readonly prime: Buffer;
  readonly primeValue: bigint;
  /**
   * Bytes of our secret exponent: RFC 7919 Appendix A's minimum short
   * exponent (225, 275, 325, 375, 400 bits: about twice the group's strength), rounded up to
   * whole bytes (§5.2 allows short exponents).
   */
  readonly exponentLength: number;
}

function group(name: FfdheName, code: number, exponentBits: number): FfdheGroup {
  const prime = Buffer.from(FFDHE_PRIMES[name], 'hex');
  return { name, code, prime, primeValue: BigInt(`0x${FFDHE_PRIMES[name]}`), exponentLength: Math.ceil(exponentBits / 8) };
}

export const FFDHE_GROUPS: ReadonlyMap<number, FfdheGroup> = new Map(
  [
    group('ffdhe2048', NamedGroup.ffdhe2048, 225),
    group('ffdhe3072', NamedGroup.ffdhe3072, 275),
    group('ffdhe4096', NamedGroup.ffdhe4096, 325),
    group('ffdhe6144', NamedGroup.ffdhe6144, 375),
    group('ffdhe8192', NamedGroup.ffdhe8192, 400),
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
