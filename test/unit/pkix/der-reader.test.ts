import '../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  checkStrictDer,
  decodeOid,
  decodeSmallInteger,
  decodeTime,
  derSequence,
  DerError,
  DerReader,
  encodeOid,
  readChildren,
  readSingle,
  Tag,
  tlv,
} from '../../../src/pkix/index.js';

/**
 * The one DER reader on hostile input (X.690 §8.1, §10.1): every malformed
 * length or tag is a DerError, never a read past the input, and the writer's
 * output reads back exactly.
 */

function derError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => error instanceof DerError && message.test(error.message));
}

const read = (bytes: number[]) => (): unknown => DerReader.of(Uint8Array.from(bytes)).read('test');

describe('DerReader bounds', () => {
  it('refuses indefinite, non-minimal, over-long and truncated lengths with their reason', () => {
    derError(read([0x30, 0x80, 0x00, 0x00]), /^indefinite lengths are not DER \(test\)$/);
    derError(read([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]), /^length is not minimally encoded \(test\)$/);
    derError(read([0x04, 0x82, 0x00, 0x80, ...new Array<number>(0x80).fill(0)]), /^length is not minimally encoded \(test\)$/);
    derError(read([0x04, 0x85, 1, 0, 0, 0, 0]), /^length too large \(test\)$/);
    derError(read([0x04, 0x84, 0xff, 0xff, 0xff, 0xff]), /^test runs past the end of its container$/);
    derError(read([0x04, 0x82, 0x01]), /^unexpected end of data in the length of test$/);
    derError(read([0x04, 0x03, 1, 2]), /^test runs past the end of its container$/);
    derError(read([0x04]), /^unexpected end of data in the length of test$/);
    derError(read([]), /^unexpected end of data in test$/);
    derError(read([0x1f, 0x81, 0x00, 0x00]), /^high tag numbers are not used here \(test\)$/);
  });

  it('stays inside a child: a length that fits the input but not its parent is refused', () => {
    // SEQUENCE of 3 octets holding an OCTET STRING that claims 4: the outer input has the bytes, the parent does not.
    const outer = DerReader.inside(DerReader.of(Uint8Array.of(0x30, 0x03, 0x04, 0x04, 0x01, 0x02, 0x03)).read('outer'));
    derError(() => outer.read('inner'), /^inner runs past the end of its container$/);
  });

  it('checks the tag before the length and names the tags in hex', () => {
    derError(() => DerReader.of(Uint8Array.of(0x04, 0x80)).expect(Tag.bitString), /^expected tag 0x3, found 0x4$/);
    derError(() => DerReader.of(Uint8Array.of()).expect(Tag.sequence, 'Name'), /^unexpected end of data in Name$/);
    assert.equal(DerReader.of(Uint8Array.of(0x05, 0x00)).optional(Tag.integer), undefined);
  });

  it('refuses trailing bytes, and opens only constructed elements', () => {
    derError(() => readSingle(Uint8Array.of(0x05, 0x00, 0x00), Tag.null, 'NULL'), /^trailing bytes after NULL$/);
    const primitive = readSingle(Uint8Array.of(0x04, 0x02, 0x30, 0x00), Tag.octetString, 'OCTET STRING');
    derError(() => DerReader.inside(primitive), /^tag 0x4 is not constructed$/);
  });

  it('returns views of the input type: Buffer in, Buffer out; Uint8Array in, plain Uint8Array out', () => {
    const bytes = [0x30, 0x03, 0x02, 0x01, 0x07];
    const fromBuffer = readSingle(Buffer.from(bytes), Tag.sequence, 'b');
    assert.ok(Buffer.isBuffer(fromBuffer.content));
    const fromArray = readSingle(Uint8Array.from(bytes), Tag.sequence, 'u');
    assert.equal(Buffer.isBuffer(fromArray.content), false);
    assert.deepEqual([...fromArray.content], [0x02, 0x01, 0x07]);
    assert.deepEqual(
      readChildren(fromArray).map((c) => [c.tag, [...c.content]]),
      [[0x02, [0x07]]],
    );
  });

  it('checkStrictDer bounds depth and element count, and finds BER lengths at any depth', () => {
    let nested: Uint8Array = Uint8Array.of(0x05, 0x00);
    for (let i = 0; i < 30; i++) nested = tlv(Tag.sequence, nested);
    derError(() => checkStrictDer(nested, 'deep', { maxDepth: 24, maxElements: 100 }), /^deep: nested deeper than 24 levels$/);
    checkStrictDer(nested, 'deep', { maxDepth: 31, maxElements: 100 });
    const wide = derSequence(Array.from({ length: 50 }, () => Uint8Array.of(0x05, 0x00)));
    derError(() => checkStrictDer(wide, 'wide', { maxDepth: 4, maxElements: 50 }), /^wide: more than 50 elements$/);
    checkStrictDer(wide, 'wide', { maxDepth: 4, maxElements: 51 });
    // A non-minimal length two levels down: the outer TLVs are fine, the walk still refuses it.
    const ber = Uint8Array.of(0x30, 0x06, 0x30, 0x04, 0x04, 0x81, 0x01, 0x00);
    derError(() => checkStrictDer(ber, 'ber', { maxDepth: 8, maxElements: 10 }), /length is not minimally encoded/);
  });

  it('only ever throws DerError on random input (bounded fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const attempt of [
          () => checkStrictDer(bytes, 'fuzz', { maxDepth: 8, maxElements: 64 }),
          () => readChildren(readSingle(bytes, bytes[0] ?? 0, 'fuzz')),
          () => decodeOid(bytes),
        ]) {
          try {
            attempt();
          } catch (error) {
            if (!(error instanceof DerError)) throw error;
          }
        }
      }),
      { numRuns: 3000 },
    );
  });
});

describe('DER writer round trip', () => {
  it('writes the shortest length form at every boundary and reads the content back', () => {
    for (const [size, header] of [
      [0, 2],
      [127, 2],
      [128, 3],
      [255, 3],
      [256, 4],
      [65_535, 4],
      [65_536, 5],
    ] as const) {
      const content = Uint8Array.from({ length: size }, (_, i) => i & 0xff);
      const encoded = tlv(Tag.octetString, content.subarray(0, size >> 1), content.subarray(size >> 1));
      assert.equal(encoded.byteLength, header + size, `size ${size}`);
      assert.deepEqual(readSingle(encoded, Tag.octetString, 'round trip').content, content);
    }
    const parts = [Uint8Array.of(0x05, 0x00), encodeOid('2.5.29.17')];
    assert.deepEqual([...derSequence(parts)], [0x30, 0x07, 0x05, 0x00, 0x06, 0x03, 0x55, 0x1d, 0x11]);
  });

  it('encodes and decodes OIDs, and refuses non-minimal, truncated, over-long and oversized ones', () => {
    for (const oid of ['1.2.840.113549.1.1.11', '2.999.1', '0.39', '1.3.6.1.4.1.311.21.7', '2.25.9007199254740991']) {
      assert.equal(decodeOid(readSingle(encodeOid(oid), Tag.oid, 'OID').content), oid);
    }
    derError(() => decodeOid(Uint8Array.of(0x2a, 0x80, 0x01)), /^OBJECT IDENTIFIER arc is not minimally encoded$/);
    derError(() => decodeOid(Uint8Array.of(0x2a, 0x86)), /^OBJECT IDENTIFIER ends inside an arc$/);
    derError(() => decodeOid(new Uint8Array(65).fill(0x01)), /^OBJECT IDENTIFIER too long$/);
    const past2to53 = Uint8Array.of(0x2a, 0x90, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00);
    derError(() => decodeOid(past2to53), /^OBJECT IDENTIFIER arc too large$/);
    derError(() => decodeOid(Uint8Array.of()), /^empty OBJECT IDENTIFIER$/);
  });

  it('decodes small INTEGERs strictly (X.690 §8.3.2)', () => {
    assert.equal(decodeSmallInteger(Uint8Array.of(0x00, 0x80)), 128);
    assert.equal(decodeSmallInteger(Uint8Array.of(0x7f)), 127);
    derError(() => decodeSmallInteger(Uint8Array.of(0x00, 0x7f), 'pathLen'), /^pathLen: INTEGER is not minimally encoded$/);
    derError(() => decodeSmallInteger(Uint8Array.of(0xff)), /^INTEGER: negative INTEGER$/);
    derError(() => decodeSmallInteger(new Uint8Array(7).fill(0x01)), /^INTEGER: INTEGER too large$/);
  });

  it('decodes RFC 5280 §4.1.2.5 times, with the UTCTime pivot, and refuses impossible dates', () => {
    const time = (tag: number, text: string): number => decodeTime(readSingle(tlv(tag, Buffer.from(text, 'latin1')), tag, 't'), 't');
    assert.equal(time(Tag.utcTime, '500101000000Z'), Date.UTC(1950, 0, 1));
    assert.equal(time(Tag.utcTime, '491231235959Z'), Date.UTC(2049, 11, 31, 23, 59, 59));
    assert.equal(time(Tag.generalizedTime, '20500101000000Z'), Date.UTC(2050, 0, 1));
    derError(() => time(Tag.generalizedTime, '20230231000000Z'), /^t: impossible date 20230231000000Z$/);
    derError(() => time(Tag.utcTime, '2301010000Z'), /^t: malformed UTCTime$/);
    derError(() => time(Tag.generalizedTime, '20230101000000.5Z'), /^t: malformed GeneralizedTime$/);
  });
});
