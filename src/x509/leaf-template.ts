import { createHash, type KeyObject } from 'node:crypto';
import { signOneShot, verifyOneShot } from './one-shot.js';
import { AsnConvert } from '@peculiar/asn1-schema';
import type { SubjectAltName } from '../shared/records.js';
import { prepareCertificate, SIGNATURE, type CertificateIssuer, type CertificateTemplate, type KeyUsageName } from './certificate.js';
import {
  asciiBytes,
  contextTag,
  decodeOid,
  DerError,
  DerReader,
  encodeOid,
  readChildren,
  readSingle,
  Tag,
  tlv,
  type DerElement,
} from './der-codec.js';
import { checkDistinguishedName, ipToOctets, normalizeDnsName, normalizeIpAddress, octetsToIp, type NameAttribute } from './names.js';

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

/** RFC 5280 §4.2.1 extension and access-method OIDs, as DER TLVs. */
const OIDS = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  cRLDistributionPoints: '2.5.29.31',
  accessMethodOcsp: '1.3.6.1.5.5.7.48.1',
} as const;

const EKU_OIDS = { serverAuth: '1.3.6.1.5.5.7.3.1', clientAuth: '1.3.6.1.5.5.7.3.2', ocspSigning: '1.3.6.1.5.5.7.3.9' } as const;
const ATTRIBUTE_OIDS: Readonly<Record<NameAttribute['type'], string>> = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11' };
const ATTRIBUTE_OID_TLVS: Readonly<Record<NameAttribute['type'], Uint8Array>> = {
  CN: encodeOid(ATTRIBUTE_OIDS.CN),
  O: encodeOid(ATTRIBUTE_OIDS.O),
  OU: encodeOid(ATTRIBUTE_OIDS.OU),
};
/** RFC 5280 §4.2.1.3 bit positions; leaves only (keyCertSign and cRLSign make the template unsupported). */
const KEY_USAGE_BITS: Partial<Readonly<Record<KeyUsageName, number>>> = { digitalSignature: 0, keyEncipherment: 2 };

// RFC 5280 §4.1.2.1: v3 is INTEGER 2 under [0] EXPLICIT.
const VERSION_V3 = tlv(contextTag(0, true), tlv(Tag.integer, Uint8Array.of(2)));
const BOOLEAN_TRUE = tlv(Tag.boolean, Uint8Array.of(0xff));
const GENERAL_NAME_TAG = { dns: contextTag(2, false), uri: contextTag(6, false), ip: contextTag(7, false) } as const;

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

/** A TBSCertificate ready to sign, and what the check after signing compares with. */
export interface EncodedLeaf {
  readonly template: CertificateTemplate;
  readonly tbs: Uint8Array;
  /** RFC 7093 §2 method 1, as `keyIdentifierOf` computes it. */
  readonly subjectKeyId: Uint8Array;
  readonly shape: LeafShape;
}

export class LeafTemplate {
  readonly #issuer: CertificateIssuer;
  readonly #signingKey: KeyObject;
  readonly #issuerName: Uint8Array;
  readonly #signatureAlgorithm: Uint8Array;
  readonly #shapes = new Map<string, LeafShape>();

  /** `signingKey` is the issuer's private key as a KeyObject (CaMaterial.intermediate.keyObject). */
  constructor(issuer: CertificateIssuer, signingKey: KeyObject) {
    if (issuer.isSelf) throw new Error('the leaf template signs with an issuing certificate, not a self-signed one');
    const curve = signingKey.asymmetricKeyDetails?.namedCurve;
    const expected = issuer.curve === 'P-256' ? 'prime256v1' : 'secp384r1';
    if (signingKey.type !== 'private' || signingKey.asymmetricKeyType !== 'ec' || curve !== expected) {
      throw new Error(`the leaf template needs the issuer's ECDSA ${issuer.curve} private key`);
    }
    this.#issuer = issuer;
    this.#signingKey = signingKey;
    // RFC 5280 §4.1.2.4: the issuer field is the issuing certificate's subject, encoded the way the builder encodes it.
    this.#issuerName = new Uint8Array(AsnConvert.serialize(issuer.name));
    // RFC 5758 §3.2: ecdsa-with-SHA256/384 with the parameters field absent.
    this.#signatureAlgorithm = tlv(Tag.sequence, encodeOid(SIGNATURE[issuer.curve].oid));
  }

  /** The TBSCertificate of a supported template, or undefined (then use `prepareCertificate`). Throws a plain Error on a bad template. */
  encode(template: CertificateTemplate): EncodedLeaf | undefined {
    const shape = this.#shapeOf(template);
    if (shape === undefined) return undefined;
    const serial = serialBytes(template.serial);
    checkLeafTemplate(template, this.#issuer.notAfter);
    const notBefore = encodeTime(template.notBefore);
    const notAfter = encodeTime(template.notAfter);
    const sans = encodeSubjectAltNames(template.subjectAltNames ?? []);
    if (notBefore === undefined || notAfter === undefined || sans === undefined) return undefined;

    const subjectKeyId = keyIdentifierOfSpki(template.publicKey);
    const subject = encodeName(template);
    const extensions: Uint8Array[] = [shape.head, extension(OIDS.subjectKeyIdentifier, false, tlv(Tag.octetString, subjectKeyId)), shape.authorityKeyId];
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension is critical.
    if ((template.subjectAltNames ?? []).length > 0) extensions.push(extension(OIDS.subjectAltName, template.subject.length === 0, sans));
    extensions.push(shape.tail);
    const tbs = tlv(
      Tag.sequence,
      VERSION_V3,
      tlv(Tag.integer, serial),
      this.#signatureAlgorithm,
      this.#issuerName,
      tlv(Tag.sequence, notBefore, notAfter),
      subject,
      template.publicKey,
      tlv(contextTag(3, true), tlv(Tag.sequence, ...extensions)),
    );
    if (!shape.isProven) this.#prove(template, tbs, shape);
    return { template, tbs, subjectKeyId, shape };
  }

  /** Signs the TBS on the libuv pool (node:crypto), returning the DER certificate (RFC 5280 §4.1). */
  async sign(encoded: EncodedLeaf): Promise<Uint8Array> {
    const { nodeHash } = SIGNATURE[this.#issuer.curve];
    // dsaEncoding 'der' gives the Ecdsa-Sig-Value X.509 wants (RFC 3279 §2.2.3).
    const signature = await signOneShot(nodeHash, encoded.tbs, { key: this.#signingKey, dsaEncoding: 'der' });
    return tlv(Tag.sequence, encoded.tbs, this.#signatureAlgorithm, tlv(Tag.bitString, Uint8Array.of(0), signature));
  }

  /**
   * The check after signing (STYLE §6, after Boulder and SPIRE), cut to what
   * this path can get wrong. The issuer-wide DER was compared with the
   * reference builder when its shape was first used, so here it suffices to
   * (1) verify the signature over the TBS as it sits in the output, with the
   * issuer's public key: this catches a faulty signature or the wrong key, the
   * one thing no re-encoding shows; and (2) walk the whole certificate as DER,
   * every length and every element, and compare each spliced field with the
   * template (serial, validity, subject, SPKI, SKI, SANs) and each fixed
   * extension with its cached bytes: a splice or length bug breaks the walk
   * or a comparison. This replaces a full re-parse with the schemas (~2 ms)
   * by one ECDSA verification and a byte walk. A mismatch is a keysmith bug:
   * a plain Error, and nothing is handed out.
   */
  async check(der: Uint8Array, encoded: EncodedLeaf): Promise<void> {
    const { template } = encoded;
    const mismatch = (field: string): never => {
      throw new Error(`issued certificate ${template.serial} does not match its template: ${field}`);
    };
    let walked: WalkedCertificate;
    try {
      walked = walkCertificate(der);
    } catch (cause) {
      throw new Error(`issued certificate ${template.serial} is not well-formed DER`, { cause });
    }
    if (!equalBytes(walked.signatureAlgorithm, this.#signatureAlgorithm) || !equalBytes(walked.tbsSignatureAlgorithm, this.#signatureAlgorithm)) {
      mismatch('signature algorithm');
    }
    const { nodeHash } = SIGNATURE[this.#issuer.curve];
    const isSigned = await verifyOneShot(nodeHash, walked.tbs, { key: this.#issuer.publicKeyObject, dsaEncoding: 'der' }, walked.signature);
    if (!isSigned) mismatch('signature does not verify with the issuer key');
    if (!equalBytes(walked.version, VERSION_V3)) mismatch('version');
    if (!equalBytes(walked.serial, serialBytes(template.serial))) mismatch('serial');
    if (!equalBytes(walked.issuer, this.#issuerName)) mismatch('issuer name');
    if (walked.notBefore !== template.notBefore || walked.notAfter !== template.notAfter) mismatch('validity');
    if (!sameSubject(walked.subject, template.subject)) mismatch('subject');
    if (!equalBytes(walked.publicKey, template.publicKey)) mismatch('public key');

    const { shape } = encoded;
    const sans = template.subjectAltNames ?? [];
    const expectedOrder = shape.order.flatMap((oid) => (oid === OIDS.subjectAltName && sans.length === 0 ? [] : [oid]));
    const seen = walked.extensions.map((e) => e.oid);
    if (seen.length !== expectedOrder.length || seen.some((oid, i) => oid !== expectedOrder[i])) mismatch('extension list');
    for (const ext of walked.extensions) {
      const fixed = shape.fixed.get(ext.oid);
      if (fixed !== undefined) {
        if (!equalBytes(ext.bytes, fixed)) mismatch(`extension ${ext.oid}`);
      } else if (ext.oid === OIDS.subjectKeyIdentifier) {
        if (ext.isCritical || !equalBytes(ext.value, tlv(Tag.octetString, encoded.subjectKeyId))) mismatch('subjectKeyIdentifier');
      } else if (ext.oid === OIDS.subjectAltName) {
        if (ext.isCritical !== (template.subject.length === 0) || !sameSans(decodeSans(ext.value), sans)) mismatch('subjectAltName');
      } else {
        mismatch(`unexpected extension ${ext.oid}`);
      }
    }
  }

  /** Compares the first certificate of a shape with the reference builder's TBS; any difference is a keysmith bug. */
  #prove(template: CertificateTemplate, tbs: Uint8Array, shape: LeafShape): void {
    const reference = prepareCertificate(template, this.#issuer).take();
    if (!equalBytes(reference, tbs)) throw new Error(`leaf template for ${template.serial}: DER differs from the certificate builder's`);
    shape.isProven = true;
  }

  #shapeOf(t: CertificateTemplate): LeafShape | undefined {
    if (t.basicConstraints.ca || t.basicConstraints.pathLength !== undefined) return undefined;
    // The builder refuses name constraints on a leaf; falling back lets it say so.
    if (t.permittedUriHosts !== undefined || t.ocspNoCheck === true) return undefined;
    const eku = t.extendedKeyUsage ?? [];
    // Usage names and URLs cannot contain '\n', so the key is unambiguous.
    const key = `${t.keyUsage.join()}\n${eku.join()}\n${t.ocspUrl ?? ''}\n${t.crlUrl ?? ''}`;
    const cached = this.#shapes.get(key);
    if (cached !== undefined) return cached;
    if (t.keyUsage.length === 0 || t.keyUsage.some((usage) => KEY_USAGE_BITS[usage] === undefined)) return undefined;
    for (const url of [t.ocspUrl, t.crlUrl]) if (url !== undefined && (!/^https?:\/\/[^\n]*$/.test(url) || asciiBytes(url) === undefined)) return undefined;

    // The order is the builder's (certificate.ts encodeExtensions), so the DER comes out identical.
    const fixed = new Map<string, Uint8Array>();
    const order: string[] = [];
    const add = (oid: string, value: Uint8Array | undefined, isCritical: boolean): void => {
      order.push(oid);
      if (value !== undefined) fixed.set(oid, extension(oid, isCritical, value));
    };
    // RFC 5280 §4.2.1.9: cA DEFAULT FALSE is omitted in DER; critical as SPIFFE X509-SVID §4.1 asks.
    add(OIDS.basicConstraints, tlv(Tag.sequence), true);
    add(OIDS.keyUsage, encodeKeyUsage(t.keyUsage), true);
    if (eku.length > 0) add(OIDS.extKeyUsage, tlv(Tag.sequence, ...eku.map((name) => encodeOid(EKU_OIDS[name]))), false);
    add(OIDS.subjectKeyIdentifier, undefined, false);
    // RFC 5280 §4.2.1.1: AuthorityKeyIdentifier { keyIdentifier [0] IMPLICIT OCTET STRING }.
    add(OIDS.authorityKeyIdentifier, tlv(Tag.sequence, tlv(contextTag(0, false), this.#issuer.keyIdentifier)), false);
    add(OIDS.subjectAltName, undefined, false);
    if (t.ocspUrl !== undefined) {
      const url = asciiBytes(t.ocspUrl) ?? new Uint8Array(0);
      // RFC 5280 §4.2.2.1: AuthorityInfoAccessSyntax with one id-ad-ocsp AccessDescription.
      add(OIDS.authorityInfoAccess, tlv(Tag.sequence, tlv(Tag.sequence, encodeOid(OIDS.accessMethodOcsp), tlv(GENERAL_NAME_TAG.uri, url))), false);
    }
    if (t.crlUrl !== undefined) {
      const url = asciiBytes(t.crlUrl) ?? new Uint8Array(0);
      // RFC 5280 §4.2.1.13: DistributionPoint { distributionPoint [0] { fullName [0] GeneralNames } }.
      const point = tlv(Tag.sequence, tlv(contextTag(0, true), tlv(contextTag(0, true), tlv(GENERAL_NAME_TAG.uri, url))));
      add(OIDS.cRLDistributionPoints, tlv(Tag.sequence, point), false);
    }
    const pick = (...oids: string[]): Uint8Array => concat(oids.flatMap((oid) => fixed.get(oid) ?? []));
    const shape: LeafShape = {
      head: pick(OIDS.basicConstraints, OIDS.keyUsage, OIDS.extKeyUsage),
      authorityKeyId: pick(OIDS.authorityKeyIdentifier),
      tail: pick(OIDS.authorityInfoAccess, OIDS.cRLDistributionPoints),
      fixed,
      order,
      isProven: false,
    };
    this.#shapes.set(key, shape);
    return shape;
  }
}

// ---------------------------------------------------------------- encoding

/** RFC 5280 §4.1.2.2 checks, as the builder makes them: lowercase hex, positive, minimal, at most 20 octets. */
function serialBytes(serial: string): Uint8Array {
  if (!/^([0-9a-f]{2}){1,20}$/.test(serial) || serial.startsWith('00') || parseInt(serial.slice(0, 2), 16) > 0x7f) {
    throw new Error(`certificate template ${serial}: serial must be lowercase hex of a positive, minimally encoded INTEGER of at most 20 octets`);
  }
  return Buffer.from(serial, 'hex');
}

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
    if (san.type === 'dns' && normalizeDnsName(san.value, { allowWildcard: true }) !== san.value) fail(`DNS name ${san.value} is not normalized`);
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
  return year < 2050 ? tlv(Tag.utcTime, Buffer.from(`${two(year % 100)}${rest}`, 'latin1')) : tlv(Tag.generalizedTime, Buffer.from(`${year}${rest}`, 'latin1'));
}

/** RFC 5280 §4.1.2.6: one UTF8String attribute per RDN, in the template's order. */
function encodeName(t: CertificateTemplate): Uint8Array {
  return tlv(
    Tag.sequence,
    ...t.subject.map((attribute) => tlv(Tag.set, tlv(Tag.sequence, ATTRIBUTE_OID_TLVS[attribute.type], tlv(Tag.utf8String, Buffer.from(attribute.value, 'utf8'))))),
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
    const reader = new DerReader(readSingle(spki, Tag.sequence, 'SubjectPublicKeyInfo').value);
    reader.read(Tag.sequence);
    bitString = reader.read(Tag.bitString);
    reader.end('SubjectPublicKeyInfo');
  } catch (cause) {
    throw new Error('template public key is not a DER SubjectPublicKeyInfo', { cause });
  }
  return new Uint8Array(createHash('sha256').update(bitString.value.subarray(1)).digest().subarray(0, 20));
}

// ---------------------------------------------------------------- the walk after signing

interface WalkedExtension {
  readonly oid: string;
  readonly isCritical: boolean;
  /** extnValue contents (the DER inside the OCTET STRING). */
  readonly value: Uint8Array;
  readonly bytes: Uint8Array;
}

interface WalkedCertificate {
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: Uint8Array;
  readonly signature: Uint8Array;
  readonly version: Uint8Array;
  readonly serial: Uint8Array;
  readonly tbsSignatureAlgorithm: Uint8Array;
  readonly issuer: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subject: readonly { readonly oid: string; readonly tag: number; readonly value: Uint8Array }[];
  readonly publicKey: Uint8Array;
  readonly extensions: readonly WalkedExtension[];
}

/** Reads every element of a v3 certificate (RFC 5280 §4.1); throws DerError on any structural fault. */
function walkCertificate(der: Uint8Array): WalkedCertificate {
  const outer = new DerReader(readSingle(der, Tag.sequence, 'Certificate').value);
  const tbs = outer.read(Tag.sequence);
  const signatureAlgorithm = outer.read(Tag.sequence);
  const signatureBits = outer.read(Tag.bitString);
  outer.end('Certificate');
  if (signatureBits.value[0] !== 0) throw new DerError('signature BIT STRING has unused bits');

  const fields = new DerReader(tbs.value);
  const version = fields.read(contextTag(0, true));
  const serial = fields.read(Tag.integer);
  const tbsSignatureAlgorithm = fields.read(Tag.sequence);
  const issuer = fields.read(Tag.sequence);
  const validity = new DerReader(fields.read(Tag.sequence).value);
  const notBefore = decodeTime(validity.read());
  const notAfter = decodeTime(validity.read());
  validity.end('Validity');
  const subject = readChildren(fields.read(Tag.sequence)).map((rdn) => {
    if (rdn.tag !== Tag.set) throw new DerError('RDN is not a SET');
    const attribute = readSingle(rdn.value, Tag.sequence, 'RDN');
    const parts = new DerReader(attribute.value);
    const oid = decodeOid(parts.read(Tag.oid).value);
    const value = parts.read();
    parts.end('AttributeTypeAndValue');
    return { oid, tag: value.tag, value: value.value };
  });
  const publicKey = fields.read(Tag.sequence);
  const extensionsWrapper = fields.read(contextTag(3, true));
  fields.end('TBSCertificate');
  const extensions = readChildren(readSingle(extensionsWrapper.value, Tag.sequence, 'Extensions')).map((element): WalkedExtension => {
    if (element.tag !== Tag.sequence) throw new DerError('Extension is not a SEQUENCE');
    const parts = new DerReader(element.value);
    const oid = decodeOid(parts.read(Tag.oid).value);
    const critical = parts.readOptional(Tag.boolean);
    // DER: a DEFAULT FALSE field is absent rather than FALSE (X.690 §11.5).
    if (critical !== undefined && (critical.value.byteLength !== 1 || critical.value[0] !== 0xff)) throw new DerError('critical is not DER TRUE');
    const value = parts.read(Tag.octetString);
    parts.end('Extension');
    return { oid, isCritical: critical !== undefined, value: value.value, bytes: element.bytes };
  });
  return {
    tbs: tbs.bytes,
    signatureAlgorithm: signatureAlgorithm.bytes,
    signature: signatureBits.value.subarray(1),
    version: version.bytes,
    serial: serial.value,
    tbsSignatureAlgorithm: tbsSignatureAlgorithm.bytes,
    issuer: issuer.bytes,
    notBefore,
    notAfter,
    subject,
    publicKey: publicKey.bytes,
    extensions,
  };
}

/** UTCTime YYMMDDHHMMSSZ (YY >= 50 is 19YY) or GeneralizedTime YYYYMMDDHHMMSSZ (RFC 5280 §4.1.2.5). */
function decodeTime(element: DerElement): number {
  const text = Buffer.from(element.value).toString('latin1');
  const match =
    element.tag === Tag.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : element.tag === Tag.generalizedTime
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null;
  if (match === null) throw new DerError('not a UTCTime or GeneralizedTime in RFC 5280 form');
  const [, y = '', mo = '', d = '', h = '', mi = '', s = ''] = match;
  const year = element.tag === Tag.utcTime ? (Number(y) >= 50 ? 1900 : 2000) + Number(y) : Number(y);
  return Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
}

function decodeSans(value: Uint8Array): SubjectAltName[] {
  return readChildren(readSingle(value, Tag.sequence, 'GeneralNames')).map((name): SubjectAltName => {
    switch (name.tag) {
      case GENERAL_NAME_TAG.dns:
        return { type: 'dns', value: Buffer.from(name.value).toString('latin1') };
      case GENERAL_NAME_TAG.uri:
        return { type: 'uri', value: Buffer.from(name.value).toString('latin1') };
      case GENERAL_NAME_TAG.ip:
        return { type: 'ip', value: octetsToIp(name.value) };
      default:
        throw new DerError(`unexpected GeneralName tag 0x${name.tag.toString(16)}`);
    }
  });
}

function sameSubject(walked: WalkedCertificate['subject'], subject: readonly NameAttribute[]): boolean {
  return (
    walked.length === subject.length &&
    walked.every((attribute, i) => {
      const expected = subject[i];
      return (
        expected !== undefined &&
        attribute.oid === ATTRIBUTE_OIDS[expected.type] &&
        attribute.tag === Tag.utf8String &&
        Buffer.from(attribute.value).toString('utf8') === expected.value
      );
    })
  );
}

function sameSans(walked: readonly SubjectAltName[], expected: readonly SubjectAltName[]): boolean {
  return walked.length === expected.length && walked.every((san, i) => san.type === expected[i]?.type && san.value === expected[i]?.value);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}
