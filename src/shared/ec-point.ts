/**
 * EC public key validation in our own bounded code, before node:crypto sees a
 * point: OpenSSL 3.0 loads an SPKI whose point is the identity (BIT STRING
 * 00) and Node then aborts natively when it reads the key's details, which no
 * try/catch can stop. Pure bigint arithmetic; no crypto, no I/O. Used by the
 * key policy (src/x509) and by the TLS engine's certificate parser (src/tls).
 */
import { bigIntFromBytes } from './bytes.js';

/** The prime-field Weierstrass curves we can check: y² = x³ + ax + b (mod p). */
export type CurveName = 'P-256' | 'P-384' | 'P-521' | 'secp256k1';

export interface CurveParameters {
  readonly name: CurveName;
  /** The named-curve OID (RFC 5480 §2.1.1.1, SEC 2 §2.4.1). */
  readonly oid: string;
  readonly p: bigint;
  readonly a: bigint;
  readonly b: bigint;
  /** Octets of one field element, ceil(log2(p) / 8) (SEC 1 §2.3.5). */
  readonly fieldBytes: number;
}

// SEC 2 v2 §2.4.1 (secp256k1), §2.4.2 (secp256r1), §2.5.1 (secp384r1), §2.6.1 (secp521r1); FIPS 186-4 §D.1.2.
const P256: CurveParameters = {
  name: 'P-256',
  oid: '1.2.840.10045.3.1.7',
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  a: 0xffffffff00000001000000000000000000000000fffffffffffffffffffffffcn,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  fieldBytes: 32,
};
const P384: CurveParameters = {
  name: 'P-384',
  oid: '1.3.132.0.34',
  p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
  a: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffcn,
  b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  fieldBytes: 48,
};
const P521: CurveParameters = {
  name: 'P-521',
  oid: '1.3.132.0.35',
  p: (1n << 521n) - 1n,
  a: (1n << 521n) - 4n,
  b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  fieldBytes: 66,
};
const SECP256K1: CurveParameters = {
  name: 'secp256k1',
  oid: '1.3.132.0.10',
  p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2fn,
  a: 0n,
  b: 7n,
  fieldBytes: 32,
};

export const CURVES: readonly CurveParameters[] = [P256, P384, P521, SECP256K1];
const BY_OID: ReadonlyMap<string, CurveParameters> = new Map(CURVES.map((c) => [c.oid, c]));
const BY_NAME: ReadonlyMap<string, CurveParameters> = new Map(CURVES.map((c) => [c.name, c]));

export function curveByOid(oid: string): CurveParameters | undefined {
  return BY_OID.get(oid);
}

export function curveByName(name: string): CurveParameters | undefined {
  return BY_NAME.get(name);
}

/** A validated affine point: coordinates as fixed-length big-endian octets. */
export interface EcPoint {
  readonly curve: CurveParameters;
  readonly x: Uint8Array;
  readonly y: Uint8Array;
}

export type EcPointVerdict = { readonly ok: true; readonly point: EcPoint } | { readonly ok: false; readonly problem: string };

const RULE = 'SP 800-56A Rev. 3 §5.6.2.3.3';

/**
 * Partial public-key validation (NIST SP 800-56A Rev. 3 §5.6.2.3.3) of an
 * encoded point (SEC 1 §2.3.3, the ECPoint of RFC 5480 §2.2): not the point
 * at infinity, the uncompressed form with exactly two field elements, each
 * coordinate in [0, p-1], and on the curve. Compressed points are refused
 * rather than decompressed: RFC 5480 §2.2 makes only the uncompressed form
 * mandatory, and Go, Boulder and the Web PKI use nothing else.
 */
export function checkEcPoint(curve: CurveParameters, encoded: Uint8Array): EcPointVerdict {
  const refuse = (problem: string): EcPointVerdict => ({ ok: false, problem: `${curve.name} public key ${problem}` });
  const first = encoded[0];
  // SEC 1 §2.3.4: the single octet 00 encodes the point at infinity; §5.6.2.3.3 step 1 refuses it.
  if (first === undefined) return refuse('point encoding is empty (SEC 1 §2.3.3)');
  if (first === 0x00 && encoded.byteLength === 1) return refuse(`is the point at infinity (${RULE} step 1)`);
  if (first === 0x02 || first === 0x03)
    return refuse('is a compressed point: only the uncompressed form (04 || X || Y) is accepted (RFC 5480 §2.2)');
  if (first !== 0x04) return refuse(`point encoding starts with 0x${first.toString(16).padStart(2, '0')}, not 04 (SEC 1 §2.3.3)`);
  const expected = 1 + 2 * curve.fieldBytes;
  if (encoded.byteLength !== expected)
    return refuse(`point is ${encoded.byteLength} octets, not the ${expected} of an uncompressed point (SEC 1 §2.3.3)`);
  const x = encoded.subarray(1, 1 + curve.fieldBytes);
  const y = encoded.subarray(1 + curve.fieldBytes);
  return checkCoordinates(curve, x, y);
}

/** The same checks on coordinates given apart (a JWK's x and y, RFC 7518 §6.2.1.2: exactly the field length each). */
export function checkEcCoordinates(curve: CurveParameters, x: Uint8Array, y: Uint8Array): EcPointVerdict {
  if (x.byteLength !== curve.fieldBytes || y.byteLength !== curve.fieldBytes) {
    return {
      ok: false,
      problem: `${curve.name} public key coordinates are ${x.byteLength} and ${y.byteLength} octets, not ${curve.fieldBytes} each (RFC 7518 §6.2.1.2)`,
    };
  }
  return checkCoordinates(curve, x, y);
}

function checkCoordinates(curve: CurveParameters, xBytes: Uint8Array, yBytes: Uint8Array): EcPointVerdict {
  const refuse = (problem: string): EcPointVerdict => ({ ok: false, problem: `${curve.name} public key ${problem}` });
  const x = bigIntFromBytes(xBytes);
  const y = bigIntFromBytes(yBytes);
  const { p, a, b } = curve;
  // Step 1 again for encodings that spell infinity as (0, 0), as Boulder checks: (0, 0) is on no curve here with b != 0 but says so plainly.
  if (x === 0n && y === 0n) return refuse(`is the point at infinity (${RULE} step 1)`);
  // Step 2: each coordinate is an integer in [0, p-1].
  if (x >= p || y >= p) return refuse(`coordinate ${x >= p ? 'x' : 'y'} is not below the field prime p (${RULE} step 2)`);
  // Step 3: y² = x³ + ax + b (mod p).
  const left = (y * y) % p;
  const right = (((x * x) % p) * x + a * x + b) % p;
  if (left !== right) return refuse(`point is not on the curve (${RULE} step 3)`);
  return { ok: true, point: { curve, x: xBytes, y: yBytes } };
}
