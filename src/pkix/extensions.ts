/**
 * The certificate extensions the path validator processes (RFC 5280 §4.2),
 * read from DER because node's X509Certificate does not expose them:
 * basicConstraints, keyUsage, extKeyUsage, subjectAltName, nameConstraints,
 * key identifiers, and the list of critical extensions we do not know.
 */
import { DerError, DerReader, Tag, type DerElement } from './der-reader.js';
import { decodeBoolean, decodeOid, decodeSmallInteger } from './der-values.js';
import { decodeNameConstraints, decodeSubjectAltName, MAX_LIST, type SubjectAltNames } from './general-names.js';
import type { NameConstraints } from './name-constraints.js';

export const Oid = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  nameConstraints: '2.5.29.30',
  certificatePolicies: '2.5.29.32',
  authorityKeyIdentifier: '2.5.29.35',
  policyConstraints: '2.5.29.36',
  extKeyUsage: '2.5.29.37',
  inhibitAnyPolicy: '2.5.29.54',
  anyExtendedKeyUsage: '2.5.29.37.0',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
} as const;

/** keyUsage named bits (RFC 5280 §4.2.1.3); bit n is `1 << n` in CertificateExtensions.keyUsage. */
export const KeyUsageBit = {
  digitalSignature: 0,
  nonRepudiation: 1,
  keyEncipherment: 2,
  dataEncipherment: 3,
  keyAgreement: 4,
  keyCertSign: 5,
  cRLSign: 6,
  encipherOnly: 7,
  decipherOnly: 8,
} as const;

export interface BasicConstraints {
  readonly isCA: boolean;
  readonly pathLen: number | undefined;
}

export interface CertificateExtensions {
  readonly basicConstraints: BasicConstraints | undefined;
  /** Bit i set means named bit i of KeyUsageBit; undefined when the extension is absent. */
  readonly keyUsage: number | undefined;
  readonly extKeyUsage: readonly string[] | undefined;
  readonly subjectAltName: SubjectAltNames | undefined;
  readonly nameConstraints: NameConstraints | undefined;
  readonly subjectKeyId: Buffer | undefined;
  readonly authorityKeyId: Buffer | undefined;
  /** OIDs of critical extensions we do not understand (RFC 5280 §4.2: such a certificate MUST be rejected). */
  readonly unknownCritical: readonly string[];
}

/** Extensions we process, or (policies) accept without processing. */
const KNOWN_EXTENSIONS: ReadonlySet<string> = new Set([
  Oid.subjectKeyIdentifier,
  Oid.keyUsage,
  Oid.subjectAltName,
  Oid.basicConstraints,
  Oid.nameConstraints,
  Oid.certificatePolicies,
  Oid.authorityKeyIdentifier,
  Oid.policyConstraints,
  Oid.extKeyUsage,
  Oid.inhibitAnyPolicy,
]);

/** The one element of an extnValue that must be a SEQUENCE, opened. */
function sequenceIn(value: Buffer, what: string): DerReader<Buffer> {
  const outer = DerReader.of(value);
  const reader = DerReader.inside(outer.expect(Tag.sequence, what));
  outer.expectEnd(what);
  return reader;
}

function decodeBasicConstraints(value: Buffer): BasicConstraints {
  const reader = sequenceIn(value, 'basicConstraints');
  const ca = reader.optional(Tag.boolean, 'basicConstraints cA');
  const len = reader.optional(Tag.integer, 'basicConstraints pathLenConstraint');
  reader.expectEnd('basicConstraints');
  return {
    isCA: ca === undefined ? false : decodeBoolean(ca.content),
    pathLen: len === undefined ? undefined : decodeSmallInteger(len.content, 'pathLenConstraint'),
  };
}

function decodeKeyUsage(value: Buffer): number {
  const reader = DerReader.of(value);
  const bits = reader.expect(Tag.bitString, 'keyUsage');
  reader.expectEnd('keyUsage');
  const content = bits.content;
  const unused = content[0];
  if (unused === undefined) throw new DerError('keyUsage: empty BIT STRING');
  // X.690 §8.6.2.2: 0..7 unused bits, and none when there are no content octets.
  if (unused > 7 || (content.length === 1 && unused !== 0)) throw new DerError('keyUsage: bad unused-bits count');
  let mask = 0;
  // Only the first two octets carry named bits (0..8).
  for (let bit = 0; bit < Math.min((content.length - 1) * 8 - unused, 9); bit++) {
    const octet = content[1 + (bit >> 3)] ?? 0;
    if ((octet & (0x80 >> (bit & 7))) !== 0) mask |= 1 << bit;
  }
  return mask;
}

function decodeExtKeyUsage(value: Buffer): string[] {
  const reader = sequenceIn(value, 'extKeyUsage');
  const oids: string[] = [];
  while (!reader.isEmpty()) {
    if (oids.length >= MAX_LIST) throw new DerError('extKeyUsage: too many entries');
    oids.push(decodeOid(reader.expect(Tag.oid, 'extKeyUsage purpose').content));
  }
  // RFC 5280 §4.2.1.12: SIZE (1..MAX).
  if (oids.length === 0) throw new DerError('extKeyUsage: empty');
  return oids;
}

function decodeSubjectKeyId(value: Buffer): Buffer {
  const reader = DerReader.of(value);
  const id = reader.expect(Tag.octetString, 'subjectKeyIdentifier');
  reader.expectEnd('subjectKeyIdentifier');
  return id.content;
}

function decodeAuthorityKeyId(value: Buffer): Buffer | undefined {
  const reader = sequenceIn(value, 'authorityKeyIdentifier');
  const keyId = reader.optional(0x80, 'keyIdentifier');
  reader.optional(0xa1, 'authorityCertIssuer');
  reader.optional(0x82, 'authorityCertSerialNumber');
  reader.expectEnd('authorityKeyIdentifier');
  return keyId?.content;
}

type MutableExtensions = { -readonly [K in keyof CertificateExtensions]: CertificateExtensions[K] } & { unknownCritical: string[] };

function emptyExtensions(): MutableExtensions {
  return {
    basicConstraints: undefined,
    keyUsage: undefined,
    extKeyUsage: undefined,
    subjectAltName: undefined,
    nameConstraints: undefined,
    subjectKeyId: undefined,
    authorityKeyId: undefined,
    unknownCritical: [],
  };
}

function applyExtension(out: MutableExtensions, oid: string, isCritical: boolean, value: Buffer): void {
  switch (oid) {
    case Oid.basicConstraints:
      out.basicConstraints = decodeBasicConstraints(value);
      break;
    case Oid.keyUsage:
      out.keyUsage = decodeKeyUsage(value);
      break;
    case Oid.extKeyUsage:
      out.extKeyUsage = decodeExtKeyUsage(value);
      break;
    case Oid.subjectAltName:
      out.subjectAltName = decodeSubjectAltName(value);
      break;
    case Oid.nameConstraints:
      out.nameConstraints = decodeNameConstraints(value);
      break;
    case Oid.subjectKeyIdentifier:
      out.subjectKeyId = decodeSubjectKeyId(value);
      break;
    case Oid.authorityKeyIdentifier:
      out.authorityKeyId = decodeAuthorityKeyId(value);
      break;
    default:
      if (isCritical && !KNOWN_EXTENSIONS.has(oid)) out.unknownCritical.push(oid);
  }
}

/** `extensions [3] EXPLICIT Extensions` of a tbsCertificate, or the empty set when absent. */
export function decodeExtensions(element: DerElement<Buffer> | undefined): CertificateExtensions {
  const out = emptyExtensions();
  if (element === undefined) return out;
  const wrapper = DerReader.inside(element);
  const list = DerReader.inside(wrapper.expect(Tag.sequence, 'Extensions'));
  wrapper.expectEnd('extensions');
  const seen = new Set<string>();
  while (!list.isEmpty()) {
    if (seen.size >= MAX_LIST) throw new DerError('too many extensions');
    const ext = DerReader.inside(list.expect(Tag.sequence, 'Extension'));
    const oid = decodeOid(ext.expect(Tag.oid, 'extnID').content);
    const critical = ext.optional(Tag.boolean, 'critical');
    const isCritical = critical === undefined ? false : decodeBoolean(critical.content);
    const value = ext.expect(Tag.octetString, 'extnValue').content;
    ext.expectEnd('Extension');
    // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
    if (seen.has(oid)) throw new DerError(`duplicate extension ${oid}`);
    seen.add(oid);
    applyExtension(out, oid, isCritical, value);
  }
  // RFC 5280 §4.1: Extensions is SIZE (1..MAX).
  if (seen.size === 0) throw new DerError('empty Extensions');
  return out;
}
