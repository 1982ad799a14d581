import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Reader } from '../../../../src/tls/codec/reader.js';
import { Writer } from '../../../../src/tls/codec/writer.js';
import { DecodeError } from '../../../../src/tls/alert.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';

/**
 * The codec cursor pair, checked the way Go's handshake_messages_test.go
 * checks messages: exact vector bytes, random round trips, no strict prefix
 * parses, trailing bytes are rejected, and random input only ever throws
 * DecodeError.
 */

const s3 = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');

type Width = 1 | 2 | 3;

type Item =
  | { readonly kind: 'u8' | 'u16' | 'u24' | 'u32'; readonly value: number }
  | { readonly kind: 'fixed'; readonly value: Buffer }
  | { readonly kind: 'opaque'; readonly width: Width; readonly value: Buffer }
  | { readonly kind: 'nested'; readonly width: Width; readonly items: readonly Item[] };

function encodeItems(w: Writer, items: readonly Item[]): void {
  for (const item of items) {
    switch (item.kind) {
      case 'u8':
        w.u8(item.value);
        break;
      case 'u16':
        w.u16(item.value);
        break;
      case 'u24':
        w.u24(item.value);
        break;
      case 'u32':
        w.u32(item.value);
        break;
      case 'fixed':
        w.bytes(item.value);
        break;
      case 'opaque':
        w.opaque(item.width, item.value);
        break;
      case 'nested':
        w.vector(item.width, (inner) => encodeItems(inner, item.items));
        break;
      default: {
        const never: never = item;
        throw new Error(`unreachable ${String(never)}`);
      }
    }
  }
}

/** Decodes `shape` (the same schema, values ignored except fixed lengths) and returns what was read. */
function decodeItems(r: Reader, shape: readonly Item[]): Item[] {
  return shape.map((item): Item => {
    switch (item.kind) {
      case 'u8':
        return { kind: 'u8', value: r.u8() };
      case 'u16':
        return { kind: 'u16', value: r.u16() };
      case 'u24':
        return { kind: 'u24', value: r.u24() };
      case 'u32':
        return { kind: 'u32', value: r.u32() };
      case 'fixed':
        return { kind: 'fixed', value: r.bytesN(item.value.length) };
      case 'opaque':
        return { kind: 'opaque', width: item.width, value: r.vector(item.width, 'opaque') };
      case 'nested': {
        const sub = r.sub(item.width, 'nested');
        const items = decodeItems(sub, item.items);
        sub.expectEmpty('nested');
        return { kind: 'nested', width: item.width, items };
      }
      default: {
        const never: never = item;
        throw new Error(`unreachable ${String(never)}`);
      }
    }
  });
}

function encode(items: readonly Item[]): Buffer {
  const w = new Writer(8);
  encodeItems(w, items);
  return Buffer.from(w.finish());
}

/** A whole decode: the items, then nothing left (rustls' expect_empty). */
function decode(bytes: Buffer, shape: readonly Item[]): Item[] {
  const r = Reader.of(bytes);
  const items = decodeItems(r, shape);
  r.expectEmpty('items');
  return items;
}

const width = fc.constantFrom<Width>(1, 2, 3);
const bytes = (maxLength: number): fc.Arbitrary<Buffer> => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b));

/** fast-check builds records with a null prototype; deepStrictEqual needs plain objects. */
const plain = <T extends object>(arb: fc.Arbitrary<T>): fc.Arbitrary<T> => arb.map((v) => ({ ...v }));

const flatItem: fc.Arbitrary<Item> = fc.oneof(
  plain(fc.record({ kind: fc.constant('u8' as const), value: fc.integer({ min: 0, max: 0xff }) })),
  plain(fc.record({ kind: fc.constant('u16' as const), value: fc.integer({ min: 0, max: 0xffff }) })),
  plain(fc.record({ kind: fc.constant('u24' as const), value: fc.integer({ min: 0, max: 0xffffff }) })),
  plain(fc.record({ kind: fc.constant('u32' as const), value: fc.integer({ min: 0, max: 0xffffffff }) })),
  plain(fc.record({ kind: fc.constant('fixed' as const), value: bytes(40) })),
  plain(fc.record({ kind: fc.constant('opaque' as const), width, value: bytes(300) })),
);
const nestedItem: fc.Arbitrary<Item> = fc
  .tuple(width, fc.array(flatItem, { maxLength: 5 }))
  .map(([w, list]): Item => ({ kind: 'nested', width: w, items: list }));
const item: fc.Arbitrary<Item> = fc.oneof({ weight: 4, arbitrary: flatItem }, { weight: 1, arbitrary: nestedItem });
const items = fc.array(item, { maxLength: 8 });

function isDecodeError(err: unknown): boolean {
  return err instanceof DecodeError && err.alert === 'decode_error';
}

// ---- RFC 8446 message layouts used as exact vectors -------------------------

interface Extension {
  readonly type: number;
  readonly data: Buffer;
}

interface ServerHello {
  readonly legacyVersion: number;
  readonly random: Buffer;
  readonly legacySessionIdEcho: Buffer;
  readonly cipherSuite: number;
  readonly legacyCompressionMethod: number;
  readonly extensions: readonly Extension[];
}

interface ClientHello {
  readonly legacyVersion: number;
  readonly random: Buffer;
  readonly legacySessionId: Buffer;
  readonly cipherSuites: readonly number[];
  readonly legacyCompressionMethods: Buffer;
  readonly extensions: readonly Extension[];
}

interface NewSessionTicket {
  readonly lifetime: number;
  readonly ageAdd: number;
  readonly nonce: Buffer;
  readonly ticket: Buffer;
  readonly extensions: readonly Extension[];
}

function decodeExtensions(r: Reader): Extension[] {
  const list = r.sub(2, 'extensions');
  const out: Extension[] = [];
  while (!list.isEmpty()) out.push({ type: list.u16('extension_type'), data: list.vector(2, 'extension_data') });
  return out;
}

function encodeExtensions(w: Writer, extensions: readonly Extension[]): void {
  w.vector(2, (l) => {
    for (const e of extensions) l.u16(e.type).opaque(2, e.data);
  });
}

function decodeHandshake(bytes: Buffer, msgType: number): Reader {
  const r = Reader.of(bytes);
  if (r.u8('msg_type') !== msgType) throw new DecodeError('unexpected msg_type');
  const body = r.sub(3, 'handshake body');
  r.expectEmpty('handshake');
  return body;
}

function decodeServerHello(bytes: Buffer): ServerHello {
  const r = decodeHandshake(bytes, 2);
  const sh = {
    legacyVersion: r.u16('legacy_version'),
    random: r.bytesN(32, 'random'),
    legacySessionIdEcho: r.vector(1, 'legacy_session_id_echo', 0, 32),
    cipherSuite: r.u16('cipher_suite'),
    legacyCompressionMethod: r.u8('legacy_compression_method'),
    extensions: decodeExtensions(r),
  };
  r.expectEmpty('ServerHello');
  return sh;
}

function encodeServerHello(sh: ServerHello): Buffer {
  const w = new Writer();
  w.u8(2).vector(3, (b) => {
    b.u16(sh.legacyVersion).bytes(sh.random).opaque(1, sh.legacySessionIdEcho).u16(sh.cipherSuite).u8(sh.legacyCompressionMethod);
    encodeExtensions(b, sh.extensions);
  });
  return Buffer.from(w.finish());
}

function decodeClientHello(bytes: Buffer): ClientHello {
  const r = decodeHandshake(bytes, 1);
  const legacyVersion = r.u16('legacy_version');
  const random = r.bytesN(32, 'random');
  const legacySessionId = r.vector(1, 'legacy_session_id', 0, 32);
  const suites = r.sub(2, 'cipher_suites', 2, 0xfffe);
  const cipherSuites: number[] = [];
  while (!suites.isEmpty()) cipherSuites.push(suites.u16('cipher_suite'));
  const legacyCompressionMethods = r.vector(1, 'legacy_compression_methods', 1);
  const extensions = decodeExtensions(r);
  r.expectEmpty('ClientHello');
  return { legacyVersion, random, legacySessionId, cipherSuites, legacyCompressionMethods, extensions };
}

function encodeClientHello(ch: ClientHello): Buffer {
  const w = new Writer();
  w.u8(1).vector(3, (b) => {
    b.u16(ch.legacyVersion).bytes(ch.random).opaque(1, ch.legacySessionId);
    b.vector(2, (l) => {
      for (const s of ch.cipherSuites) l.u16(s);
    });
    b.opaque(1, ch.legacyCompressionMethods);
    encodeExtensions(b, ch.extensions);
  });
  return Buffer.from(w.finish());
}

function decodeNewSessionTicket(bytes: Buffer): NewSessionTicket {
  const r = decodeHandshake(bytes, 4);
  const nst = {
    lifetime: r.u32('ticket_lifetime'),
    ageAdd: r.u32('ticket_age_add'),
    nonce: r.vector(1, 'ticket_nonce'),
    ticket: r.vector(2, 'ticket', 1),
    extensions: decodeExtensions(r),
  };
  r.expectEmpty('NewSessionTicket');
  return nst;
}

function encodeNewSessionTicket(nst: NewSessionTicket): Buffer {
  const w = new Writer();
  w.u8(4).vector(3, (b) => {
    b.u32(nst.lifetime).u32(nst.ageAdd).opaque(1, nst.nonce).opaque(2, nst.ticket);
    encodeExtensions(b, nst.extensions);
  });
  return Buffer.from(w.finish());
}

const clientHelloBytes = s3.bytes('{client}  construct a ClientHello handshake message', 'ClientHello (196 octets)');
const serverHelloBytes = s3.bytes('{server}  construct a ServerHello handshake message', 'ServerHello (90 octets)');
const ticketBytes = s3.bytes('{server}  construct a NewSessionTicket handshake message', 'NewSessionTicket (205 octets)');

const messageVectors: readonly { readonly name: string; readonly bytes: Buffer; readonly decode: (b: Buffer) => unknown }[] = [
  { name: 'ClientHello', bytes: clientHelloBytes, decode: decodeClientHello },
  { name: 'ServerHello', bytes: serverHelloBytes, decode: decodeServerHello },
  { name: 'NewSessionTicket', bytes: ticketBytes, decode: decodeNewSessionTicket },
];

describe('Reader and Writer on RFC 8448 §3 messages', () => {
  it('decodes the ServerHello of RFC 8448 §3 and re-encodes the exact bytes', () => {
    const sh = decodeServerHello(serverHelloBytes);
    assert.equal(sh.legacyVersion, 0x0303);
    assert.equal(sh.cipherSuite, 0x1301);
    assert.equal(sh.legacySessionIdEcho.length, 0);
    assert.equal(sh.legacyCompressionMethod, 0);
    assert.deepEqual(
      sh.extensions.map((e) => e.type),
      [51, 43],
    );
    const keyShare = sh.extensions[0];
    assert.ok(keyShare !== undefined);
    const serverPublic = s3.bytes('{server}  create an ephemeral x25519 key pair', 'public key (32 octets)');
    assert.deepEqual(keyShare.data, Buffer.concat([Buffer.of(0x00, 0x1d, 0x00, 0x20), serverPublic]));
    assert.deepEqual(sh.extensions[1]?.data, Buffer.of(0x03, 0x04));
    assert.deepEqual(encodeServerHello(sh), serverHelloBytes);
  });

  it('decodes the ClientHello of RFC 8448 §3 and re-encodes the exact bytes', () => {
    const ch = decodeClientHello(clientHelloBytes);
    assert.equal(ch.legacyVersion, 0x0303);
    assert.deepEqual(ch.cipherSuites, [0x1301, 0x1303, 0x1302]);
    assert.deepEqual(ch.legacyCompressionMethods, Buffer.of(0));
    assert.deepEqual(
      ch.extensions.map((e) => e.type),
      [0, 0xff01, 10, 35, 51, 43, 13, 45, 28],
    );
    assert.deepEqual(encodeClientHello(ch), clientHelloBytes);
  });

  it('decodes the NewSessionTicket of RFC 8448 §3 and re-encodes the exact bytes', () => {
    const nst = decodeNewSessionTicket(ticketBytes);
    assert.equal(nst.lifetime, 30);
    assert.equal(nst.ageAdd, 0xfad6aac5);
    assert.deepEqual(nst.nonce, Buffer.of(0, 0));
    assert.equal(nst.ticket.length, 0xb2);
    // early_data with max_early_data_size 1024 (RFC 8446 §4.2.10)
    assert.deepEqual(nst.extensions, [{ type: 42, data: Buffer.of(0, 0, 4, 0) }]);
    assert.deepEqual(encodeNewSessionTicket(nst), ticketBytes);
  });

  for (const v of messageVectors) {
    it(`rejects every strict prefix of the RFC 8448 ${v.name} with DecodeError`, () => {
      for (let n = 0; n < v.bytes.length; n++) {
        assert.throws(() => v.decode(v.bytes.subarray(0, n)), isDecodeError, `prefix of ${n} bytes`);
      }
    });

    it(`rejects the RFC 8448 ${v.name} with a trailing byte (decode_error, RFC 8446 §4)`, () => {
      // The outer handshake length no longer covers the message, so the outer expectEmpty fires.
      assert.throws(() => v.decode(Buffer.concat([v.bytes, Buffer.of(0)])), isDecodeError);
    });

    it(`rejects the RFC 8448 ${v.name} with a body longer than its fields (decode_error)`, () => {
      // Same bytes plus one, with the handshake length bumped to cover it: the inner expectEmpty fires.
      const grown = Buffer.concat([v.bytes, Buffer.of(0)]);
      grown.writeUIntBE(grown.length - 4, 1, 3);
      assert.throws(() => v.decode(grown), isDecodeError);
    });
  }
});

describe('Reader and Writer', () => {
  it('round-trips random item lists', () => {
    fc.assert(
      fc.property(items, (list) => {
        const bytes = encode(list);
        assert.deepEqual(decode(bytes, list), list);
      }),
      { numRuns: 300 },
    );
  });

  it('parses no strict prefix of an encoding (Go handshake_messages_test)', () => {
    fc.assert(
      fc.property(items, (list) => {
        const bytes = encode(list);
        for (let n = 0; n < bytes.length; n++) {
          assert.throws(() => decode(bytes.subarray(0, n), list), isDecodeError, `prefix of ${n} of ${bytes.length}`);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('rejects trailing bytes in expectEmpty (RFC 8446 §4: decode_error)', () => {
    fc.assert(
      fc.property(items, fc.uint8Array({ minLength: 1, maxLength: 8 }), (list, extra) => {
        const bytes = Buffer.concat([encode(list), extra]);
        const r = Reader.of(bytes);
        assert.deepEqual(decodeItems(r, list), list);
        assert.equal(r.remaining, extra.length);
        assert.throws(() => r.expectEmpty('items'), isDecodeError);
      }),
      { numRuns: 200 },
    );
  });

  it('only ever throws DecodeError on random input', () => {
    fc.assert(
      fc.property(items, fc.uint8Array({ maxLength: 200 }), (shape, input) => {
        try {
          decode(Buffer.from(input), shape);
        } catch (err) {
          assert.ok(isDecodeError(err), `unexpected ${String(err)}`);
        }
        for (const v of messageVectors) {
          try {
            v.decode(Buffer.from(input));
          } catch (err) {
            assert.ok(isDecodeError(err), `${v.name}: unexpected ${String(err)}`);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('only ever throws DecodeError on mutated RFC 8448 messages', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...messageVectors),
        fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 0xff }) }), { minLength: 1, maxLength: 4 }),
        (v, edits) => {
          const mutated = Buffer.from(v.bytes);
          for (const e of edits) mutated[e.at % mutated.length] = e.value;
          try {
            v.decode(mutated);
          } catch (err) {
            assert.ok(isDecodeError(err), `${v.name}: unexpected ${String(err)}`);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('writes integers big-endian at their full width', () => {
    const w = new Writer(1);
    w.u8(0xab).u16(0x0102).u24(0x030405).u32(0xfffefdfc);
    assert.deepEqual(Buffer.from(w.finish()), Buffer.from('ab0102030405fffefdfc', 'hex'));
    const r = Reader.of(w.finish());
    assert.equal(r.u8(), 0xab);
    assert.equal(r.u16(), 0x0102);
    assert.equal(r.u24(), 0x030405);
    assert.equal(r.u32(), 0xfffefdfc);
    assert.ok(r.isEmpty());
  });

  it('round-trips the extreme values of every integer width', () => {
    const extremes: Item[] = [
      { kind: 'u8', value: 0 },
      { kind: 'u8', value: 0xff },
      { kind: 'u16', value: 0xffff },
      { kind: 'u24', value: 0xffffff },
      { kind: 'u32', value: 0xffffffff },
      { kind: 'u32', value: 0 },
    ];
    assert.deepEqual(decode(encode(extremes), extremes), extremes);
  });

  it('fills in 1-, 2- and 3-byte length prefixes after the body is written', () => {
    const w = new Writer(2);
    w.vector(1, (a) => a.u8(7))
      .vector(2, (b) => b.bytes(Buffer.alloc(300, 1)))
      .vector(3, (c) => c.vector(1, (d) => d.u16(9)));
    const out = Buffer.from(w.finish());
    assert.deepEqual(out.subarray(0, 2), Buffer.of(1, 7));
    assert.equal(out.readUInt16BE(2), 300);
    assert.deepEqual(out.subarray(304), Buffer.of(0, 0, 3, 2, 0, 9));
  });

  it('refuses a vector longer than its length prefix can state', () => {
    assert.throws(() => new Writer().opaque(1, Buffer.alloc(256)), RangeError);
    assert.throws(() => new Writer().opaque(2, Buffer.alloc(0x10000)), RangeError);
    assert.doesNotThrow(() => new Writer().opaque(1, Buffer.alloc(255)));
  });

  it('sends decode_error for a vector length outside the RFC bounds', () => {
    const empty = Buffer.of(0x00, 0x00);
    assert.throws(() => Reader.of(empty).vector(2, 'ticket', 1), isDecodeError);
    const long = Buffer.concat([Buffer.of(33), Buffer.alloc(33)]);
    assert.throws(() => Reader.of(long).vector(1, 'legacy_session_id', 0, 32), isDecodeError);
    assert.deepEqual(Reader.of(Buffer.concat([Buffer.of(32), Buffer.alloc(32)])).vector(1, 'legacy_session_id', 0, 32), Buffer.alloc(32));
  });

  it('keeps a sub-reader within its vector', () => {
    const r = Reader.of(Buffer.of(0x02, 0xaa, 0xbb, 0xcc));
    const sub = r.sub(1, 'inner');
    assert.equal(sub.u16(), 0xaabb);
    assert.throws(() => sub.u8(), isDecodeError);
    assert.equal(r.u8(), 0xcc);
    r.expectEmpty('outer');
  });

  it('reads rest() to the end and then reports empty', () => {
    const r = Reader.of(Buffer.of(1, 2, 3));
    r.u8();
    assert.deepEqual(r.rest(), Buffer.of(2, 3));
    assert.ok(r.isEmpty());
    assert.equal(r.position, 3);
  });

  it('reads a Uint8Array view without copying past its window', () => {
    const backing = new Uint8Array([9, 9, 1, 2, 9]);
    const r = Reader.of(backing.subarray(2, 4));
    assert.equal(r.u16(), 0x0102);
    assert.throws(() => r.u8(), isDecodeError);
  });
});
