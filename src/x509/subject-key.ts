import { createPublicKey, type KeyObject } from 'node:crypto';
import { DomainError } from '../shared/errors.js';
import { decodeOid, DerReader, readSingle, Tag } from './der-codec.js';
import type { CheckedPublicKey, SubjectKeyAlgorithm } from './public-key.js';

/*
 * `checkPublicKey` for the hot path: the same rules, kinds and messages as
 * public-key.ts, with the DER check done by a byte walk instead of an
 * asn1-schema parse and re-encode (~300 us), EC and Ed25519 keys imported as
 * JWK from the walked SPKI (a third cheaper than a DER import in node:crypto,
 * which validates the point either way), and a memo so that a key checked
 * while parsing a CSR is not imported a second time when the Authority checks
 * the same bytes.
 */

/** A checked key plus the node:crypto key it was classified with (CSR signatures are verified with it). */
export interface CheckedSubjectKey extends CheckedPublicKey {
  readonly keyObject: KeyObject;
}

const MAX_SPKI_BYTES = 4096;
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 8192;

interface Remembered {
  /** The checked bytes: a hit needs the array to still hold exactly these. */
  readonly bytes: Buffer;
  readonly algorithm: SubjectKeyAlgorithm;
  readonly keyObject: KeyObject;
}

// Keyed by the caller's array, so entries live exactly as long as the request that holds it.
const remembered = new WeakMap<Uint8Array, Remembered>();

/**
 * Accepts EC P-256/P-384, Ed25519 and RSA (rsaEncryption, 2048 to 8192
 * bits) in DER; anything else is `badCSR` (RFC 8555 §7.4). The returned
 * `spki` is a fresh copy of the checked bytes.
 */
export function checkSubjectPublicKey(spki: Uint8Array): CheckedSubjectKey {
  const hit = remembered.get(spki);
  if (hit !== undefined && hit.bytes.equals(spki)) return result(hit);

  if (spki.byteLength === 0 || spki.byteLength > MAX_SPKI_BYTES) {
    throw new DomainError('badCSR', `public key must be a DER SubjectPublicKeyInfo of at most ${MAX_SPKI_BYTES} bytes`);
  }
  const bytes = Buffer.from(spki);
  const walked = walkSpki(bytes);
  const { keyObject, algorithm } = (walked === undefined ? undefined : importAsJwk(walked)) ?? importAsDer(bytes);
  // The certificate carries these bytes as they are; OpenSSL also takes BER forms and trailing bytes, which must not get in.
  if (walked === undefined) throw new DomainError('badCSR', 'public key is not DER-encoded (or has trailing bytes)');
  const entry: Remembered = { bytes, algorithm, keyObject };
  remembered.set(spki, entry);
  const out = result(entry);
  remembered.set(out.spki, entry);
  return out;
}

function result(entry: Remembered): CheckedSubjectKey {
  return { spki: new Uint8Array(entry.bytes), algorithm: entry.algorithm, keyObject: entry.keyObject };
}

interface WalkedSpki {
  readonly algorithm: string;
  /** The parameters' OID (the named curve of an EC key), if they are one. */
  readonly curve: string | undefined;
  readonly hasParameters: boolean;
  /** subjectPublicKey without its unused-bits octet; undefined when bits are unused. */
  readonly key: Uint8Array | undefined;
}

/** SubjectPublicKeyInfo ::= SEQUENCE { algorithm SEQUENCE { OID, parameters OPTIONAL }, subjectPublicKey BIT STRING } (RFC 5280 §4.1); undefined unless DER. */
function walkSpki(bytes: Uint8Array): WalkedSpki | undefined {
  try {
    const fields = new DerReader(readSingle(bytes, Tag.sequence, 'SubjectPublicKeyInfo').value);
    const algorithm = new DerReader(fields.read(Tag.sequence).value);
    const oid = decodeOid(algorithm.read(Tag.oid).value);
    const parameters = algorithm.isDone ? undefined : algorithm.read();
    algorithm.end('AlgorithmIdentifier');
    const key = fields.read(Tag.bitString);
    fields.end('SubjectPublicKeyInfo');
    const unusedBits = key.value[0];
    if (unusedBits === undefined || unusedBits > 7 || (unusedBits !== 0 && key.value.byteLength === 1)) return undefined;
    return {
      algorithm: oid,
      curve: parameters?.tag === Tag.oid ? decodeOid(parameters.value) : undefined,
      hasParameters: parameters !== undefined,
      key: unusedBits === 0 ? key.value.subarray(1) : undefined,
    };
  } catch {
    return undefined;
  }
}

// RFC 5480 §2.1.1 (id-ecPublicKey, secp256r1, secp384r1), RFC 8410 §3 (id-Ed25519).
const EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const CURVES: ReadonlyMap<string, { readonly name: 'P-256' | 'P-384'; readonly pointBytes: number }> = new Map([
  ['1.2.840.10045.3.1.7', { name: 'P-256', pointBytes: 65 }],
  ['1.3.132.0.34', { name: 'P-384', pointBytes: 97 }],
]);
const ED25519 = '1.3.101.112';

/** Uncompressed P-256/P-384 points (SEC 1 §2.3.3) and Ed25519 keys; undefined for anything else (imported as DER). */
function importAsJwk(spki: WalkedSpki): { keyObject: KeyObject; algorithm: SubjectKeyAlgorithm } | undefined {
  const { key } = spki;
  if (key === undefined) return undefined;
  let jwk: { kty: string; crv: string; x: string; y?: string };
  let algorithm: SubjectKeyAlgorithm;
  const curve = spki.curve === undefined ? undefined : CURVES.get(spki.curve);
  if (spki.algorithm === EC_PUBLIC_KEY && curve !== undefined && key.byteLength === curve.pointBytes && key[0] === 0x04) {
    const half = (curve.pointBytes - 1) / 2;
    const coordinate = (from: number): string => Buffer.from(key.subarray(from, from + half)).toString('base64url');
    jwk = { kty: 'EC', crv: curve.name, x: coordinate(1), y: coordinate(1 + half) };
    algorithm = { kind: 'ec', curve: curve.name };
  } else if (spki.algorithm === ED25519 && !spki.hasParameters && key.byteLength === 32) {
    jwk = { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(key).toString('base64url') };
    algorithm = { kind: 'ed25519' };
  } else {
    return undefined;
  }
  try {
    // node:crypto refuses a point that is not on the curve, as it does for DER.
    return { keyObject: createPublicKey({ key: jwk, format: 'jwk' }), algorithm };
  } catch (cause) {
    throw new DomainError('badCSR', 'public key is not a valid SubjectPublicKeyInfo', { cause });
  }
}

function importAsDer(bytes: Buffer): { keyObject: KeyObject; algorithm: SubjectKeyAlgorithm } {
  let keyObject: KeyObject;
  try {
    keyObject = createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new DomainError('badCSR', 'public key is not a valid SubjectPublicKeyInfo', { cause });
  }
  return { keyObject, algorithm: classify(keyObject) };
}

function classify(key: KeyObject): SubjectKeyAlgorithm {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (details.namedCurve === 'prime256v1') return { kind: 'ec', curve: 'P-256' };
      if (details.namedCurve === 'secp384r1') return { kind: 'ec', curve: 'P-384' };
      throw new DomainError('badCSR', `EC curve ${details.namedCurve ?? 'unknown'} is not accepted (P-256 or P-384)`);
    case 'ed25519':
      return { kind: 'ed25519' };
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS) {
        throw new DomainError('badCSR', `RSA key of ${bits} bits is not accepted (${RSA_MIN_BITS} to ${RSA_MAX_BITS})`);
      }
      return { kind: 'rsa', modulusLength: bits };
    }
    default:
      throw new DomainError('badCSR', `key type ${key.asymmetricKeyType ?? 'unknown'} is not accepted (EC P-256/P-384, Ed25519 or RSA >= ${RSA_MIN_BITS})`);
  }
}
