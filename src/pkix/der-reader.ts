/**
 * The one bounded DER reader of keysmith (X.690 §8, §10): single-octet tags,
 * definite lengths in minimal form, every read checked against its range.
 * Certificates on the TLS path, CSRs, SPKIs, names and OCSP requests all go
 * through it. Failures are DerError, a plain Error: each caller maps it to
 * its own error kind (bad_certificate, malformed, badCSR).
 *
 * The reader returns views of its input, of the input's own type: a Buffer
 * in gives Buffer views out (the verifier compares and hashes them), a
 * Uint8Array gives Uint8Array views. No copies, no per-element allocation
 * beyond the element record.
 */

export class DerError extends Error {
  override readonly name = 'DerError';
}

/** Universal tags as full identifier octets (X.690 §8.1.2, X.680 §8.4). */
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

/** The constructed bit of an identifier octet (X.690 §8.1.2.5). */
const CONSTRUCTED = 0x20;

/** Context-specific tag number n, constructed (EXPLICIT or a constructed IMPLICIT type) or primitive. */
export function contextTag(n: number, isConstructed: boolean): number {
  return (isConstructed ? 0xa0 : 0x80) | n;
}

/** One TLV: `bytes` is the whole element, `content` its contents octets; both are views of the input. */
export interface DerElement<B extends Uint8Array = Uint8Array> {
  readonly tag: number;
  readonly bytes: B;
  readonly content: B;
}

/** Four length octets already allow 4 GiB, far past anything keysmith reads. */
const MAX_LENGTH_OCTETS = 4;

function hex(n: number): string {
  return n.toString(16);
}

/** A cursor over consecutive TLVs in `bytes[start, end)`. */
export class DerReader<B extends Uint8Array = Uint8Array> {
  private offset: number;

  private constructor(
    private readonly bytes: B,
    start: number,
    private readonly end: number,
  ) {
    this.offset = start;
  }

  static of<B extends Uint8Array>(bytes: B): DerReader<B> {
    return new DerReader(bytes, 0, bytes.byteLength);
  }

  /** A reader over the contents of a constructed element (X.690 §8.1.2.5). */
  static inside<B extends Uint8Array>(element: DerElement<B>): DerReader<B> {
    if ((element.tag & CONSTRUCTED) === 0) throw new DerError(`tag 0x${hex(element.tag)} is not constructed`);
    return new DerReader(element.content, 0, element.content.byteLength);
  }

  isEmpty(): boolean {
    return this.offset >= this.end;
  }

  /** The next element's tag without consuming it; undefined at the end. */
  peekTag(): number | undefined {
    return this.offset < this.end ? this.bytes[this.offset] : undefined;
  }

  /** Reads the next element whatever its tag. */
  read(what = 'element'): DerElement<B> {
    const start = this.offset;
    const tag = start < this.end ? this.bytes[start] : undefined;
    if (tag === undefined) throw new DerError(`unexpected end of data in ${what}`);
    // X.509 and PKCS#10 use only low tag numbers; the multi-octet form is refused outright.
    if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag numbers are not used here (${what})`);
    return this.readFrom(start, tag, what);
  }

  /** Reads the next element, which must carry `tag`; the tag is checked before the length. */
  expect(tag: number, what = 'element'): DerElement<B> {
    const start = this.offset;
    const found = start < this.end ? this.bytes[start] : undefined;
    if (found === undefined) throw new DerError(`unexpected end of data in ${what}`);
    if (found !== tag) throw new DerError(`expected tag 0x${hex(tag)}, found 0x${hex(found)}`);
    if ((tag & 0x1f) === 0x1f) throw new DerError(`high tag numbers are not used here (${what})`);
    return this.readFrom(start, tag, what);
  }

  /** Reads the next element only when it carries `tag` (OPTIONAL and DEFAULT fields). */
  optional(tag: number, what = 'element'): DerElement<B> | undefined {
    return this.peekTag() === tag ? this.expect(tag, what) : undefined;
  }

  /** A decoder consumes exactly its declared length (STYLE §6). */
  expectEnd(what: string): void {
    if (this.offset < this.end) throw new DerError(`trailing bytes after ${what}`);
  }

  private readFrom(start: number, tag: number, what: string): DerElement<B> {
    const bytes = this.bytes;
    let cursor = start + 1;
    const first = cursor < this.end ? bytes[cursor++] : undefined;
    if (first === undefined) throw new DerError(`unexpected end of data in the length of ${what}`);
    let length = first;
    if (first >= 0x80) {
      const count = first & 0x7f;
      // X.690 §10.1: DER MUST use the definite form, with the fewest length octets.
      if (count === 0) throw new DerError(`indefinite lengths are not DER (${what})`);
      if (count > MAX_LENGTH_OCTETS) throw new DerError(`length too large (${what})`);
      if (this.end - cursor < count) throw new DerError(`unexpected end of data in the length of ${what}`);
      if (bytes[cursor] === 0) throw new DerError(`length is not minimally encoded (${what})`);
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + (bytes[cursor++] ?? 0);
      if (length < 0x80) throw new DerError(`length is not minimally encoded (${what})`);
    }
    if (this.end - cursor < length) throw new DerError(`${what} runs past the end of its container`);
    const stop = cursor + length;
    this.offset = stop;
    // subarray keeps the input's species (Buffer in, Buffer out); the cast only restores that type.
    return { tag, bytes: bytes.subarray(start, stop) as B, content: bytes.subarray(cursor, stop) as B };
  }
}

/** Reads exactly one element with `tag` that fills `bytes`. */
export function readSingle<B extends Uint8Array>(bytes: B, tag: number, what: string): DerElement<B> {
  const reader = DerReader.of(bytes);
  const element = reader.expect(tag, what);
  reader.expectEnd(what);
  return element;
}

/** The children of an element, all read. */
export function readChildren<B extends Uint8Array>(element: DerElement<B>, what = 'element'): DerElement<B>[] {
  const reader = DerReader.of(element.content);
  const out: DerElement<B>[] = [];
  while (!reader.isEmpty()) out.push(reader.read(what));
  return out;
}

export interface StrictDerLimits {
  readonly maxDepth: number;
  readonly maxElements: number;
}

/**
 * Walks every element of one DER value that fills `bytes`, down through
 * every constructed element, so that a library parser (which accepts BER)
 * only ever sees DER: definite, minimal lengths (X.690 §10.1), no trailing
 * bytes at any level. Depth and element count are bounded, so hostile
 * nesting costs a bounded walk.
 */
export function checkStrictDer(bytes: Uint8Array, what: string, limits: StrictDerLimits): void {
  let elements = 0;
  const walk = (element: DerElement, depth: number): void => {
    if (++elements > limits.maxElements) throw new DerError(`${what}: more than ${limits.maxElements} elements`);
    if ((element.tag & CONSTRUCTED) === 0) return;
    if (depth >= limits.maxDepth) throw new DerError(`${what}: nested deeper than ${limits.maxDepth} levels`);
    const reader = DerReader.of(element.content);
    while (!reader.isEmpty()) walk(reader.read(what), depth + 1);
  };
  const reader = DerReader.of(bytes);
  walk(reader.read(what), 0);
  reader.expectEnd(what);
}
