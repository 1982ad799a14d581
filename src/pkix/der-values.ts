/**
 * Primitive DER values (X.690 §8): OBJECT IDENTIFIER, BOOLEAN, small
 * INTEGERs, the two X.509 time forms, IA5String. Each refuses what DER
 * forbids and what would cost more than the value is worth.
 */
import { DerError, Tag, type DerElement } from './der-reader.js';

/** Longest OID content accepted; real OIDs are under 30 octets. */
const MAX_OID_OCTETS = 64;

/** X.690 §8.19: an OBJECT IDENTIFIER's contents as dotted text. Arcs past 2^53 are refused. */
export function decodeOid(content: Uint8Array): string {
  if (content.byteLength === 0) throw new DerError('empty OBJECT IDENTIFIER');
  if (content.byteLength > MAX_OID_OCTETS) throw new DerError('OBJECT IDENTIFIER too long');
  // Built as text directly: this runs for every algorithm, attribute and extension of every certificate.
  let text = '';
  let arc = 0;
  let isFresh = true;
  for (let i = 0; i < content.byteLength; i++) {
    const octet = content[i] ?? 0;
    // X.690 §8.19.2: each subidentifier uses the fewest octets (no leading 0x80).
    if (isFresh && octet === 0x80) throw new DerError('OBJECT IDENTIFIER arc is not minimally encoded');
    arc = arc * 128 + (octet & 0x7f);
    if (arc > Number.MAX_SAFE_INTEGER) throw new DerError('OBJECT IDENTIFIER arc too large');
    isFresh = (octet & 0x80) === 0;
    if (!isFresh) continue;
    if (text === '') {
      // X.690 §8.19.4: the first subidentifier carries the first two arcs.
      const first = arc < 40 ? 0 : arc < 80 ? 1 : 2;
      text = `${first}.${arc - first * 40}`;
    } else {
      text += `.${arc}`;
    }
    arc = 0;
  }
  if (!isFresh) throw new DerError('OBJECT IDENTIFIER ends inside an arc');
  return text;
}

/** X.690 §11.1: DER TRUE is 0xff, FALSE 0x00; nothing else. */
export function decodeBoolean(content: Uint8Array): boolean {
  if (content.byteLength !== 1 || (content[0] !== 0x00 && content[0] !== 0xff)) throw new DerError('invalid BOOLEAN');
  return content[0] === 0xff;
}

/** A non-negative small INTEGER's value (versions, pathLenConstraint, salt lengths); refuses negatives and non-minimal forms. */
export function decodeSmallInteger(content: Uint8Array, what = 'INTEGER'): number {
  const [first, second] = content;
  if (first === undefined) throw new DerError(`${what}: empty INTEGER`);
  if (content.byteLength > 6) throw new DerError(`${what}: INTEGER too large`);
  // X.690 §8.3.2: the first nine bits are not all zeros or all ones.
  if (second !== undefined && ((first === 0 && second < 0x80) || (first === 0xff && second >= 0x80))) {
    throw new DerError(`${what}: INTEGER is not minimally encoded`);
  }
  if (first >= 0x80) throw new DerError(`${what}: negative INTEGER`);
  let out = 0;
  for (const octet of content) out = out * 256 + octet;
  return out;
}

function latin1(content: Uint8Array): string {
  // A Buffer (the verifier's input) is read in place; only a plain Uint8Array needs a Buffer view made.
  const buffer = Buffer.isBuffer(content) ? content : Buffer.from(content.buffer, content.byteOffset, content.byteLength);
  return buffer.toString('latin1');
}

/** Printable IA5String (dNSName, URI): 0x20..0x7e only. */
export function decodeIa5(content: Uint8Array, what: string): string {
  for (let i = 0; i < content.byteLength; i++) {
    const b = content[i] ?? 0;
    if (b > 0x7e || b < 0x20) throw new DerError(`${what}: not printable IA5String`);
  }
  return latin1(content);
}

/** UTCTime or GeneralizedTime as RFC 5280 §4.1.2.5 restricts them: whole seconds, "Z". Milliseconds since the epoch. */
export function decodeTime(element: DerElement, what: string): number {
  const text = latin1(element.content);
  let year: number;
  let rest: string;
  if (element.tag === Tag.utcTime) {
    // RFC 5280 §4.1.2.5.1: UTCTime MUST be YYMMDDHHMMSSZ.
    if (!/^\d{12}Z$/.test(text)) throw new DerError(`${what}: malformed UTCTime`);
    const yy = Number(text.slice(0, 2));
    // RFC 5280 §4.1.2.5.1: YY >= 50 is 19YY, otherwise 20YY.
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
    rest = text.slice(2);
  } else if (element.tag === Tag.generalizedTime) {
    // RFC 5280 §4.1.2.5.2: GeneralizedTime MUST be YYYYMMDDHHMMSSZ, no fractional seconds.
    if (!/^\d{14}Z$/.test(text)) throw new DerError(`${what}: malformed GeneralizedTime`);
    year = Number(text.slice(0, 4));
    rest = text.slice(4);
  } else {
    throw new DerError(`${what}: not a time`);
  }
  return checkedUtc(year, rest, text, what);
}

function checkedUtc(year: number, rest: string, text: string, what: string): number {
  const month = Number(rest.slice(0, 2));
  const day = Number(rest.slice(2, 4));
  const hour = Number(rest.slice(4, 6));
  const minute = Number(rest.slice(6, 8));
  const second = Number(rest.slice(8, 10));
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  const check = new Date(ms);
  // Date.UTC rolls 31 February into March; a round trip catches impossible dates.
  const isImpossible =
    month < 1 ||
    month > 12 ||
    hour > 23 ||
    minute > 59 ||
    second > 59 ||
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day;
  if (isImpossible) throw new DerError(`${what}: impossible date ${text}`);
  return ms;
}
