/**
 * Imports a subject key the key policy (key-policy.ts) has accepted, by the
 * cheapest path node:crypto offers for its type. CPU µs per import, bench/csr
 * on Node 20.20 / OpenSSL 3.0, this 2-core machine:
 *
 * | key      | SPKI DER | JWK  | raw point (WebCrypto) | taken |
 * |----------|---------:|-----:|----------------------:|-------|
 * | P-256    |     ~100 |  ~65 |  ~50 | JWK |
 * | P-384    |     ~100 | ~350 |  ~37 | raw point |
 * | Ed25519  |      ~70 |   ~5 |  ~20 | JWK |
 * | RSA-2048 |      ~95 |   ~4 | (PKCS#1 DER ~3) | JWK |
 *
 * A JWK EC import runs OpenSSL's EC_KEY_check_key, whose n·Q = O check is a
 * scalar multiplication: cheap on P-256 (OpenSSL's dedicated code), most of a
 * verify on P-384 (generic code). The raw-point import skips it (redundant on
 * these cofactor-1 curves: SP 800-56A Rev. 3 §5.6.2.3.3 partial validation is
 * full validation there) and still refuses a point off the curve. On P-256
 * the raw path saves ~10-15 µs in isolation but each WebCrypto CryptoKey is a
 * transferable object the GC must finalise: bench/svid svid-64 (P-256 CSRs,
 * event loop ~90 % busy) ran ~8 % slower with it, so P-256 stays on JWK.
 * Never the JWK-export path of PERF-NOTES: these keys are only imported.
 */
import { createPublicKey, KeyObject, webcrypto } from 'node:crypto';
import { curveByName } from '../shared/ec-point.js';
import { policyKeyJwk, type CertifiedCurve, type PolicyKey } from './key-policy.js';

/** node:crypto refused a key: the caller names the request it came from. */
export class KeyImportError extends Error {
  override readonly name = 'KeyImportError';
}

/**
 * A key the policy accepted, as a node:crypto KeyObject: at once for the JWK
 * paths (no promise on the P-256 hot path), as a promise for a P-384 point.
 * Throws (or rejects with) KeyImportError if node:crypto refuses it anyway.
 */
export function importPolicyKey(key: PolicyKey): KeyObject | Promise<KeyObject> {
  switch (key.kind) {
    case 'ec':
      if (key.curve === 'P-384') return importEcPoint(key.curve, ecPoint(key.x, key.y));
      return importJwk(key, 'P-256');
    case 'ed25519':
      return importJwk(key, 'Ed25519');
    case 'rsa':
      return importJwk(key, 'RSA');
    default: {
      const never: never = key;
      return never;
    }
  }
}

function importJwk(key: PolicyKey, what: string): KeyObject {
  try {
    return createPublicKey({ key: policyKeyJwk(key), format: 'jwk' });
  } catch (cause) {
    throw new KeyImportError(`node:crypto refused the ${what} public key`, { cause });
  }
}

function ecPoint(x: Uint8Array, y: Uint8Array): Uint8Array {
  const point = new Uint8Array(1 + x.byteLength + y.byteLength);
  point[0] = 0x04;
  point.set(x, 1);
  point.set(y, 1 + x.byteLength);
  return point;
}

/**
 * Imports an uncompressed point (SEC 1 §2.3.3: 04 || X || Y). Its length and
 * first octet are checked here, before node:crypto sees it: the single octet
 * 00 (the point at infinity, SEC 1 §2.3.4) would load and then abort Node
 * when the key's details are read (see src/shared/ec-point.ts), and a
 * compressed point is not what RFC 5480 §2.2 mandates. node:crypto checks
 * that the point is on the curve and refuses it (KeyImportError) if not.
 */
export async function importEcPoint(curve: CertifiedCurve, point: Uint8Array): Promise<KeyObject> {
  const fieldBytes = curveByName(curve)?.fieldBytes;
  if (fieldBytes === undefined) throw new KeyImportError(`unknown curve ${curve}`);
  const expected = 1 + 2 * fieldBytes;
  if (point.byteLength !== expected)
    throw new KeyImportError(`${curve} point is ${point.byteLength} octets, not the ${expected} of an uncompressed point (SEC 1 §2.3.3)`);
  if (point[0] !== 0x04) throw new KeyImportError(`${curve} point does not start with 04, the uncompressed form (SEC 1 §2.3.3)`);
  let imported: webcrypto.CryptoKey;
  try {
    imported = await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: curve }, false, ['verify']);
  } catch (cause) {
    throw new KeyImportError(`${curve} point is not on the curve: node:crypto refused it`, { cause });
  }
  return KeyObject.from(imported);
}
