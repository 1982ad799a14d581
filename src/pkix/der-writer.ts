/**
 * DER writing for the hot paths (leaf templates, CRLs, OCSP responses):
 * joining already-encoded elements is much cheaper than re-serializing an
 * asn1-schema object tree. Definite lengths in their shortest form (X.690 §10.1).
 */
import { Tag } from './der-reader.js';

/** X.690 §8.1.3: how many octets the definite length takes, shortest form. */
function lengthOctets(length: number): number {
  if (length < 0x80) return 1;
  if (length < 0x100) return 2;
  if (length < 0x10000) return 3;
  if (length < 0x1000000) return 4;
  if (length < 0x100000000) return 5;
  throw new RangeError(`DER element of ${length} bytes is larger than anything keysmith encodes`);
}

/** One TLV whose contents are the concatenation of `parts`, in one allocation (this runs ~30 times per certificate). */
export function tlvOf(tag: number, parts: readonly Uint8Array[]): Uint8Array {
  let contentLength = 0;
  for (const part of parts) contentLength += part.byteLength;
  const header = 1 + lengthOctets(contentLength);
  const out = new Uint8Array(header + contentLength);
  out[0] = tag;
  if (header === 2) {
    out[1] = contentLength;
  } else {
    out[1] = 0x80 | (header - 2);
    for (let i = header - 1, rest = contentLength; i >= 2; i--, rest = Math.floor(rest / 256)) out[i] = rest % 256;
  }
  let offset = header;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** One TLV whose contents are the concatenation of `parts`. */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  return tlvOf(tag, parts);
}

/** A SEQUENCE whose contents are the given, already DER-encoded, elements (any number of them). */
export function derSequence(elements: readonly Uint8Array[]): Uint8Array {
  return tlvOf(Tag.sequence, elements);
}

const oidCache = new Map<string, Uint8Array>();

/** X.690 §8.19: the OBJECT IDENTIFIER TLV for dotted text (memoized: callers use a handful of constants). */
export function encodeOid(dotted: string): Uint8Array {
  const cached = oidCache.get(dotted);
  if (cached !== undefined) return cached;
  const arcs = dotted.split('.').map(Number);
  const [first, second, ...rest] = arcs;
  const isValid = first !== undefined && second !== undefined && arcs.every((a) => Number.isSafeInteger(a) && a >= 0);
  // X.690 §8.19.4: the first two arcs share one subidentifier, so arc 1 is below 40 under roots 0 and 1.
  if (!isValid || first > 2 || (first < 2 && second >= 40)) throw new Error(`not an OBJECT IDENTIFIER: ${dotted}`);
  const octets: number[] = [];
  for (const arc of [first * 40 + second, ...rest]) {
    const group: number[] = [arc % 128];
    for (let rest7 = Math.floor(arc / 128); rest7 > 0; rest7 = Math.floor(rest7 / 128)) group.unshift((rest7 % 128) | 0x80);
    octets.push(...group);
  }
  const encoded = tlv(Tag.oid, Uint8Array.from(octets));
  if (oidCache.size < 256) oidCache.set(dotted, encoded);
  return encoded;
}

/** Bytes of a string that must be ASCII (IA5String, PrintableString), or undefined when it is not. */
export function asciiBytes(text: string): Uint8Array | undefined {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return undefined;
  return Buffer.from(text, 'latin1');
}
