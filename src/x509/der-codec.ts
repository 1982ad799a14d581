/*
 * A small, bounded DER codec for the hot paths (CSR parsing, the leaf
 * template and its check after signing), where the asn1-schema object model
 * costs hundreds of microseconds per message. It covers only what X.509 and
 * PKCS#10 use: single-octet tags, definite lengths in minimal form (X.690
 * §10.1), no indefinite lengths. Anything else is a DerError; callers map it
 * to their own error kind.
 */

export class DerError extends Error {
  override readonly name = 'DerError';
}

/** Universal and context tags used by the hot paths (X.690 §8, RFC 5280). */
export const Tag = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const;

/** Context-specific tag number n, constructed (EXPLICIT or a constructed IMPLICIT type) or primitive. */
export function contextTag(n: number, isConstructed: boolean): number {
  return (isConstructed ? 0xa0 : 0x80) | n;
}

/** One decoded TLV: `bytes` is the whole element, `value` its contents; both are views, not copies. */
export interface DerElement {
  readonly tag: number;
  readonly bytes: Uint8Array;
  readonly value: Uint8Array;
}

// Four length octets already allow 4 GiB; every input here is bounded far below that.
const MAX_LENGTH_OCTETS = 4;

/** Reads consecutive TLVs from a byte range; every read is bounded by the range. */
export class DerReader {
  readonly #bytes: Uint8Array;
  #offset = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }

  get isDone(): boolean {
    return this.#offset >= this.#bytes.byteLength;
  }

  /** The next element's tag without consuming it; undefined at the end. */
  peekTag(): number | undefined {
    return this.isDone ? undefined : this.#bytes[this.#offset];
  }

  /** Reads one element; with `expectedTag`, throws unless the tag matches. */
  read(expectedTag?: number): DerElement {
    const bytes = this.#bytes;
    const start = this.#offset;
    const tag = bytes[start];
    if (tag === undefined) throw new DerError('unexpected end of data');
    if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here');
    if (expectedTag !== undefined && tag !== expectedTag) {
      throw new DerError(`expected tag 0x${expectedTag.toString(16)}, found 0x${tag.toString(16)}`);
    }
    let cursor = start + 1;
    const first = bytes[cursor++];
    if (first === undefined) throw new DerError('unexpected end of data in a length');
    let length: number;
    if (first < 0x80) {
      length = first;
    } else {
      const count = first & 0x7f;
      // X.690 §10.1: definite form only, with the fewest octets.
      if (count === 0) throw new DerError('indefinite lengths are not DER');
      if (count > MAX_LENGTH_OCTETS) throw new DerError('length too large');
      length = 0;
      for (let i = 0; i < count; i++) {
        const octet = bytes[cursor++];
        if (octet === undefined) throw new DerError('unexpected end of data in a length');
        if (i === 0 && octet === 0) throw new DerError('length is not minimally encoded');
        length = length * 256 + octet;
      }
      if (length < 0x80) throw new DerError('length is not minimally encoded');
    }
    const end = cursor + length;
    if (end > bytes.byteLength) throw new DerError('element runs past the end of its container');
    this.#offset = end;
    return { tag, bytes: bytes.subarray(start, end), value: bytes.subarray(cursor, end) };
  }

  /** Reads the next element only when it has this tag (OPTIONAL and DEFAULT fields). */
  readOptional(tag: number): DerElement | undefined {
    return this.peekTag() === tag ? this.read(tag) : undefined;
  }

  /** STYLE §6: a decoder consumes exactly its declared length. */
  end(what: string): void {
    if (!this.isDone) throw new DerError(`trailing bytes after ${what}`);
  }
}

/** Reads exactly one element that fills `bytes`. */
export function readSingle(bytes: Uint8Array, expectedTag: number, what: string): DerElement {
  const reader = new DerReader(bytes);
  const element = reader.read(expectedTag);
  reader.end(what);
  return element;
}

/** The constructed bit of an identifier octet (X.690 §8.1.2.5). */
const CONSTRUCTED = 0x20;

/**
 * Walks every element of one DER value that fills `bytes`, down through
 * every constructed element, so that a library parser (which accepts BER)
 * only ever sees DER: definite, minimal lengths (X.690 §10.1), no trailing
 * bytes at any level. Depth and element count are bounded, so hostile
 * nesting costs a bounded walk.
 */
export function checkStrictDer(bytes: Uint8Array, what: string, limits: { readonly maxDepth: number; readonly maxElements: number }): void {
  let elements = 0;
  const walk = (element: DerElement, depth: number): void => {
    if (++elements > limits.maxElements) throw new DerError(`${what}: more than ${limits.maxElements} elements`);
    if ((element.tag & CONSTRUCTED) === 0) return;
    if (depth >= limits.maxDepth) throw new DerError(`${what}: nested deeper than ${limits.maxDepth} levels`);
    const reader = new DerReader(element.value);
    while (!reader.isDone) walk(reader.read(), depth + 1);
  };
  const reader = new DerReader(bytes);
  walk(reader.read(), 0);
  reader.end(what);
}

/** The children of a constructed element, all read. */
export function readChildren(element: DerElement): DerElement[] {
  const reader = new DerReader(element.value);
  const out: DerElement[] = [];
  while (!reader.isDone) out.push(reader.read());
  return out;
}

/** X.690 §8.19: an OBJECT IDENTIFIER's contents as dotted text. Arcs beyond 2^53 are refused. */
export function decodeOid(value: Uint8Array): string {
  if (value.byteLength === 0) throw new DerError('empty OBJECT IDENTIFIER');
  const arcs: number[] = [];
  let arc = 0;
  let isFresh = true;
  for (const octet of value) {
    // X.690 §8.19.2: each subidentifier uses the fewest octets (no leading 0x80).
    if (isFresh && octet === 0x80) throw new DerError('OBJECT IDENTIFIER arc is not minimally encoded');
    arc = arc * 128 + (octet & 0x7f);
    if (!Number.isSafeInteger(arc)) throw new DerError('OBJECT IDENTIFIER arc too large');
    isFresh = (octet & 0x80) === 0;
    if (isFresh) {
      arcs.push(arc);
      arc = 0;
    }
  }
  if (!isFresh) throw new DerError('OBJECT IDENTIFIER ends inside an arc');
  const [head = 0, ...rest] = arcs;
  const first = head < 40 ? 0 : head < 80 ? 1 : 2;
  return [first, head - first * 40, ...rest].join('.');
}

/** A non-negative small INTEGER's value (versions, salt lengths); refuses negatives and non-minimal forms. */
export function decodeSmallInteger(element: DerElement): number {
  const { value } = element;
  const [first, second] = value;
  if (first === undefined) throw new DerError('empty INTEGER');
  if (value.byteLength > 6) throw new DerError('INTEGER too large');
  // X.690 §8.3.2: the first nine bits are not all zeros or all ones.
  if (second !== undefined && ((first === 0 && second < 0x80) || (first === 0xff && second >= 0x80))) {
    throw new DerError('INTEGER is not minimally encoded');
  }
  if (first >= 0x80) throw new DerError('negative INTEGER');
  let out = 0;
  for (const octet of value) out = out * 256 + octet;
  return out;
}

// ---------------------------------------------------------------- writing

/** X.690 §8.1.3: how many octets the definite length takes, shortest form. */
function lengthOctets(length: number): number {
  if (length < 0x80) return 1;
  if (length < 0x100) return 2;
  if (length < 0x10000) return 3;
  if (length < 0x1000000) return 4;
  throw new Error(`DER element of ${length} bytes is larger than anything keysmith encodes`);
}

/** One TLV whose contents are the concatenation of `parts` (one allocation: this runs ~30 times per certificate). */
export function tlv(tag: number, ...parts: readonly Uint8Array[]): Uint8Array {
  let contentLength = 0;
  for (const part of parts) contentLength += part.byteLength;
  const header = 1 + lengthOctets(contentLength);
  const out = new Uint8Array(header + contentLength);
  out[0] = tag;
  if (header === 2) {
    out[1] = contentLength;
  } else {
    out[1] = 0x80 | (header - 2);
    for (let i = header - 1, rest = contentLength; i >= 2; i--, rest >>>= 8) out[i] = rest & 0xff;
  }
  let offset = header;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

const oidCache = new Map<string, Uint8Array>();

/** X.690 §8.19: the OBJECT IDENTIFIER TLV for dotted text (memoized: callers use a handful of constants). */
export function encodeOid(dotted: string): Uint8Array {
  const cached = oidCache.get(dotted);
  if (cached !== undefined) return cached;
  const arcs = dotted.split('.').map(Number);
  const [first, second, ...rest] = arcs;
  if (first === undefined || second === undefined || arcs.some((a) => !Number.isSafeInteger(a) || a < 0) || first > 2 || (first < 2 && second >= 40)) {
    throw new Error(`not an OBJECT IDENTIFIER: ${dotted}`);
  }
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
