/**
 * Imports a subject key the key policy (key-policy.ts) has accepted, by the
 * cheapest path node:crypto offers for its type, as measured by bench/csr on
 * Node 20.20 / OpenSSL 3.0 (CPU µs per import):
 *
 * | key      | SPKI DER | JWK | raw point (WebCrypto) | taken |
 * |----------|---------:|----:|----------------------:|-------|
 * | P-256    |      ~100 |  ~64 |  ~45 | raw point |
 * | P-384    |      ~100 | ~355 |  ~40 | raw point |
 * | Ed25519  |       ~71 |   ~4 |  ~20 | JWK |
 * | RSA-2048 |       ~96 | ~3.5 | (PKCS#1 DER ~3) | JWK |
 *
 * A JWK EC import costs a scalar multiplication (OpenSSL's EC_KEY_check_key
 * checks n·Q = O), which on P-384, with no fast OpenSSL 3.0 implementation,
 * costs most of a verify. The raw-point import (`EC_POINT_oct2point`) still
 * refuses a point off the curve; n·Q = O adds nothing on P-256 and P-384,
 * whose cofactor is 1 (SP 800-56A Rev. 3 §5.6.2.3.3 partial validation is
 * full validation there). Never the JWK-export path of PERF-NOTES: these
 * keys are only imported.
 */
import { createPublicKey, KeyObject, webcrypto } from 'node:crypto';
import { curveByName } from '../shared/ec-point.js';
import { policyKeyJwk, type CertifiedCurve, type PolicyKey } from './key-policy.js';

/** node:crypto refused a key: the caller names the request it came from. */
export class KeyImportError extends Error {
  override readonly name = 'KeyImportError';
}

/** A key the policy accepted, as a node:crypto KeyObject. Throws KeyImportError if node:crypto refuses it anyway. */
export async function importPolicyKey(key: PolicyKey): Promise<KeyObject> {
  switch (key.kind) {
    case 'ec':
      return importEcPoint(key.curve, ecPoint(key.x, key.y));
    case 'ed25519':
    case 'rsa':
      try {
        return createPublicKey({ key: policyKeyJwk(key), format: 'jwk' });
      } catch (cause) {
        throw new KeyImportError(`node:crypto refused the ${key.kind === 'rsa' ? 'RSA' : 'Ed25519'} public key`, { cause });
      }
    default: {
      const never: never = key;
      return never;
    }
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
  if (point.byteLength !== expected) throw new KeyImportError(`${curve} point is ${point.byteLength} octets, not the ${expected} of an uncompressed point (SEC 1 §2.3.3)`);
  if (point[0] !== 0x04) throw new KeyImportError(`${curve} point does not start with 04, the uncompressed form (SEC 1 §2.3.3)`);
  let imported: webcrypto.CryptoKey;
  try {
    imported = await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: curve }, false, ['verify']);
  } catch (cause) {
    throw new KeyImportError(`${curve} point is not on the curve: node:crypto refused it`, { cause });
  }
  return KeyObject.from(imported);
}
