/**
 * A bounded, strict decoder of a DER Certificate (RFC 5280 §4.1): the
 * fields the path validator needs, as views of the input. Pure functions,
 * no crypto, no clock; every failure is a DerError.
 */
import { DerError, DerReader, Tag, type DerElement } from './der-reader.js';
import { decodeOid, decodeSmallInteger, decodeTime } from './der-values.js';
import { decodeExtensions, type CertificateExtensions } from './extensions.js';
import { decodeName } from './general-names.js';
import type { DistinguishedName } from './name-constraints.js';

/** The parts of a Certificate (RFC 5280 §4.1) the verifier uses. Buffers point into the input. */
export interface CertificateFields {
  /** 1, 2 or 3. */
  readonly version: number;
  /** INTEGER content octets, as encoded (may start with a 00 sign octet). */
  readonly serialNumber: Buffer;
  readonly signatureAlgorithm: string;
  readonly issuer: DistinguishedName;
  readonly subject: DistinguishedName;
  readonly notBeforeMs: number;
  readonly notAfterMs: number;
  readonly publicKey: PublicKeyInfo;
  readonly extensions: CertificateExtensions;
}

/**
 * What kind of key the SPKI holds, read from DER: KeyObject's
 * asymmetricKeyDetails costs ~24 µs per fresh key, this a fraction of one.
 */
export interface PublicKeyInfo {
  readonly algorithm: string;
  /** Named-curve OID for id-ecPublicKey; undefined for explicit parameters or other algorithms. */
  readonly namedCurve: string | undefined;
  /** Modulus size in bits for rsaEncryption keys. */
  readonly rsaModulusBits: number | undefined;
  /** rsaEncryption keys: modulus and exponent are positive INTEGERs (a negative one is no RSA key). */
  readonly isRsaPositive: boolean | undefined;
  /** The subjectPublicKey octets (after the BIT STRING's unused-bits octet): the EC point, the EdDSA key, the RSAPublicKey. */
  readonly keyOctets: Buffer;
}

export const KeyOid = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  ed448: '1.3.101.113',
  prime256v1: '1.2.840.10045.3.1.7',
  secp384r1: '1.3.132.0.34',
} as const;

/** RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 §A.1.1). */
function rsaKeyFacts(key: Buffer): { readonly bits: number; readonly isPositive: boolean } {
  const outer = DerReader.of(key);
  const rsa = DerReader.inside(outer.expect(Tag.sequence, 'RSAPublicKey'));
  outer.expectEnd('RSAPublicKey');
  const modulus = rsa.expect(Tag.integer, 'modulus').content;
  const exponent = rsa.expect(Tag.integer, 'publicExponent').content;
  rsa.expectEnd('RSAPublicKey');
  const isPositive = [modulus, exponent].every((n) => n.length > 0 && ((n[0] ?? 0) & 0x80) === 0 && n.some((b) => b !== 0));
  let start = 0;
  while (start < modulus.length && modulus[start] === 0) start++;
  const top = modulus[start];
  const bits = top === undefined ? 0 : (modulus.length - start - 1) * 8 + (32 - Math.clz32(top));
  return { bits, isPositive };
}

function decodePublicKeyInfo(element: DerElement<Buffer>): PublicKeyInfo {
  const spki = DerReader.inside(element);
  const algorithmIdentifier = DerReader.inside(spki.expect(Tag.sequence, 'SPKI algorithm'));
  const algorithm = decodeOid(algorithmIdentifier.expect(Tag.oid, 'SPKI algorithm').content);
  const parameters = algorithmIdentifier.isEmpty() ? undefined : algorithmIdentifier.read('SPKI parameters');
  algorithmIdentifier.expectEnd('SPKI algorithm');
  const key = spki.expect(Tag.bitString, 'subjectPublicKey').content;
  spki.expectEnd('subjectPublicKeyInfo');
  // Every key algorithm we know encodes whole octets: the unused-bits octet is 0.
  if (key.length < 1 || key[0] !== 0) throw new DerError('subjectPublicKey: bad BIT STRING');
  const keyOctets = key.subarray(1);
  if (algorithm === KeyOid.ecPublicKey && parameters?.tag === Tag.oid) {
    return { algorithm, namedCurve: decodeOid(parameters.content), rsaModulusBits: undefined, isRsaPositive: undefined, keyOctets };
  }
  if (algorithm === KeyOid.rsaEncryption) {
    const facts = rsaKeyFacts(keyOctets);
    return { algorithm, namedCurve: undefined, rsaModulusBits: facts.bits, isRsaPositive: facts.isPositive, keyOctets };
  }
  return { algorithm, namedCurve: undefined, rsaModulusBits: undefined, isRsaPositive: undefined, keyOctets };
}

function decodeAlgorithmIdentifier(element: DerElement<Buffer>, what: string): string {
  const reader = DerReader.inside(element);
  const oid = decodeOid(reader.expect(Tag.oid, `${what} algorithm`).content);
  if (!reader.isEmpty()) reader.read(`${what} parameters`);
  reader.expectEnd(what);
  return oid;
}

/** version [0] EXPLICIT Version DEFAULT v1, as 1, 2 or 3. */
function decodeVersion(tbs: DerReader<Buffer>): number {
  const versionElement = tbs.optional(0xa0, 'version');
  if (versionElement === undefined) return 1;
  const inner = DerReader.inside(versionElement);
  const v = decodeSmallInteger(inner.expect(Tag.integer, 'version').content, 'version');
  inner.expectEnd('version');
  if (v > 2) throw new DerError(`unknown version ${v}`);
  return v + 1;
}

/** Decodes a DER certificate, consuming exactly its bytes. Throws DerError. */
export function decodeCertificate(der: Uint8Array): CertificateFields {
  const top = DerReader.of(Buffer.isBuffer(der) ? der : Buffer.from(der.buffer, der.byteOffset, der.byteLength));
  const certificate = DerReader.inside(top.expect(Tag.sequence, 'Certificate'));
  top.expectEnd('Certificate');

  const tbsElement = certificate.expect(Tag.sequence, 'tbsCertificate');
  const signatureAlgorithmElement = certificate.expect(Tag.sequence, 'signatureAlgorithm');
  const signatureAlgorithm = decodeAlgorithmIdentifier(signatureAlgorithmElement, 'signatureAlgorithm');
  const signature = certificate.expect(Tag.bitString, 'signatureValue');
  if (signature.content.length < 2 || signature.content[0] !== 0) throw new DerError('signatureValue: bad BIT STRING');
  certificate.expectEnd('Certificate');

  const tbs = DerReader.inside(tbsElement);
  const version = decodeVersion(tbs);
  const serial = tbs.expect(Tag.integer, 'serialNumber').content;
  // RFC 5280 §4.1.2.2: CAs MUST NOT use serials longer than 20 octets; we allow some slack for others' mistakes.
  if (serial.length === 0 || serial.length > 32) throw new DerError('serialNumber: bad length');
  const innerSignature = tbs.expect(Tag.sequence, 'signature');
  // RFC 5280 §4.1.1.2: the outer algorithm MUST equal the one inside tbsCertificate.
  if (!innerSignature.bytes.equals(signatureAlgorithmElement.bytes)) throw new DerError('signature algorithms differ');
  const issuer = decodeName(tbs.read('issuer'), 'issuer');
  const validity = DerReader.inside(tbs.expect(Tag.sequence, 'validity'));
  const notBeforeMs = decodeTime(validity.read('notBefore'), 'notBefore');
  const notAfterMs = decodeTime(validity.read('notAfter'), 'notAfter');
  validity.expectEnd('validity');
  const subject = decodeName(tbs.read('subject'), 'subject');
  const publicKey = decodePublicKeyInfo(tbs.expect(Tag.sequence, 'subjectPublicKeyInfo'));
  // RFC 5280 §4.1.2.8: unique identifiers MUST only appear in v2 or v3; extensions (§4.1.2.9) only in v3.
  if (tbs.optional(0x81, 'issuerUniqueID') !== undefined && version < 2) throw new DerError('issuerUniqueID in v1');
  if (tbs.optional(0x82, 'subjectUniqueID') !== undefined && version < 2) throw new DerError('subjectUniqueID in v1');
  const extensionsElement = tbs.optional(0xa3, 'extensions');
  if (extensionsElement !== undefined && version !== 3) throw new DerError('extensions in a pre-v3 certificate');
  tbs.expectEnd('tbsCertificate');

  const extensions = decodeExtensions(extensionsElement);
  return { version, serialNumber: serial, signatureAlgorithm, issuer, subject, notBeforeMs, notAfterMs, publicKey, extensions };
}
