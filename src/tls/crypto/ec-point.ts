import { TlsAlertError } from '../alert.js';

/** Short-Weierstrass parameters y^2 = x^3 + a*x + b over GF(p) (SEC 2 §2.4.2, §2.5.1, §2.6.1; a = p - 3 for all three). */
export interface PrimeCurve {
  readonly name: string;
  readonly p: bigint;
  readonly b: bigint;
  /** Bytes of one coordinate. */
  readonly coordinateLength: number;
}

export const P256: PrimeCurve = {
  name: 'secp256r1',
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  coordinateLength: 32,
};

export const P384: PrimeCurve = {
  name: 'secp384r1',
  p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
  b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  coordinateLength: 48,
};

export const P521: PrimeCurve = {
  name: 'secp521r1',
  p: (1n << 521n) - 1n,
  b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  coordinateLength: 66,
};

function toBigInt(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt(`0x${bytes.toString('hex')}`);
}

/**
 * Checks an ECDHE share before node:crypto sees it (RFC 8446 §4.2.8.2: the
 * peer's share MUST be validated; SP 800-56A §5.6.2.3.4 partial public-key
 * validation, enough for these cofactor-1 curves): the uncompressed form
 * 0x04 || X || Y of exactly 1 + 2 * coordinateLength bytes, not the point at
 * infinity, both coordinates below p, and on the curve. Any failure is
 * illegal_parameter, with the rule named in the reason.
 */
export function checkUncompressedPoint(curve: PrimeCurve, share: Buffer): void {
  const length = 1 + 2 * curve.coordinateLength;
  // §4.2.8.2: only UncompressedPointRepresentation; a 0x00 (infinity), 0x02/0x03 (compressed) or 0x06/0x07 (hybrid) point is refused.
  if (share.length === 1 && share[0] === 0) throw new TlsAlertError('illegal_parameter', `${curve.name} share is the point at infinity`);
  if (share[0] !== 4) throw new TlsAlertError('illegal_parameter', `${curve.name} share is not an uncompressed point (first byte ${share[0] ?? 'missing'})`);
  if (share.length !== length) throw new TlsAlertError('illegal_parameter', `${curve.name} share is ${share.length} bytes, not ${length}`);
  const x = toBigInt(share.subarray(1, 1 + curve.coordinateLength));
  const y = toBigInt(share.subarray(1 + curve.coordinateLength));
  const { p, b } = curve;
  // (0, 0) is how some encoders write infinity; it is not on these curves (b != 0), but say what it is.
  if (x === 0n && y === 0n) throw new TlsAlertError('illegal_parameter', `${curve.name} share encodes the point at infinity as (0, 0)`);
  if (x >= p || y >= p) throw new TlsAlertError('illegal_parameter', `${curve.name} share has a coordinate not below p`);
  const left = (y * y) % p;
  const right = (((x * x) % p) * x + (p - 3n) * x + b) % p;
  if (left !== right) throw new TlsAlertError('illegal_parameter', `${curve.name} share is not on the curve`);
}
