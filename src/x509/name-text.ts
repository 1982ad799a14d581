import { DerError, DerReader, decodeOid, readChildren, Tag } from '../pkix/index.js';
import type { DistinguishedName, NameAttribute } from './names.js';
import { peculiar } from './provider.js';

/*
 * Names as text, the way `describeCertificate` prints them (@peculiar/x509's
 * Name.toString: "O=keysmith, CN=spiffe://..." with its escaping), without
 * building the object model on the hot path. Names outside the simple shape
 * (unknown attribute types, multi-valued RDNs, non-ASCII or other string
 * types) are handed to @peculiar/x509 itself, so the text never differs.
 */

const SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.3', 'CN'],
  ['2.5.4.7', 'L'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.6', 'C'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['1.2.840.113549.1.9.1', 'E'],
  ['2.5.4.42', 'G'],
  ['2.5.4.43', 'I'],
  ['2.5.4.4', 'SN'],
  ['2.5.4.12', 'T'],
]);

/** @peculiar/x509's escaping (after RFC 4514 §2.4), reproduced rule for rule, including its quirks. */
export function escapeNameValue(value: string): string {
  return value
    .replace(/([,+"\\<>;])/g, '\\$1')
    .replace(/^([ #])/, '\\$1')
    .replace(/([ ]$)/, '\\$1')
    .replace(/([\r\n\t])/, (char) => `\\${Buffer.from(char, 'utf8').toString('hex').toUpperCase()}`);
}

/** Text of a name keysmith encodes itself (UTF8String values, one attribute per RDN). */
export function formatDistinguishedName(name: DistinguishedName): string {
  return name.map((attribute: NameAttribute) => `${attribute.type}=${escapeNameValue(attribute.value)}`).join(', ');
}

export interface NameText {
  /** RFC 4514-style text, "" for an empty name. */
  readonly text: string;
  /** Every CN value, in order. */
  readonly commonNames: readonly string[];
}

/**
 * Text and CNs of a DER Name (RFC 5280 §4.1.2.4). Throws DerError when it is
 * not a SEQUENCE OF SET OF AttributeTypeAndValue.
 */
export function describeNameDer(nameDer: Uint8Array): NameText {
  const simple = simpleNameText(nameDer);
  if (simple !== undefined) return simple;
  let name: peculiar.Name;
  try {
    name = new peculiar.Name(nameDer);
  } catch (cause) {
    throw new DerError('Name does not decode', { cause });
  }
  return { text: name.toString(), commonNames: name.getField('CN') };
}

/** The common shape, decoded directly; undefined when @peculiar/x509 must print it. */
function simpleNameText(nameDer: Uint8Array): NameText | undefined {
  const reader = DerReader.of(nameDer);
  const sequence = reader.expect(Tag.sequence);
  reader.expectEnd('Name');
  const parts: string[] = [];
  const commonNames: string[] = [];
  let isSimple = true;
  for (const rdn of readChildren(sequence)) {
    if (rdn.tag !== Tag.set) throw new DerError('RelativeDistinguishedName is not a SET');
    const attributes = readChildren(rdn);
    if (attributes.length === 0) throw new DerError('empty RelativeDistinguishedName');
    for (const attribute of attributes) {
      if (attribute.tag !== Tag.sequence) throw new DerError('AttributeTypeAndValue is not a SEQUENCE');
      const fields = DerReader.of(attribute.content);
      const type = decodeOid(fields.expect(Tag.oid).content);
      const value = fields.read();
      fields.expectEnd('AttributeTypeAndValue');
      const shortName = SHORT_NAMES.get(type);
      const isString = value.tag === Tag.utf8String || value.tag === Tag.printableString;
      if (attributes.length !== 1 || shortName === undefined || !isString || !isAscii(value.content)) {
        // Keep walking: a structural error later in the name must still be a DerError.
        isSimple = false;
        continue;
      }
      const text = Buffer.from(value.content).toString('latin1');
      parts.push(`${shortName}=${escapeNameValue(text)}`);
      if (shortName === 'CN') commonNames.push(text);
    }
  }
  return isSimple ? { text: parts.join(', '), commonNames } : undefined;
}

function isAscii(bytes: Uint8Array): boolean {
  for (const octet of bytes) if (octet > 0x7f) return false;
  return true;
}
