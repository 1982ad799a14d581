import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { RawExtension } from '../../../../src/tls/codec/extensions.js';
import { decodeEncryptedExtensions, encodeEncryptedExtensions } from '../../../../src/tls/codec/messages/encrypted-extensions.js';
import {
  assertAlert,
  checkMutatedInput,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  extensionBlock,
  RUNS,
  simple1rtt,
  traceMessage,
  type CodecCase,
} from './codec-properties.js';

const codec: CodecCase<RawExtension[]> = {
  arbitrary: extensionBlock({ maxLength: 8 }),
  encode: encodeEncryptedExtensions,
  decode: decodeEncryptedExtensions,
};

describe('EncryptedExtensions codec (RFC 8446 §4.3.1)', () => {
  it('decodes RFC 8448 §3 EncryptedExtensions and re-encodes it byte for byte', () => {
    const m = traceMessage(simple1rtt, '{server}  construct an EncryptedExtensions handshake message', 'EncryptedExtensions');
    const extensions = decodeEncryptedExtensions(m.body);
    assert.deepEqual(
      extensions.map((e) => e.type),
      [10, 28, 0],
    );
    assert.ok(encodeEncryptedExtensions(extensions).equals(m.body));
  });

  it('decodes an empty block (two zero bytes) as no extensions', () => {
    assert.deepEqual(decodeEncryptedExtensions(Buffer.of(0, 0)), []);
  });

  it('round-trips random extension blocks', () => checkRoundTrip(codec));
  it('decodes no strict prefix (Go: TestMarshalUnmarshal)', () => checkNoStrictPrefix(codec));
  it('refuses trailing bytes with decode_error (§4)', () => checkTrailingRejected(codec));
  it('answers random bytes only with decode_error or illegal_parameter', () => checkRandomInput(codec));
  it('answers mutated blocks only with TlsAlertErrors, and re-encodes whatever it accepts', () => checkMutatedInput(codec));

  it('sends illegal_parameter for a duplicated extension (§4.2)', () => {
    fc.assert(
      fc.property(extensionBlock({ minLength: 1 }), fc.nat(), fc.nat(), (block, pick, at) => {
        const dup = block[pick % block.length]!;
        const extensions = [...block];
        extensions.splice(at % (extensions.length + 1), 0, dup);
        assertAlert(() => decodeEncryptedExtensions(encodeEncryptedExtensions(extensions)), 'illegal_parameter');
      }),
      { numRuns: RUNS / 2 },
    );
  });
});
