import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExtensionType } from '../../../../src/tls/codec/enums.js';
import {
  decodeServerHello,
  encodeServerHello,
  HELLO_RETRY_REQUEST_RANDOM,
  isHelloRetryRequest,
  type ServerHello,
} from '../../../../src/tls/codec/messages/server-hello.js';
import {
  assertAlert,
  buffer,
  checkMutatedInput,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  extensionBlock,
  RUNS,
  simple1rtt,
  traceMessage,
  u16,
  type CodecCase,
} from './codec-properties.js';

const serverHello: fc.Arbitrary<ServerHello> = fc
  .record({ random: buffer(32, 32), legacySessionIdEcho: buffer(0, 32), cipherSuite: u16, extensions: extensionBlock() })
  .map((m) => ({ ...m }));

const codec: CodecCase<ServerHello> = {
  arbitrary: serverHello,
  encode: encodeServerHello,
  decode: decodeServerHello,
  // §4.1.3: a legacy_version other than 0x0303 is a server that does not speak TLS 1.3.
  hostileAlerts: ['decode_error', 'illegal_parameter', 'protocol_version'],
};

/** Offset of legacy_compression_method in an encoded ServerHello. */
function compressionOffset(m: ServerHello): number {
  return 2 + 32 + 1 + m.legacySessionIdEcho.length + 2;
}

describe('ServerHello and HelloRetryRequest codec (RFC 8446 §4.1.3-4.1.4)', () => {
  it('decodes RFC 8448 §3 ServerHello field by field and re-encodes it byte for byte', () => {
    const m = traceMessage(simple1rtt, '{server}  construct a ServerHello handshake message', 'ServerHello');
    const hello = decodeServerHello(m.body);
    assert.equal(hello.random.toString('hex'), 'a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e26928');
    assert.equal(hello.cipherSuite, 0x1301);
    assert.deepEqual(
      hello.extensions.map((e) => e.type),
      [ExtensionType.key_share, ExtensionType.supported_versions],
    );
    assert.equal(isHelloRetryRequest(hello), false);
    assert.ok(encodeServerHello(hello).equals(m.body));
  });

  it('marks a HelloRetryRequest by SHA-256("HelloRetryRequest") as its random (§4.1.3)', () => {
    assert.equal(HELLO_RETRY_REQUEST_RANDOM.toString('hex'), 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c');
    const hrr = decodeServerHello(
      encodeServerHello({ random: HELLO_RETRY_REQUEST_RANDOM, legacySessionIdEcho: Buffer.alloc(0), cipherSuite: 0x1301, extensions: [] }),
    );
    assert.equal(isHelloRetryRequest(hrr), true);
  });

  it('round-trips random ServerHellos', () => checkRoundTrip(codec));
  it('decodes no strict prefix of a ServerHello (Go: TestMarshalUnmarshal)', () => checkNoStrictPrefix(codec));
  it('refuses trailing bytes with decode_error (§4)', () => checkTrailingRejected(codec));
  it('answers random bytes only with decode_error, illegal_parameter or protocol_version', () => checkRandomInput(codec));
  it('answers mutated ServerHellos only with TlsAlertErrors, and re-encodes whatever it accepts', () => checkMutatedInput(codec));

  it('sends protocol_version for a legacy_version other than 0x0303 (§4.1.3)', () => {
    fc.assert(
      fc.property(
        serverHello,
        u16.filter((v) => v !== 0x0303),
        (m, version) => {
          const bytes = encodeServerHello(m);
          bytes.writeUInt16BE(version, 0);
          assertAlert(() => decodeServerHello(bytes), 'protocol_version');
        },
      ),
      { numRuns: RUNS / 2 },
    );
  });

  it('sends illegal_parameter for a non-zero legacy_compression_method (§4.1.3)', () => {
    fc.assert(
      fc.property(serverHello, fc.integer({ min: 1, max: 255 }), (m, method) => {
        const bytes = encodeServerHello(m);
        bytes[compressionOffset(m)] = method;
        assertAlert(() => decodeServerHello(bytes), 'illegal_parameter');
      }),
      { numRuns: RUNS / 2 },
    );
  });

  it('sends illegal_parameter for a duplicated extension (§4.2)', () => {
    fc.assert(
      fc.property(
        serverHello.filter((m) => m.extensions.length > 0),
        fc.nat(),
        (m, pick) => {
          const dup = m.extensions[pick % m.extensions.length]!;
          assertAlert(() => decodeServerHello(encodeServerHello({ ...m, extensions: [...m.extensions, dup] })), 'illegal_parameter');
        },
      ),
      { numRuns: RUNS / 2 },
    );
  });

  it('sends decode_error for a legacy_session_id_echo over 32 bytes (§4.1.3)', () => {
    const body = traceMessage(simple1rtt, '{server}  construct a ServerHello handshake message', 'ServerHello').body;
    const long = Buffer.concat([body.subarray(0, 34), Buffer.of(33), Buffer.alloc(33), body.subarray(35)]);
    assertAlert(() => decodeServerHello(long), 'decode_error');
  });
});
