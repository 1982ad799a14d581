/**
 * The key policy: which public keys keysmith certifies (CSR subject keys on
 * every route) and accepts as ACME account keys. One bounded validator in
 * our own code, run before node:crypto or jose sees any key from the network
 * (some malformed EC keys abort Node natively, past any try/catch):
 *
 * - EC: named curve P-256 or P-384 only (no explicit parameters, RFC 5480
 *   §2.1.1), uncompressed point of exact length, validated per SP 800-56A
 *   Rev. 3 §5.6.2.3.3 (src/shared/ec-point.ts).
 * - Ed25519: no parameters, 32 octets (RFC 8410 §3, §4); every profile
 *   accepts it, as before.
 * - RSA (rsaEncryption, NULL parameters): 2048/3072/4096 bits, odd exponent
 *   in [65537, 2^256), no factor below 752, no ROCA fingerprint, not
 *   factorable by Fermat's method (rsa-key-checks.ts).
 *
 * Every refusal names the rule it enforces; callers turn it into their
 * route's error (`badCSR`, ACME `badPublicKey`).
 */
import { bigIntFromBytes } from '../shared/bytes.js';
import { checkEcCoordinates, checkEcPoint, curveByName, curveByOid, type CurveParameters } from '../shared/ec-point.js';
import { decodeOid, DerError, DerReader, readSingle, Tag, type DerElement } from '../pkix/index.js';
import { RSA_MAX_MODULUS_OCTETS, rsaKeyProblem } from './rsa-key-checks.js';

export type CertifiedCurve = 'P-256' | 'P-384';

/** A key that passed the policy, in the parts node:crypto needs to import it as a JWK. */
export type PolicyKey =
  | { readonly kind: 'ec'; readonly curve: CertifiedCurve; readonly x: Uint8Array; readonly y: Uint8Array }
  | { readonly kind: 'ed25519'; readonly x: Uint8Array }
  | { readonly kind: 'rsa'; readonly modulusLength: number; readonly n: Uint8Array; readonly e: Uint8Array };

export type KeyVerdict = { readonly ok: true; readonly key: PolicyKey } | { readonly ok: false; readonly problem: string };

/** Raw public JWK members (as canonicalised by the ACME layer). */
export interface PublicJwkMembers {
  readonly kty?: unknown;
  readonly crv?: unknown;
  readonly x?: unknown;
  readonly y?: unknown;
  readonly n?: unknown;
  readonly e?: unknown;
}

export const MAX_SPKI_BYTES = 4096;
const ED25519_KEY_BYTES = 32;

const OID = {
  ecPublicKey: '1.2.840.10045.2.1', // RFC 5480 §2.1.1
  rsaEncryption: '1.2.840.113549.1.1.1', // RFC 3279 §2.3.1
  rsassaPss: '1.2.840.113549.1.1.10', // RFC 4055 §1.2
  ed25519: '1.3.101.112', // RFC 8410 §3
  ed448: '1.3.101.113',
  x25519: '1.3.101.110',
  x448: '1.3.101.111',
  dsa: '1.2.840.10040.4.1',
} as const;

/** Names for refused curves, so a refusal says what was sent. */
const OTHER_CURVE_NAMES: ReadonlyMap<string, string> = new Map([
  ['1.3.36.3.3.2.8.1.1.7', 'brainpoolP256r1'],
  ['1.3.36.3.3.2.8.1.1.11', 'brainpoolP384r1'],
  ['1.3.36.3.3.2.8.1.1.13', 'brainpoolP512r1'],
  ['1.2.840.10045.3.1.1', 'P-192'],
  ['1.3.132.0.33', 'P-224'],
]);

const ACCEPTED = 'EC P-256/P-384, Ed25519 or RSA 2048/3072/4096';

function refuse(problem: string): KeyVerdict {
  return { ok: false, problem };
}

/**
 * Checks a DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) against the policy.
 * The bytes must be exactly one DER SPKI, at most MAX_SPKI_BYTES long.
 */
export function checkSpkiPolicy(spki: Uint8Array): KeyVerdict {
  if (spki.byteLength === 0 || spki.byteLength > MAX_SPKI_BYTES) {
    return refuse(`public key must be a DER SubjectPublicKeyInfo of 1 to ${MAX_SPKI_BYTES} bytes`);
  }
  let algorithm: string;
  let parameters: DerElement | undefined;
  let bits: DerElement;
  try {
    const fields = DerReader.of(readSingle(spki, Tag.sequence, 'SubjectPublicKeyInfo').content);
    const algorithmFields = DerReader.of(fields.expect(Tag.sequence).content);
    algorithm = decodeOid(algorithmFields.expect(Tag.oid).content);
    parameters = algorithmFields.isEmpty() ? undefined : algorithmFields.read();
    algorithmFields.expectEnd('AlgorithmIdentifier');
    bits = fields.expect(Tag.bitString);
    fields.expectEnd('SubjectPublicKeyInfo');
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    return refuse(`public key is not a DER SubjectPublicKeyInfo (RFC 5280 §4.1): ${cause.message}`);
  }
  // X.690 §8.6.2: the first octet counts unused bits; every key format here is whole octets.
  if (bits.content[0] !== 0) return refuse('subjectPublicKey BIT STRING has unused bits (RFC 5280 §4.1.2.7)');
  const key = bits.content.subarray(1);

  switch (algorithm) {
    case OID.ecPublicKey:
      return checkEcSpki(parameters, key);
    case OID.ed25519:
      // RFC 8410 §3: the parameters MUST be absent.
      if (parameters !== undefined) return refuse('Ed25519 key carries algorithm parameters, which RFC 8410 §3 says MUST be absent');
      return checkEd25519(key);
    case OID.rsaEncryption:
      // RFC 3279 §2.3.1: the parameters field MUST have ASN.1 type NULL.
      if (parameters === undefined || parameters.tag !== Tag.null || parameters.content.byteLength !== 0) {
        return refuse('rsaEncryption key parameters must be NULL (RFC 3279 §2.3.1)');
      }
      return checkRsaPublicKeyDer(key);
    case OID.rsassaPss:
      return refuse(`RSASSA-PSS-only keys (id-RSASSA-PSS) are not accepted: use rsaEncryption (${ACCEPTED})`);
    default:
      return refuse(`key algorithm ${algorithmName(algorithm)} is not accepted (${ACCEPTED})`);
  }
}

function algorithmName(oid: string): string {
  switch (oid) {
    case OID.ed448:
      return 'Ed448';
    case OID.x25519:
      return 'X25519';
    case OID.x448:
      return 'X448';
    case OID.dsa:
      return 'DSA';
    default:
      return oid;
  }
}

function checkEcSpki(parameters: DerElement | undefined, point: Uint8Array): KeyVerdict {
  // RFC 5480 §2.1.1: ECParameters is a namedCurve OID; specifiedCurve (a SEQUENCE) and implicitCurve (NULL) MUST NOT be used.
  if (parameters === undefined || parameters.tag !== Tag.oid) {
    const what =
      parameters === undefined
        ? 'no curve'
        : parameters.tag === Tag.sequence
          ? 'explicit curve parameters (specifiedCurve)'
          : 'implicit curve parameters';
    return refuse(`EC key has ${what}: keys must name their curve (RFC 5480 §2.1.1)`);
  }
  let oid: string;
  try {
    oid = decodeOid(parameters.content);
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    return refuse('EC key curve OID does not decode (RFC 5480 §2.1.1)');
  }
  const curve = certifiedCurve(curveByOid(oid), oid);
  if (!curve.ok) return curve;
  const verdict = checkEcPoint(curve.curve, point);
  if (!verdict.ok) return refuse(verdict.problem);
  return { ok: true, key: { kind: 'ec', curve: curve.name, x: verdict.point.x, y: verdict.point.y } };
}

function certifiedCurve(
  curve: CurveParameters | undefined,
  label: string,
):
  { readonly ok: true; readonly curve: CurveParameters; readonly name: CertifiedCurve } | { readonly ok: false; readonly problem: string } {
  if (curve !== undefined && (curve.name === 'P-256' || curve.name === 'P-384')) return { ok: true, curve, name: curve.name };
  const name = curve?.name ?? OTHER_CURVE_NAMES.get(label) ?? label;
  return {
    ok: false,
    problem: `EC curve ${name} is not accepted: keysmith certifies and accepts EC keys on P-256 and P-384 only (CA/Browser Forum BR §6.1.5)`,
  };
}

function checkEd25519(key: Uint8Array): KeyVerdict {
  // RFC 8410 §4: the public key is the 32-octet encoding of RFC 8032 §5.1.5.
  if (key.byteLength !== ED25519_KEY_BYTES)
    return refuse(`Ed25519 public key is ${key.byteLength} octets, not ${ED25519_KEY_BYTES} (RFC 8410 §4)`);
  return { ok: true, key: { kind: 'ed25519', x: key } };
}

/** RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 §A.1.1), DER, positive. */
function checkRsaPublicKeyDer(der: Uint8Array): KeyVerdict {
  let modulus: Uint8Array;
  let exponent: Uint8Array;
  try {
    const fields = DerReader.of(readSingle(der, Tag.sequence, 'RSAPublicKey').content);
    modulus = positiveInteger(fields.expect(Tag.integer).content, 'modulus');
    exponent = positiveInteger(fields.expect(Tag.integer).content, 'publicExponent');
    fields.expectEnd('RSAPublicKey');
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    return refuse(`RSA public key is not a DER RSAPublicKey (RFC 8017 §A.1.1): ${cause.message}`);
  }
  return checkRsaIntegers(modulus, exponent);
}

/** X.690 §8.3: minimal two's complement; returns the magnitude without the sign octet. Throws DerError. */
function positiveInteger(content: Uint8Array, what: string): Uint8Array {
  const first = content[0];
  if (first === undefined) throw new DerError(`${what} is an empty INTEGER`);
  if ((first & 0x80) !== 0) throw new DerError(`${what} is negative`);
  const second = content[1];
  if (first === 0 && second !== undefined && (second & 0x80) === 0) throw new DerError(`${what} is not minimally encoded`);
  return first === 0 ? content.subarray(1) : content;
}

/** Both integers as unsigned big-endian magnitudes without leading zeros. */
function checkRsaIntegers(modulus: Uint8Array, exponent: Uint8Array): KeyVerdict {
  // Bounds before any bigint conversion: the largest accepted modulus is 4096 bits; the exponent is below 2^256.
  if (modulus.byteLength > RSA_MAX_MODULUS_OCTETS) {
    return refuse(
      `RSA modulus of ${bitsOf(modulus)} bits is not accepted: keysmith certifies 2048, 3072 or 4096-bit RSA keys (CA/Browser Forum BR §6.1.5)`,
    );
  }
  if (exponent.byteLength > 32) return refuse('RSA public exponent is 2^256 or more (CA/Browser Forum BR §6.1.6)');
  const problem = rsaKeyProblem(bigIntFromBytes(modulus), bigIntFromBytes(exponent));
  if (problem !== undefined) return refuse(problem);
  return { ok: true, key: { kind: 'rsa', modulusLength: bitsOf(modulus), n: modulus, e: exponent } };
}

/** Bits of an unsigned big-endian magnitude whose first octet is not zero. */
function bitsOf(magnitude: Uint8Array): number {
  return magnitude.byteLength === 0 ? 0 : magnitude.byteLength * 8 - (Math.clz32(magnitude[0] ?? 0) - 24);
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Checks a public JWK (RFC 7517) against the same policy: members must be
 * unpadded base64url (RFC 7515 §2) with the exact lengths RFC 7518 §6 and
 * RFC 8037 §2 give. Private members are the caller's to refuse.
 */
export function checkJwkPolicy(jwk: PublicJwkMembers): KeyVerdict {
  switch (jwk.kty) {
    case 'EC': {
      const name = typeof jwk.crv === 'string' ? jwk.crv.slice(0, 32) : '(none)';
      const curve = certifiedCurve(curveByName(name), name);
      if (!curve.ok) return curve;
      const x = base64urlMember(jwk.x);
      const y = base64urlMember(jwk.y);
      if (x === undefined || y === undefined) return refuse('EC JWK members x and y must be base64url (RFC 7518 §6.2.1.2, §6.2.1.3)');
      const verdict = checkEcCoordinates(curve.curve, x, y);
      if (!verdict.ok) return refuse(verdict.problem);
      return { ok: true, key: { kind: 'ec', curve: curve.name, x, y } };
    }
    case 'OKP': {
      // RFC 8037 §2: crv names the curve; only Ed25519 signs account requests here.
      if (jwk.crv !== 'Ed25519')
        return refuse(`OKP JWK curve ${typeof jwk.crv === 'string' ? jwk.crv.slice(0, 32) : '(none)'} is not accepted (${ACCEPTED})`);
      const x = base64urlMember(jwk.x);
      if (x === undefined) return refuse('OKP JWK member x must be base64url (RFC 8037 §2)');
      return checkEd25519(x);
    }
    case 'RSA': {
      const n = base64urlMember(jwk.n);
      const e = base64urlMember(jwk.e);
      if (n === undefined || e === undefined) return refuse('RSA JWK members n and e must be base64url (RFC 7518 §6.3.1)');
      // RFC 7518 §6.3.1.1, §6.3.1.2: unsigned big-endian, without leading zero octets.
      if (n[0] === 0 || e[0] === 0) return refuse('RSA JWK n and e must not have leading zero octets (RFC 7518 §6.3.1.1)');
      return checkRsaIntegers(n, e);
    }
    default:
      return refuse(`JWK kty must be EC, RSA or OKP (${ACCEPTED})`);
  }
}

/** Bounded: the ACME layer caps members at 2048 characters. */
function base64urlMember(value: unknown): Uint8Array | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096 || !BASE64URL.test(value)) return undefined;
  return new Uint8Array(Buffer.from(value, 'base64url'));
}

/** The JWK node:crypto imports a checked key from (cheaper than SPKI DER, and the point is already validated). */
export function policyKeyJwk(key: PolicyKey): { kty: string; crv?: string; x?: string; y?: string; n?: string; e?: string } {
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
  switch (key.kind) {
    case 'ec':
      return { kty: 'EC', crv: key.curve, x: b64(key.x), y: b64(key.y) };
    case 'ed25519':
      return { kty: 'OKP', crv: 'Ed25519', x: b64(key.x) };
    case 'rsa':
      return { kty: 'RSA', n: b64(key.n), e: b64(key.e) };
    default: {
      const never: never = key;
      return never;
    }
  }
}
