/**
 * A bounded DER reader and the X.509 fields the chain verifier needs
 * (RFC 5280 §4.1, §4.2), which node's X509Certificate does not expose:
 * pathLenConstraint, keyUsage bits, critical flags, name constraints.
 *
 * Pure functions, no crypto or clock. Every failure is a DerError, a plain
 * Error on purpose: a malformed certificate is bad_certificate, not
 * decode_error, and the verifier makes that translation in one place.
 */

export class DerError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'DerError';
  }
}

/** Universal and context tags used by X.509, as full identifier octets. */
export const DerTag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** One TLV: `bytes` is the whole element, `content` its value. Both share the input's memory. */
export interface DerElement {
  readonly tag: number;
  readonly bytes: Buffer;
  readonly content: Buffer;
}

/** Longest length field accepted: 4 octets is already 4 GiB, far past any certificate. */
const MAX_LENGTH_OCTETS = 4;

/** A cursor over one DER value; every read is bounds-checked against `end`. */
export class DerReader {
  private offset: number;

  private constructor(
    private readonly bytes: Buffer,
    start: number,
    private readonly end: number,
  ) {
    this.offset = start;
  }

  static of(bytes: Uint8Array): DerReader {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return new DerReader(buf, 0, buf.length);
  }

  /** A reader over the content of a constructed element. */
  static inside(element: DerElement): DerReader {
    if ((element.tag & 0x20) === 0) throw new DerError(`tag 0x${hexByte(element.tag)} is not constructed`);
    return new DerReader(element.content, 0, element.content.length);
  }

  isEmpty(): boolean {
    return this.offset >= this.end;
  }

  peekTag(): number | undefined {
    return this.offset < this.end ? this.bytes[this.offset] : undefined;
  }

  read(what: string): DerElement {
    const start = this.offset;
    if (start >= this.end) throw new DerError(`${what}: unexpected end of data`);
    const tag = this.bytes[start]!;
    // X.509 uses only low tag numbers; the multi-octet form is refused outright.
    if ((tag & 0x1f) === 0x1f) throw new DerError(`${what}: high tag numbers are not supported`);
    let pos = start + 1;
    if (pos >= this.end) throw new DerError(`${what}: missing length`);
    const first = this.bytes[pos++]!;
    let length: number;
    if (first < 0x80) {
      length = first;
    } else {
      const count = first & 0x7f;
      // X.690 §10.1: DER has no indefinite form and uses the fewest length octets.
      if (count === 0) throw new DerError(`${what}: indefinite length`);
      if (count > MAX_LENGTH_OCTETS) throw new DerError(`${what}: length field too long`);
      if (this.end - pos < count) throw new DerError(`${what}: truncated length`);
      if (this.bytes[pos] === 0) throw new DerError(`${what}: non-minimal length`);
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + this.bytes[pos++]!;
      if (length < 0x80) throw new DerError(`${what}: non-minimal length`);
    }
    if (this.end - pos < length) throw new DerError(`${what}: length ${length} exceeds the ${this.end - pos} bytes left`);
    this.offset = pos + length;
    return { tag, bytes: this.bytes.subarray(start, pos + length), content: this.bytes.subarray(pos, pos + length) };
  }

  expect(tag: number, what: string): DerElement {
    const element = this.read(what);
    if (element.tag !== tag) throw new DerError(`${what}: expected tag 0x${hexByte(tag)}, got 0x${hexByte(element.tag)}`);
    return element;
  }

  /** Reads the next element only if it carries `tag`. */
  optional(tag: number, what: string): DerElement | undefined {
    return this.peekTag() === tag ? this.expect(tag, what) : undefined;
  }

  expectEnd(what: string): void {
    if (this.offset !== this.end) throw new DerError(`${what}: ${this.end - this.offset} trailing bytes`);
  }
}

function hexByte(n: number): string {
  return n.toString(16).padStart(2, '0');
}

// ---------------------------------------------------------------------------
// Primitive values

/** Dotted form of an OBJECT IDENTIFIER (X.690 §8.19). */
export function decodeOid(content: Buffer): string {
  if (content.length === 0) throw new DerError('empty OID');
  if (content.length > 64) throw new DerError('OID too long');
  const arcs: number[] = [];
  let value = 0;
  let digits = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i]!;
    if (digits === 0 && b === 0x80) throw new DerError('non-minimal OID arc');
    // Seven 7-bit groups stay below 2^49, exact in a double.
    if (++digits > 7) throw new DerError('OID arc too large');
    value = value * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0;
      digits = 0;
    }
  }
  if (digits !== 0) throw new DerError('truncated OID');
  const head = arcs[0]!;
  const first = head < 40 ? 0 : head < 80 ? 1 : 2;
  return [first, head - first * 40, ...arcs.slice(1)].join('.');
}

export function decodeBoolean(content: Buffer): boolean {
  // X.690 §11.1: DER TRUE is 0xff.
  if (content.length !== 1 || (content[0] !== 0x00 && content[0] !== 0xff)) throw new DerError('invalid BOOLEAN');
  return content[0] === 0xff;
}

/** A small non-negative INTEGER (version, pathLenConstraint). */
export function decodeSmallInteger(content: Buffer, what: string): number {
  if (content.length === 0) throw new DerError(`${what}: empty INTEGER`);
  if (content.length > 1 && content[0] === 0 && (content[1]! & 0x80) === 0) throw new DerError(`${what}: non-minimal INTEGER`);
  if ((content[0]! & 0x80) !== 0) throw new DerError(`${what}: negative INTEGER`);
  if (content.length > 5 || (content.length === 5 && content[0] !== 0)) throw new DerError(`${what}: INTEGER too large`);
  let value = 0;
  for (const b of content) value = value * 256 + b;
  return value;
}

/** UTCTime or GeneralizedTime as RFC 5280 §4.1.2.5 restricts them: whole seconds, "Z". */
export function decodeTime(element: DerElement, what: string): number {
  const text = element.content.toString('latin1');
  let year: number;
  let rest: string;
  if (element.tag === DerTag.utcTime) {
    if (!/^\d{12}Z$/.test(text)) throw new DerError(`${what}: malformed UTCTime`);
    const yy = Number(text.slice(0, 2));
    // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, otherwise 20YY.
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = text.slice(2);
  } else if (element.tag === DerTag.generalizedTime) {
    if (!/^\d{14}Z$/.test(text)) throw new DerError(`${what}: malformed GeneralizedTime`);
    year = Number(text.slice(0, 4));
    rest = text.slice(4);
  } else {
    throw new DerError(`${what}: not a time`);
  }
  const month = Number(rest.slice(0, 2));
  const day = Number(rest.slice(2, 4));
  const hour = Number(rest.slice(4, 6));
  const minute = Number(rest.slice(6, 8));
  const second = Number(rest.slice(8, 10));
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  // Date.UTC rolls 31 February into March; a round trip catches impossible dates.
  if (
    month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59 ||
    check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day
  ) {
    throw new DerError(`${what}: impossible date ${text}`);
  }
  return ms;
}

function decodeIa5(content: Buffer, what: string): string {
  for (const b of content) if (b > 0x7e || b < 0x20) throw new DerError(`${what}: not printable IA5String`);
  return content.toString('latin1');
}

// ---------------------------------------------------------------------------
// Names

/** GeneralName (RFC 5280 §4.2.1.6); forms we do not process keep only their tag. */
export type GeneralName =
  | { readonly kind: 'dNSName'; readonly value: string }
  | { readonly kind: 'uniformResourceIdentifier'; readonly value: string }
  /** 4 or 16 octets in a SAN; 8 or 32 (address then mask) in name constraints. */
  | { readonly kind: 'iPAddress'; readonly value: Buffer }
  | { readonly kind: 'directoryName'; readonly value: DistinguishedName }
  | { readonly kind: 'other'; readonly tag: number };

/** A Name as DER plus its RDNs (each RDN's DER), for prefix checks. */
export interface DistinguishedName {
  readonly der: Buffer;
  readonly rdns: readonly Buffer[];
}

const GeneralNameTag = {
  otherName: 0xa0,
  rfc822Name: 0x81,
  dNSName: 0x82,
  x400Address: 0xa3,
  directoryName: 0xa4,
  ediPartyName: 0xa5,
  uniformResourceIdentifier: 0x86,
  iPAddress: 0x87,
  registeredID: 0x88,
} as const;

/** Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value ANY } (RFC 5280 §4.1.2.4). */
export function decodeName(element: DerElement, what: string): DistinguishedName {
  if (element.tag !== DerTag.sequence) throw new DerError(`${what}: Name is not a SEQUENCE`);
  const rdns: Buffer[] = [];
  const reader = DerReader.inside(element);
  while (!reader.isEmpty()) {
    const rdn = reader.expect(DerTag.set, `${what} RDN`);
    const attributes = DerReader.inside(rdn);
    if (attributes.isEmpty()) throw new DerError(`${what}: empty RDN`);
    while (!attributes.isEmpty()) {
      const attribute = DerReader.inside(attributes.expect(DerTag.sequence, `${what} attribute`));
      decodeOid(attribute.expect(DerTag.oid, `${what} attribute type`).content);
      attribute.read(`${what} attribute value`);
      attribute.expectEnd(`${what} attribute`);
    }
    rdns.push(rdn.bytes);
  }
  return { der: element.bytes, rdns };
}

function decodeGeneralName(element: DerElement, context: 'san' | 'constraint'): GeneralName {
  switch (element.tag) {
    case GeneralNameTag.dNSName:
      return { kind: 'dNSName', value: decodeIa5(element.content, 'dNSName') };
    case GeneralNameTag.uniformResourceIdentifier:
      return { kind: 'uniformResourceIdentifier', value: decodeIa5(element.content, 'uniformResourceIdentifier') };
    case GeneralNameTag.iPAddress: {
      const sizes = context === 'san' ? [4, 16] : [8, 32];
      if (!sizes.includes(element.content.length)) throw new DerError(`iPAddress of ${element.content.length} octets`);
      return { kind: 'iPAddress', value: element.content };
    }
    case GeneralNameTag.directoryName: {
      // [4] is EXPLICIT because Name is a CHOICE.
      const inner = DerReader.inside(element);
      const name = decodeName(inner.read('directoryName'), 'directoryName');
      inner.expectEnd('directoryName');
      return { kind: 'directoryName', value: name };
    }
    case GeneralNameTag.otherName:
    case GeneralNameTag.rfc822Name:
    case GeneralNameTag.x400Address:
    case GeneralNameTag.ediPartyName:
    case GeneralNameTag.registeredID:
      return { kind: 'other', tag: element.tag };
    default:
      throw new DerError(`unknown GeneralName tag 0x${hexByte(element.tag)}`);
  }
}

// ---------------------------------------------------------------------------
// Extensions

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

export interface SubjectAltNames {
  readonly dnsNames: readonly string[];
  readonly uris: readonly string[];
  readonly ipAddresses: readonly Buffer[];
  readonly directoryNames: readonly DistinguishedName[];
  /** Tags of name forms present that we do not interpret (rfc822Name, otherName, ...). */
  readonly otherTags: readonly number[];
}

export interface NameConstraints {
  readonly permitted: readonly GeneralName[];
  readonly excluded: readonly GeneralName[];
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

/** Largest list we accept inside one extension; keeps hostile certificates from costing much. */
const MAX_LIST = 256;

function decodeBasicConstraints(value: Buffer): BasicConstraints {
  const outer = DerReader.of(value);
  const reader = DerReader.inside(outer.expect(DerTag.sequence, 'basicConstraints'));
  outer.expectEnd('basicConstraints');
  const ca = reader.optional(DerTag.boolean, 'basicConstraints cA');
  const len = reader.optional(DerTag.integer, 'basicConstraints pathLenConstraint');
  reader.expectEnd('basicConstraints');
  return {
    isCA: ca === undefined ? false : decodeBoolean(ca.content),
    pathLen: len === undefined ? undefined : decodeSmallInteger(len.content, 'pathLenConstraint'),
  };
}

function decodeKeyUsage(value: Buffer): number {
  const reader = DerReader.of(value);
  const bits = reader.expect(DerTag.bitString, 'keyUsage');
  reader.expectEnd('keyUsage');
  const content = bits.content;
  if (content.length === 0) throw new DerError('keyUsage: empty BIT STRING');
  const unused = content[0]!;
  if (unused > 7 || (content.length === 1 && unused !== 0)) throw new DerError('keyUsage: bad unused-bits count');
  let mask = 0;
  // Only the first two octets carry named bits (0..8).
  for (let bit = 0; bit < Math.min((content.length - 1) * 8 - unused, 9); bit++) {
    const octet = content[1 + (bit >> 3)]!;
    if ((octet & (0x80 >> (bit & 7))) !== 0) mask |= 1 << bit;
  }
  return mask;
}

function decodeExtKeyUsage(value: Buffer): string[] {
  const outer = DerReader.of(value);
  const reader = DerReader.inside(outer.expect(DerTag.sequence, 'extKeyUsage'));
  outer.expectEnd('extKeyUsage');
  const oids: string[] = [];
  while (!reader.isEmpty()) {
    if (oids.length >= MAX_LIST) throw new DerError('extKeyUsage: too many entries');
    oids.push(decodeOid(reader.expect(DerTag.oid, 'extKeyUsage purpose').content));
  }
  // RFC 5280 §4.2.1.12: SIZE (1..MAX).
  if (oids.length === 0) throw new DerError('extKeyUsage: empty');
  return oids;
}

function decodeSubjectAltName(value: Buffer): SubjectAltNames {
  const outer = DerReader.of(value);
  const reader = DerReader.inside(outer.expect(DerTag.sequence, 'subjectAltName'));
  outer.expectEnd('subjectAltName');
  const dnsNames: string[] = [];
  const uris: string[] = [];
  const ipAddresses: Buffer[] = [];
  const directoryNames: DistinguishedName[] = [];
  const otherTags: number[] = [];
  let count = 0;
  while (!reader.isEmpty()) {
    if (++count > MAX_LIST) throw new DerError('subjectAltName: too many names');
    const name = decodeGeneralName(reader.read('subjectAltName entry'), 'san');
    switch (name.kind) {
      case 'dNSName':
        dnsNames.push(name.value);
        break;
      case 'uniformResourceIdentifier':
        uris.push(name.value);
        break;
      case 'iPAddress':
        ipAddresses.push(name.value);
        break;
      case 'directoryName':
        directoryNames.push(name.value);
        break;
      case 'other':
        if (!otherTags.includes(name.tag)) otherTags.push(name.tag);
        break;
      default: {
        const never: never = name;
        throw new DerError(`unhandled GeneralName ${String(never)}`);
      }
    }
  }
  return { dnsNames, uris, ipAddresses, directoryNames, otherTags };
}

function decodeGeneralSubtrees(element: DerElement, what: string): GeneralName[] {
  const reader = DerReader.inside(element);
  const names: GeneralName[] = [];
  while (!reader.isEmpty()) {
    if (names.length >= MAX_LIST) throw new DerError(`${what}: too many subtrees`);
    const subtree = DerReader.inside(reader.expect(DerTag.sequence, `${what} GeneralSubtree`));
    names.push(decodeGeneralName(subtree.read(`${what} base`), 'constraint'));
    // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent.
    const minimum = subtree.optional(0x80, `${what} minimum`);
    if (minimum !== undefined && decodeSmallInteger(minimum.content, 'minimum') !== 0) throw new DerError(`${what}: minimum is not 0`);
    if (subtree.optional(0x81, `${what} maximum`) !== undefined) throw new DerError(`${what}: maximum present`);
    subtree.expectEnd(`${what} GeneralSubtree`);
  }
  return names;
}

function decodeNameConstraints(value: Buffer): NameConstraints {
  const outer = DerReader.of(value);
  const reader = DerReader.inside(outer.expect(DerTag.sequence, 'nameConstraints'));
  outer.expectEnd('nameConstraints');
  const permitted = reader.optional(0xa0, 'permittedSubtrees');
  const excluded = reader.optional(0xa1, 'excludedSubtrees');
  reader.expectEnd('nameConstraints');
  return {
    permitted: permitted === undefined ? [] : decodeGeneralSubtrees(permitted, 'permittedSubtrees'),
    excluded: excluded === undefined ? [] : decodeGeneralSubtrees(excluded, 'excludedSubtrees'),
  };
}

function decodeSubjectKeyId(value: Buffer): Buffer {
  const reader = DerReader.of(value);
  const id = reader.expect(DerTag.octetString, 'subjectKeyIdentifier');
  reader.expectEnd('subjectKeyIdentifier');
  return id.content;
}

function decodeAuthorityKeyId(value: Buffer): Buffer | undefined {
  const outer = DerReader.of(value);
  const reader = DerReader.inside(outer.expect(DerTag.sequence, 'authorityKeyIdentifier'));
  outer.expectEnd('authorityKeyIdentifier');
  const keyId = reader.optional(0x80, 'keyIdentifier');
  reader.optional(0xa1, 'authorityCertIssuer');
  reader.optional(0x82, 'authorityCertSerialNumber');
  reader.expectEnd('authorityKeyIdentifier');
  return keyId?.content;
}

interface MutableExtensions {
  basicConstraints: BasicConstraints | undefined;
  keyUsage: number | undefined;
  extKeyUsage: readonly string[] | undefined;
  subjectAltName: SubjectAltNames | undefined;
  nameConstraints: NameConstraints | undefined;
  subjectKeyId: Buffer | undefined;
  authorityKeyId: Buffer | undefined;
  unknownCritical: string[];
}

function decodeExtensions(element: DerElement | undefined): CertificateExtensions {
  const out: MutableExtensions = {
    basicConstraints: undefined,
    keyUsage: undefined,
    extKeyUsage: undefined,
    subjectAltName: undefined,
    nameConstraints: undefined,
    subjectKeyId: undefined,
    authorityKeyId: undefined,
    unknownCritical: [],
  };
  if (element === undefined) return out;
  // extensions [3] EXPLICIT Extensions
  const wrapper = DerReader.inside(element);
  const list = DerReader.inside(wrapper.expect(DerTag.sequence, 'Extensions'));
  wrapper.expectEnd('extensions');
  const seen = new Set<string>();
  while (!list.isEmpty()) {
    if (seen.size >= MAX_LIST) throw new DerError('too many extensions');
    const ext = DerReader.inside(list.expect(DerTag.sequence, 'Extension'));
    const oid = decodeOid(ext.expect(DerTag.oid, 'extnID').content);
    const critical = ext.optional(DerTag.boolean, 'critical');
    const isCritical = critical === undefined ? false : decodeBoolean(critical.content);
    const value = ext.expect(DerTag.octetString, 'extnValue').content;
    ext.expectEnd('Extension');
    // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension.
    if (seen.has(oid)) throw new DerError(`duplicate extension ${oid}`);
    seen.add(oid);
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
  if (seen.size === 0) throw new DerError('empty Extensions');
  return out;
}

// ---------------------------------------------------------------------------
// Certificate

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

function decodePublicKeyInfo(element: DerElement): PublicKeyInfo {
  const spki = DerReader.inside(element);
  const algorithmIdentifier = DerReader.inside(spki.expect(DerTag.sequence, 'SPKI algorithm'));
  const algorithm = decodeOid(algorithmIdentifier.expect(DerTag.oid, 'SPKI algorithm').content);
  const parameters = algorithmIdentifier.isEmpty() ? undefined : algorithmIdentifier.read('SPKI parameters');
  algorithmIdentifier.expectEnd('SPKI algorithm');
  const key = spki.expect(DerTag.bitString, 'subjectPublicKey').content;
  spki.expectEnd('subjectPublicKeyInfo');
  if (key.length < 1 || key[0] !== 0) throw new DerError('subjectPublicKey: bad BIT STRING');
  let namedCurve: string | undefined;
  let rsaModulusBits: number | undefined;
  let isRsaPositive: boolean | undefined;
  if (algorithm === KeyOid.ecPublicKey && parameters?.tag === DerTag.oid) {
    namedCurve = decodeOid(parameters.content);
  } else if (algorithm === KeyOid.rsaEncryption) {
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 §A.1.1)
    const outer = DerReader.of(key.subarray(1));
    const rsa = DerReader.inside(outer.expect(DerTag.sequence, 'RSAPublicKey'));
    outer.expectEnd('RSAPublicKey');
    const modulus = rsa.expect(DerTag.integer, 'modulus').content;
    const exponent = rsa.expect(DerTag.integer, 'publicExponent').content;
    rsa.expectEnd('RSAPublicKey');
    isRsaPositive = [modulus, exponent].every((n) => n.length > 0 && ((n[0] ?? 0) & 0x80) === 0 && n.some((b) => b !== 0));
    let start = 0;
    while (start < modulus.length && modulus[start] === 0) start++;
    const top = modulus[start];
    rsaModulusBits = top === undefined ? 0 : (modulus.length - start - 1) * 8 + (32 - Math.clz32(top));
  }
  return { algorithm, namedCurve, rsaModulusBits, isRsaPositive, keyOctets: key.subarray(1) };
}

function decodeAlgorithmIdentifier(element: DerElement, what: string): string {
  if (element.tag !== DerTag.sequence) throw new DerError(`${what}: not a SEQUENCE`);
  const reader = DerReader.inside(element);
  const oid = decodeOid(reader.expect(DerTag.oid, `${what} algorithm`).content);
  if (!reader.isEmpty()) reader.read(`${what} parameters`);
  reader.expectEnd(what);
  return oid;
}

/** Decodes a DER certificate, consuming exactly its bytes. Throws DerError. */
export function decodeCertificate(der: Uint8Array): CertificateFields {
  const top = DerReader.of(der);
  const certificate = DerReader.inside(top.expect(DerTag.sequence, 'Certificate'));
  top.expectEnd('Certificate');

  const tbsElement = certificate.expect(DerTag.sequence, 'tbsCertificate');
  const signatureAlgorithmElement = certificate.expect(DerTag.sequence, 'signatureAlgorithm');
  const signatureAlgorithm = decodeAlgorithmIdentifier(signatureAlgorithmElement, 'signatureAlgorithm');
  const signature = certificate.expect(DerTag.bitString, 'signatureValue');
  if (signature.content.length < 2 || signature.content[0] !== 0) throw new DerError('signatureValue: bad BIT STRING');
  certificate.expectEnd('Certificate');

  const tbs = DerReader.inside(tbsElement);
  let version = 1;
  const versionElement = tbs.optional(0xa0, 'version');
  if (versionElement !== undefined) {
    const inner = DerReader.inside(versionElement);
    const v = decodeSmallInteger(inner.expect(DerTag.integer, 'version').content, 'version');
    inner.expectEnd('version');
    if (v > 2) throw new DerError(`unknown version ${v}`);
    version = v + 1;
  }
  const serial = tbs.expect(DerTag.integer, 'serialNumber').content;
  if (serial.length === 0 || serial.length > 32) throw new DerError('serialNumber: bad length');
  const innerSignature = tbs.expect(DerTag.sequence, 'signature');
  // RFC 5280 §4.1.1.2: the outer algorithm MUST equal the one inside tbsCertificate.
  if (!innerSignature.bytes.equals(signatureAlgorithmElement.bytes)) throw new DerError('signature algorithms differ');
  const issuer = decodeName(tbs.read('issuer'), 'issuer');
  const validity = DerReader.inside(tbs.expect(DerTag.sequence, 'validity'));
  const notBeforeMs = decodeTime(validity.read('notBefore'), 'notBefore');
  const notAfterMs = decodeTime(validity.read('notAfter'), 'notAfter');
  validity.expectEnd('validity');
  const subject = decodeName(tbs.read('subject'), 'subject');
  const publicKey = decodePublicKeyInfo(tbs.expect(DerTag.sequence, 'subjectPublicKeyInfo'));
  // RFC 5280 §4.1.2.8: unique identifiers only from v2 on; extensions only in v3.
  if (tbs.optional(0x81, 'issuerUniqueID') !== undefined && version < 2) throw new DerError('issuerUniqueID in v1');
  if (tbs.optional(0x82, 'subjectUniqueID') !== undefined && version < 2) throw new DerError('subjectUniqueID in v1');
  const extensionsElement = tbs.optional(0xa3, 'extensions');
  if (extensionsElement !== undefined && version !== 3) throw new DerError('extensions in a pre-v3 certificate');
  tbs.expectEnd('tbsCertificate');

  return {
    version,
    serialNumber: serial,
    signatureAlgorithm,
    issuer,
    subject,
    notBeforeMs,
    notAfterMs,
    publicKey,
    extensions: decodeExtensions(extensionsElement),
  };
}
