/**
 * Decoding of Names and GeneralNames (RFC 5280 §4.1.2.4, §4.2.1.6) and of
 * the two extensions built from them: subjectAltName and nameConstraints.
 */
import { DerError, DerReader, Tag, type DerElement } from './der-reader.js';
import { decodeIa5, decodeOid, decodeSmallInteger } from './der-values.js';
import type { DistinguishedName, GeneralName, NameConstraints } from './name-constraints.js';

/** Largest list we accept inside one extension; keeps hostile certificates from costing much. */
export const MAX_LIST = 256;

export interface SubjectAltNames {
  readonly dnsNames: readonly string[];
  readonly uris: readonly string[];
  readonly ipAddresses: readonly Buffer[];
  readonly directoryNames: readonly DistinguishedName[];
  /** Tags of name forms present that we do not interpret (rfc822Name, otherName, ...). */
  readonly otherTags: readonly number[];
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
export function decodeName(element: DerElement<Buffer>, what: string): DistinguishedName {
  if (element.tag !== Tag.sequence) throw new DerError(`${what}: Name is not a SEQUENCE`);
  const rdns: Buffer[] = [];
  const reader = DerReader.inside(element);
  while (!reader.isEmpty()) {
    const rdn = reader.expect(Tag.set, `${what} RDN`);
    const attributes = DerReader.inside(rdn);
    // X.501: a RelativeDistinguishedName is a SET SIZE (1..MAX).
    if (attributes.isEmpty()) throw new DerError(`${what}: empty RDN`);
    while (!attributes.isEmpty()) {
      const attribute = DerReader.inside(attributes.expect(Tag.sequence, `${what} attribute`));
      decodeOid(attribute.expect(Tag.oid, `${what} attribute type`).content);
      attribute.read(`${what} attribute value`);
      attribute.expectEnd(`${what} attribute`);
    }
    rdns.push(rdn.bytes);
  }
  return { der: element.bytes, rdns };
}

function decodeGeneralName(element: DerElement<Buffer>, context: 'san' | 'constraint'): GeneralName {
  switch (element.tag) {
    case GeneralNameTag.dNSName:
      return { kind: 'dNSName', value: decodeIa5(element.content, 'dNSName') };
    case GeneralNameTag.uniformResourceIdentifier:
      return { kind: 'uniformResourceIdentifier', value: decodeIa5(element.content, 'uniformResourceIdentifier') };
    case GeneralNameTag.iPAddress: {
      // RFC 5280 §4.2.1.6: 4 or 16 octets in a SAN; §4.2.1.10: 8 or 32 (address and mask) in a constraint.
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
      throw new DerError(`unknown GeneralName tag 0x${element.tag.toString(16).padStart(2, '0')}`);
  }
}

interface SanLists {
  dnsNames: string[];
  uris: string[];
  ipAddresses: Buffer[];
  directoryNames: DistinguishedName[];
  otherTags: number[];
}

function addSan(out: SanLists, name: GeneralName): void {
  switch (name.kind) {
    case 'dNSName':
      out.dnsNames.push(name.value);
      break;
    case 'uniformResourceIdentifier':
      out.uris.push(name.value);
      break;
    case 'iPAddress':
      out.ipAddresses.push(name.value);
      break;
    case 'directoryName':
      out.directoryNames.push(name.value);
      break;
    case 'other':
      if (!out.otherTags.includes(name.tag)) out.otherTags.push(name.tag);
      break;
    default: {
      const never: never = name;
      throw new DerError(`unhandled GeneralName ${String(never)}`);
    }
  }
}

export function decodeSubjectAltName(value: Buffer): SubjectAltNames {
  const outer = DerReader.of(value);
  const reader = DerReader.inside(outer.expect(Tag.sequence, 'subjectAltName'));
  outer.expectEnd('subjectAltName');
  const out: SanLists = { dnsNames: [], uris: [], ipAddresses: [], directoryNames: [], otherTags: [] };
  let count = 0;
  while (!reader.isEmpty()) {
    if (++count > MAX_LIST) throw new DerError('subjectAltName: too many names');
    addSan(out, decodeGeneralName(reader.read('subjectAltName entry'), 'san'));
  }
  return out;
}

function decodeGeneralSubtrees(element: DerElement<Buffer>, what: string): GeneralName[] {
  const reader = DerReader.inside(element);
  const names: GeneralName[] = [];
  while (!reader.isEmpty()) {
    if (names.length >= MAX_LIST) throw new DerError(`${what}: too many subtrees`);
    const subtree = DerReader.inside(reader.expect(Tag.sequence, `${what} GeneralSubtree`));
    names.push(decodeGeneralName(subtree.read(`${what} base`), 'constraint'));
    // RFC 5280 §4.2.1.10: minimum MUST be zero and maximum MUST be absent.
    const minimum = subtree.optional(0x80, `${what} minimum`);
    if (minimum !== undefined && decodeSmallInteger(minimum.content, 'minimum') !== 0) throw new DerError(`${what}: minimum is not 0`);
    if (subtree.optional(0x81, `${what} maximum`) !== undefined) throw new DerError(`${what}: maximum present`);
    subtree.expectEnd(`${what} GeneralSubtree`);
  }
  return names;
}

export function decodeNameConstraints(value: Buffer): NameConstraints {
  const outer = DerReader.of(value);
  const reader = DerReader.inside(outer.expect(Tag.sequence, 'nameConstraints'));
  outer.expectEnd('nameConstraints');
  const permitted = reader.optional(0xa0, 'permittedSubtrees');
  const excluded = reader.optional(0xa1, 'excludedSubtrees');
  reader.expectEnd('nameConstraints');
  return {
    permitted: permitted === undefined ? [] : decodeGeneralSubtrees(permitted, 'permittedSubtrees'),
    excluded: excluded === undefined ? [] : decodeGeneralSubtrees(excluded, 'excludedSubtrees'),
  };
}
