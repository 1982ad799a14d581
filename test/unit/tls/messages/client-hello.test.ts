import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExtensionType, HandshakeType } from '../../../../src/tls/codec/enums.js';
import { decodeClientHello, encodeClientHello, type ClientHello } from '../../../../src/tls/codec/messages/client-hello.js';
import {
  assertAlert,
  buffer,
  checkMutatedInput,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  extensionBlock,
  resumed0rtt,
  RUNS,
  simple1rtt,
  traceMessage,
  u16,
  type CodecCase,
} from './codec-properties.js';

/** Moves pre_shared_key, if drawn, to the end, where §4.2.11 requires it. */
const clientHello: fc.Arbitrary<ClientHello> = fc
  .record({
    legacyVersion: u16,
    random: buffer(32, 32),
    legacySessionId: buffer(0, 32),
    cipherSuites: fc.array(u16, { minLength: 1, maxLength: 12 }),
    legacyCompressionMethods: buffer(1, 4),
    extensions: extensionBlock({ maxLength: 6 }),
  })
  .map((h) => ({
    ...h,
    extensions: [
      ...h.extensions.filter((e) => e.type !== ExtensionType.pre_shared_key),
      ...h.extensions.filter((e) => e.type === ExtensionType.pre_shared_key),
    ],
  }));

/** Offset of the extensions block: a hello cut exactly there is one without extensions. */
function extensionsOffset(h: ClientHello): number {
  return 2 + 32 + 1 + h.legacySessionId.length + 2 + 2 * h.cipherSuites.length + 1 + h.legacyCompressionMethods.length;
}

const codec: CodecCase<ClientHello> = {
  arbitrary: clientHello,
  encode: encodeClientHello,
  decode: decodeClientHello,
  // decodeClientHello keeps a hello without any extension block decodable (TLS 1.2 and older send
  // them) so the server can answer protocol_version; that one prefix is a complete encoding.
  decodablePrefixes: (h) => [extensionsOffset(h)],
  isNonCanonical: (bytes, h) => h.extensions.length === 0 && bytes.length === extensionsOffset(h),
};

describe('ClientHello codec (RFC 8446 §4.1.2)', () => {
  it('decodes RFC 8448 §3 ClientHello field by field and re-encodes it byte for byte', () => {
    const m = traceMessage(simple1rtt, '{client}  construct a ClientHello handshake message', 'ClientHello');
    assert.equal(m.type, HandshakeType.client_hello);
    const hello = decodeClientHello(m.body);
    assert.equal(hello.legacyVersion, 0x0303);
    assert.equal(hello.random.toString('hex'), 'cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7');
    assert.equal(hello.legacySessionId.length, 0);
    assert.deepEqual(hello.cipherSuites, [0x1301, 0x1303, 0x1302]);
    assert.deepEqual([...hello.legacyCompressionMethods], [0]);
    assert.deepEqual(
      hello.extensions.map((e) => e.type),
      [0, 0xff01, 10, 35, 51, 43, 13, 45, 28],
    );
    assert.ok(encodeClientHello(hello).equals(m.body));
  });

  it('decodes RFC 8448 §4 ClientHello with pre_shared_key last and padding, and re-encodes it byte for byte', () => {
    const m = traceMessage(resumed0rtt, '{client}  send handshake record', 'payload');
    const hello = decodeClientHello(m.body);
    assert.equal(hello.extensions.at(-1)?.type, ExtensionType.pre_shared_key);
    assert.ok(hello.extensions.some((e) => e.type === ExtensionType.padding));
    assert.ok(encodeClientHello(hello).equals(m.body));
  });

  it('refuses RFC 8448 §4 truncated ClientHello (binders cut off) with decode_error', () => {
    const prefix = resumed0rtt.bytes('{client}  calculate PSK binder', 'ClientHello prefix');
    assertAlert(() => decodeClientHello(prefix.subarray(4)), 'decode_error');
  });

  it('round-trips random ClientHellos', () => checkRoundTrip(codec));
  it('decodes no strict prefix except the one ending right before the extensions block (Go: TestMarshalUnmarshal)', () =>
    checkNoStrictPrefix(codec));
  it('refuses trailing bytes after the extensions block with decode_error (§4)', () => checkTrailingRejected(codec));
  it('answers random bytes only with decode_error or illegal_parameter', () => checkRandomInput(codec));
  it('answers mutated ClientHellos only with decode_error or illegal_parameter, and re-encodes whatever it accepts', () =>
    checkMutatedInput(codec));

  it('decodes a hello that stops before the extensions block as one without extensions (so the server can say protocol_version)', () => {
    fc.assert(
      fc.property(clientHello, (h) => {
        const cut = encodeClientHello(h).subarray(0, extensionsOffset(h));
        assert.deepEqual(decodeClientHello(cut).extensions, []);
      }),
      { numRuns: RUNS / 4 },
    );
  });

  it('sends illegal_parameter for a duplicated extension (§4.2)', () => {
    fc.assert(
      fc.property(
        clientHello.filter((h) => h.extensions.some((e) => e.type !== ExtensionType.pre_shared_key)),
        fc.nat(),
        (h, pick) => {
          const candidates = h.extensions.filter((e) => e.type !== ExtensionType.pre_shared_key);
          const dup = candidates[pick % candidates.length]!;
          const extensions = [dup, ...h.extensions];
          assertAlert(() => decodeClientHello(encodeClientHello({ ...h, extensions })), 'illegal_parameter');
        },
      ),
      { numRuns: RUNS / 2 },
    );
  });

  it('sends illegal_parameter when pre_shared_key is not the last extension (§4.2.11)', () => {
    fc.assert(
      fc.property(
        clientHello,
        buffer(0, 40),
        extensionBlock({ minLength: 1, maxLength: 4, without: [ExtensionType.pre_shared_key] }),
        (h, psk, after) => {
          const before = h.extensions.filter((e) => e.type !== ExtensionType.pre_shared_key && !after.some((a) => a.type === e.type));
          const extensions = [...before, { type: ExtensionType.pre_shared_key, data: psk }, ...after];
          assertAlert(() => decodeClientHello(encodeClientHello({ ...h, extensions })), 'illegal_parameter');
        },
      ),
      { numRuns: RUNS / 2 },
    );
  });

  it('accepts pre_shared_key as the only or last extension (§4.2.11)', () => {
    const base = decodeClientHello(traceMessage(simple1rtt, '{client}  construct a ClientHello handshake message', 'ClientHello').body);
    const psk = { type: ExtensionType.pre_shared_key, data: Buffer.of(1, 2, 3) };
    assert.equal(decodeClientHello(encodeClientHello({ ...base, extensions: [psk] })).extensions.length, 1);
    assert.equal(
      decodeClientHello(encodeClientHello({ ...base, extensions: [...base.extensions, psk] })).extensions.at(-1)?.type,
      ExtensionType.pre_shared_key,
    );
  });

  it('sends decode_error for an odd-length or empty cipher_suites list (§4.1.2: <2..2^16-2>)', () => {
    const body = traceMessage(simple1rtt, '{client}  construct a ClientHello handshake message', 'ClientHello').body;
    // cipher_suites length sits after version (2), random (32) and an empty session id (1).
    const odd = Buffer.from(body);
    odd.writeUInt16BE(5, 35);
    assertAlert(() => decodeClientHello(odd), 'decode_error');
    const empty = Buffer.concat([body.subarray(0, 35), Buffer.of(0, 0), body.subarray(35 + 2 + 6)]);
    assertAlert(() => decodeClientHello(empty), 'decode_error');
  });

  it('sends decode_error for a legacy_session_id over 32 bytes (§4.1.2)', () => {
    const body = traceMessage(simple1rtt, '{client}  construct a ClientHello handshake message', 'ClientHello').body;
    const long = Buffer.concat([body.subarray(0, 34), Buffer.of(33), Buffer.alloc(33), body.subarray(35)]);
    assertAlert(() => decodeClientHello(long), 'decode_error');
  });

  it('sends decode_error for an empty compression methods list (§4.1.2: <1..2^8-1>)', () => {
    const h = decodeClientHello(traceMessage(simple1rtt, '{client}  construct a ClientHello handshake message', 'ClientHello').body);
    const bytes = encodeClientHello({ ...h, legacyCompressionMethods: Buffer.alloc(0) });
    assertAlert(() => decodeClientHello(bytes), 'decode_error');
  });
});
