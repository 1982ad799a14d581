import { createHash, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { SubjectAltName } from '../domain/certificates.js';
import { prepareCertificate, SIGNATURE, type CertificateIssuer, type CertificateTemplate, type KeyUsageName } from './certificate.js';
import { asciiBytes, contextTag, DerReader, encodeOid, readSingle, Tag, tlv, type DerElement } from '../pkix/index.js';
import {
  ATTRIBUTE_OIDS,
  equalBytes,
  GENERAL_NAME_TAG,
  LEAF_OIDS,
  LeafSigner,
  serialBytes,
  VERSION_V3,
  type LeafExpectation,
  type LeafSigningKeys,
} from './leaf-signer.js';
import { checkDistinguishedName, ipToOctets, normalizeDnsName, normalizeIpAddress, type NameAttribute } from './names.js';

/*
 * The hot issuance path for leaves (SVIDs, node identities, server
 * certificates): a TBSCertificate spliced from DER encoded once per issuer
 * and shape (issuer Name, signature AlgorithmIdentifier, basicConstraints,
 * keyUsage, EKU, AKI, AIA, CRL DP) and the few fields that change per
 * certificate (serial, validity, subject, SPKI, SKI, SAN), signed with
 * node:crypto. It writes the same DER as `prepareCertificate` for the same
 * template, byte for byte; the first certificate of each shape is encoded
 * both ways and compared before anything is signed.
 *
 * Templates it does not cover (CA certificates, name constraints,
 * id-pkix-ocsp-nocheck, rfc822Name, non-ASCII IA5 names, self-signed) get
 * `undefined` from `encode`: the caller uses `prepareCertificate`.
 */

const EKU_OIDS = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2', ocspSigning: '1.3.6.1.5.5.7.3.9' } as const;
const ATTRIBUTE_OID_TLVS: Readonly<Record<NameAttribute['type'], Uint8Array>> = {
  CN: encodeOid(ATTRIBUTE_OIDS.CN),
  O: encodeOid(ATTRIBUTE_OIDS.O),
  OU: encodeOid(ATTRIBUTE_OIDS.OU),
};
/** RFC 5280 §4.2.1.3 bit positions; leaves only (keyCertSign and cRLSign make the template unsupported). */
const KEY_USAGE_BITS: Partial<Readonly<Record<KeyUsageName, number>>> = { digitalSignature: 0, keyEncipherment: 2 };

const BOOLEAN_TRUE = tlv(Tag.boolean, Uint8Array.of(0xff));

/** What differs between leaf templates but not between certificates of one kind: the cached DER. */
interface LeafShape {
  /** BC, KU, EKU extensions (each a whole Extension TLV), in the builder's order. */
  readonly head: Uint8Array;
  readonly authorityKeyId: Uint8Array;
  /** AIA and CRL DP extensions. */
  readonly tail: Uint8Array;
  /** Extension TLVs by OID, for the check after signing. */
  readonly fixed: ReadonlyMap<string, Uint8Array>;
  /** Extension OIDs in the order they are written. */
  readonly order: readonly string[];
  /** True once a certificate of this shape was encoded identically by `prepareCertificate`. */
  isProven: boolean;
}

/** What the check after signing compares a certificate with, as plain data (it may cross to a crypto worker). */
export function leafExpectation(encoded: EncodedLeaf): LeafExpectation {
  const { template, shape } = encoded;
  return {
    serial: template.serial,
    notBefore: template.notBefore,
    notAfter: template.notAfter,
    subject: template.subject,
    publicKey: template.publicKey,
    subjectAltNames: template.subjectAltNames ?? [],
    subjectKeyId: encoded.subjectKeyId,
    fixed: shape.fixed,
    order: shape.order,
  };
}

/** A TBSCertificate ready to sign, and what the check after signing compares with. */
export interface EncodedLeaf {
  readonly template: CertificateTemplate;
  readonly tbs: Uint8Array;
  /** RFC 7093 §2 method 1, as `keyIdentifierOf` computes it. */
  readonly subjectKeyId: Uint8Array;
  readonly shape: LeafShape;
}

export class LeafTemplate {
  private readonly issuer: CertificateIssuer;
  private readonly signer: LeafSigner;
  private readonly issuerName: Uint8Array;
  private readonly signatureAlgorithm: Uint8Array;
  private readonly shapes = new Map<string, LeafShape>();

  /** `signingKey` is the issuer's private key as a KeyObject (CaMaterial.intermediate.keyObject). */
  constructor(issuer: CertificateIssuer, signingKey: KeyObject) {
    if (issuer.isSelf) throw new Error('the leaf template signs with an issuing certificate, not a self-signed one');
    const curve = signingKey.asymmetricKeyDetails?.namedCurve;
    const expected = issuer.curve === 'P-256' ? 'prime256v1' : 'secp384r1';
    if (signingKey.type !== 'private' || signingKey.asymmetricKeyType !== 'ec' || curve !== expected) {
      throw new Error(`the leaf template needs the issuer's ECDSA ${issuer.curve} private key`);
    }
    this.issuer = issuer;
    // RFC 5280 §4.1.2.4: the issuer field is the issuing certificate's subject, encoded the way the builder encodes it.
    this.issuerName = new Uint8Array(AsnConvert.serialize(issuer.name));
    // RFC 5758 §3.2: ecdsa-with-SHA256/384 with the parameters field absent.
    this.signatureAlgorithm = tlv(Tag.sequence, encodeOid(SIGNATURE[issuer.curve].oid));
    this.signer = new LeafSigner({
      nodeHash: SIGNATURE[issuer.curve].nodeHash,
      signingKey,
      issuerPublicKey: issuer.publicKeyObject,
      issuerName: this.issuerName,
      signatureAlgorithm: this.signatureAlgorithm,
    });
  }

  /** What signs and checks this issuer's leaves, as bytes and KeyObjects (a crypto worker imports it once). */
  get signingKeys(): LeafSigningKeys {
    return this.signer.keys;
  }

  /** The TBSCertificate of a supported template, or undefined (then use `prepareCertificate`). Throws a plain Error on a bad template. */
  encode(template: CertificateTemplate): EncodedLeaf | undefined {
    const shape = this.shapeOf(template);
    if (shape === undefined) return undefined;
    const serial = serialBytes(template.serial);
    checkLeafTemplate(template, this.issuer.notAfter);
    const notBefore = encodeTime(template.notBefore);
    const notAfter = encodeTime(template.notAfter);
    const sans = encodeSubjectAltNames(template.subjectAltNames ?? []);
    if (notBefore === undefined || notAfter === undefined || sans === undefined) return undefined;

    const subjectKeyId = keyIdentifierOfSpki(template.publicKey);
    const subject = encodeName(template);
    const extensions: Uint8Array[] = [
      shape.head,
      extension(LEAF_OIDS.subjectKeyIdentifier, false, tlv(Tag.octetString, subjectKeyId)),
      shape.authorityKeyId,
    ];
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension is critical.
    if ((template.subjectAltNames ?? []).length > 0)
      extensions.push(extension(LEAF_OIDS.subjectAltName, template.subject.length === 0, sans));
    extensions.push(shape.tail);
    const tbs = tlv(
      Tag.sequence,
      VERSION_V3,
      tlv(Tag.integer, serial),
      this.signatureAlgorithm,
      this.issuerName,
      tlv(Tag.sequence, notBefore, notAfter),
      subject,
      template.publicKey,
      tlv(contextTag(3, true), tlv(Tag.sequence, ...extensions)),
    );
    if (!shape.isProven) this.prove(template, tbs, shape);
    return { template, tbs, subjectKeyId, shape };
  }

  /** Signs the TBS on the libuv pool (node:crypto), returning the DER certificate (RFC 5280 §4.1). */
  sign(encoded: EncodedLeaf): Promise<Uint8Array> {
    return this.signer.sign(encoded.tbs);
  }

  /**
   * The check after signing (leaf-signer.ts `LeafSigner`): the signature
   * verified with the issuer key and the whole certificate walked as DER,
   * each spliced field compared with the template. This replaces a full
   * re-parse with the schemas (~2 ms) by one ECDSA verification and a byte
   * walk. A mismatch is a keysmith bug: a plain Error, nothing handed out.
   */
  check(der: Uint8Array, encoded: EncodedLeaf): Promise<void> {
    return this.signer.check(der, leafExpectation(encoded));
  }

  /** Compares the first certificate of a shape with the reference builder's TBS; any difference is a keysmith bug. */
  private prove(template: CertificateTemplate, tbs: Uint8Array, shape: LeafShape): void {
    const reference = prepareCertificate(template, this.issuer).take();
    if (!equalBytes(reference, tbs)) throw new Error(`leaf template for ${template.serial}: DER differs from the certificate builder's`);
    shape.isProven = true;
  }

  private shapeOf(t: CertificateTemplate): LeafShape | undefined {
    if (t.basicConstraints.ca || t.basicConstraints.pathLength !== undefined) return undefined;
    // The builder refuses name constraints on a leaf; falling back lets it say so.
    if (t.permittedUriHosts !== undefined || t.ocspNoCheck === true) return undefined;
    const eku = t.extendedKeyUsage ?? [];
    // Usage names and URLs cannot contain '\n', so the key is unambiguous.
    const key = `${t.keyUsage.join()}\n${eku.join()}\n${t.ocspUrl ?? ''}\n${t.crlUrl ?? ''}`;
    const cached = this.shapes.get(key);
    if (cached !== undefined) return cached;
    if (t.keyUsage.length === 0 || t.keyUsage.some((usage) => KEY_USAGE_BITS[usage] === undefined)) return undefined;
    for (const url of [t.ocspUrl, t.crlUrl])
      if (url !== undefined && (!/^https?:\/\/[^\n]*$/.test(url) || asciiBytes(url) === undefined)) return undefined;

    // The order is the builder's (certificate.ts encodeExtensions), so the DER comes out identical.
    const fixed = new Map<string, Uint8Array>();
    const order: string[] = [];
    const add = (oid: string, value: Uint8Array | undefined, isCritical: boolean): void => {
      order.push(oid);
      if (value !== undefined) fixed.set(oid, extension(oid, isCritical, value));
    };
    // RFC 5280 §4.2.1.9: cA DEFAULT FALSE is omitted in DER; critical as SPIFFE X509-SVID §4.1 asks.
    add(LEAF_OIDS.basicConstraints, tlv(Tag.sequence), true);
    add(LEAF_OIDS.keyUsage, encodeKeyUsage(t.keyUsage), true);
    if (eku.length > 0) add(LEAF_OIDS.extKeyUsage, tlv(Tag.sequence, ...eku.map((name) => encodeOid(EKU_OIDS[name]))), false);
    add(LEAF_OIDS.subjectKeyIdentifier, undefined, false);
    // RFC 5280 §4.2.1.1: AuthorityKeyIdentifier { keyIdentifier [0] IMPLICIT OCTET STRING }.
    add(LEAF_OIDS.authorityKeyIdentifier, tlv(Tag.sequence, tlv(contextTag(0, false), this.issuer.keyIdentifier)), false);
    add(LEAF_OIDS.subjectAltName, undefined, false);
    if (t.ocspUrl !== undefined) {
      const url = asciiBytes(t.ocspUrl) ?? new Uint8Array(0);
      // RFC 5280 §4.2.2.1: AuthorityInfoAccessSyntax with one id-ad-ocsp AccessDescription.
      add(
        LEAF_OIDS.authorityInfoAccess,
        tlv(Tag.sequence, tlv(Tag.sequence, encodeOid(LEAF_OIDS.accessMethodOcsp), tlv(GENERAL_NAME_TAG.uri, url))),
        false,
      );
    }
    if (t.crlUrl !== undefined) {
      const url = asciiBytes(t.crlUrl) ?? new Uint8Array(0);
      // RFC 5280 §4.2.1.13: DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } }.
      const point = tlv(Tag.sequence, tlv(contextTag(0, true), tlv(contextTag(0, true), tlv(GENERAL_NAME_TAG.uri, url))));
      add(LEAF_OIDS.cRLDistributionPoints, tlv(Tag.sequence, point), false);
    }
    const pick = (...oids: string[]): Uint8Array => concat(oids.flatMap((oid) => fixed.get(oid) ?? []));
    const shape: LeafShape = {
      head: pick(LEAF_OIDS.basicConstraints, LEAF_OIDS.keyUsage, LEAF_OIDS.extKeyUsage),
      authorityKeyId: pick(LEAF_OIDS.authorityKeyIdentifier),
      tail: pick(LEAF_OIDS.authorityInfoAccess, LEAF_OIDS.cRLDistributionPoints),
      fixed,
      order,
      isProven: false,
    };
    this.shapes.set(key, shape);
    return shape;
  }
}

// ---------------------------------------------------------------- encoding

/** The builder's template checks that apply to a leaf of a supported shape. */
function checkLeafTemplate(t: CertificateTemplate, issuerNotAfter: number): void {
  const fail = (why: string): never => {
    throw new Error(`certificate template ${t.serial}: ${why}`);
  };
  checkDistinguishedName(t.subject);
  if (!Number.isSafeInteger(t.notBefore) || !Number.isSafeInteger(t.notAfter) || t.notBefore % 1000 !== 0 || t.notAfter % 1000 !== 0) {
    fail('validity times must be whole seconds');
  }
  if (t.notAfter <= t.notBefore) fail('notAfter must be after notBefore');
  if (t.notAfter > issuerNotAfter) fail('notAfter is past the issuer certificate notAfter');
  for (const san of t.subjectAltNames ?? []) {
    if (san.type === 'dns' && normalizeDnsName(san.value, { allowWildcard: true }) !== san.value)
      fail(`DNS name ${san.value} is not normalized`);
    if (san.type === 'ip' && normalizeIpAddress(san.value) !== san.value) fail(`IP address ${san.value} is not in canonical form`);
    if (san.type === 'uri' && !URL.canParse(san.value)) fail(`URI ${san.value} is not absolute`);
  }
  if (t.subject.length === 0 && (t.subjectAltNames ?? []).length === 0) fail('an empty subject needs subjectAltName');
}

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds, Z. Undefined before 1950. */
export function encodeTime(ms: number): Uint8Array | undefined {
  const date = new Date(ms);
  const year = date.getUTCFullYear();
  if (!Number.isFinite(year) || year < 1950 || year > 9999) return undefined;
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050
    ? tlv(Tag.utcTime, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'))
    : tlv(Tag.generalizedTime, Buffer.from(`${year}${rest}`, 'latin1'));
}

/** RFC 5280 §4.1.2.6: one UTF8String attribute per RDN, in the template's order. */
function encodeName(t: CertificateTemplate): Uint8Array {
  return tlv(
    Tag.sequence,
    ...t.subject.map((attribute) =>
      tlv(Tag.set, tlv(Tag.sequence, ATTRIBUTE_OID_TLVS[attribute.type], tlv(Tag.utf8String, Buffer.from(attribute.value, 'utf8')))),
    ),
  );
}

/** GeneralNames for dNSName, URI (IA5String) and iPAddress; undefined for anything else or non-ASCII. */
function encodeSubjectAltNames(sans: readonly SubjectAltName[]): Uint8Array | undefined {
  const names: Uint8Array[] = [];
  for (const san of sans) {
    if (san.type === 'email') return undefined;
    const value = san.type === 'ip' ? ipToOctets(san.value) : asciiBytes(san.value);
    if (value === undefined) return undefined;
    names.push(tlv(GENERAL_NAME_TAG[san.type], value));
  }
  return tlv(Tag.sequence, ...names);
}

/** The named-bit BIT STRING of RFC 5280 §4.2.1.3, trailing zero bits removed (X.690 §11.2.2). */
function encodeKeyUsage(usages: readonly KeyUsageName[]): Uint8Array {
  const bits = usages.map((usage) => KEY_USAGE_BITS[usage] ?? 0);
  const highest = Math.max(...bits);
  const octets = new Uint8Array(Math.floor(highest / 8) + 1);
  for (const bit of bits) octets[bit >> 3] = (octets[bit >> 3] ?? 0) | (0x80 >> (bit & 7));
  return tlv(Tag.bitString, Uint8Array.of(7 - (highest % 8)), octets);
}

/** Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE (omitted when false), extnValue OCTET STRING }. */
function extension(oid: string, isCritical: boolean, value: Uint8Array): Uint8Array {
  return tlv(Tag.sequence, encodeOid(oid), ...(isCritical ? [BOOLEAN_TRUE] : []), tlv(Tag.octetString, value));
}

/**
 * RFC 7093 §2 method 1 (as certificate.ts `keyIdentifierOf`): the leftmost 160
 * bits of the SHA-256 of the subjectPublicKey BIT STRING value, without its
 * unused-bits octet.
 */
export function keyIdentifierOfSpki(spki: Uint8Array): Uint8Array {
  let bitString: DerElement;
  try {
    const reader = DerReader.of(readSingle(spki, Tag.sequence, 'SubjectPublicKeyInfo').content);
    reader.expect(Tag.sequence);
    bitString = reader.expect(Tag.bitString);
    reader.expectEnd('SubjectPublicKeyInfo');
  } catch (cause) {
    throw new Error('template public key is not a DER SubjectPublicKeyInfo', { cause });
  }
  return new Uint8Array(createHash('sha256').update(bitString.content.subarray(1)).digest().subarray(0, 20));
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}
