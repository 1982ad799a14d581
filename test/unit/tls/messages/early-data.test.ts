import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeEndOfEarlyData,
  decodeMaxEarlyDataSize,
  EMPTY_EARLY_DATA,
  encodeEndOfEarlyData,
  encodeMaxEarlyDataSize,
} from '../../../../src/tls/codec/early-data.js';
import { ExtensionType } from '../../../../src/tls/codec/enums.js';
import { checkExtensionsAllowed, expectEmptyExtension, findExtension } from '../../../../src/tls/codec/extensions.js';
import { decodeClientHello } from '../../../../src/tls/codec/messages/client-hello.js';
import { decodeNewSessionTicket } from '../../../../src/tls/codec/messages/new-session-ticket.js';
import { decodeEncryptedExtensions, encodeEncryptedExtensions } from '../../../../src/tls/codec/messages/encrypted-extensions.js';
import {
  assertAlert,
  buffer,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  resumed0rtt,
  RUNS,
  simple1rtt,
  traceMessage,
  u32,
  type CodecCase,
} from './codec-properties.js';

const maxEarlyDataSize: CodecCase<number> = { arbitrary: u32, encode: encodeMaxEarlyDataSize, decode: decodeMaxEarlyDataSize };

describe('early_data extension (RFC 8446 §4.2.10)', () => {
  it("reads RFC 8448 §3's NewSessionTicket early_data: max_early_data_size 1024", () => {
    const m = traceMessage(simple1rtt, '{server}  construct a NewSessionTicket handshake message', 'NewSessionTicket');
    const data = findExtension(decodeNewSessionTicket(m.body).extensions, ExtensionType.early_data);
    assert.ok(data !== undefined);
    assert.deepEqual(data, Buffer.from('00000400', 'hex'));
    assert.equal(decodeMaxEarlyDataSize(data), 1024);
    assert.deepEqual(encodeMaxEarlyDataSize(1024), data);
  });

  it("reads RFC 8448 §4's ClientHello early_data: empty, and before pre_shared_key (which is last)", () => {
    // The whole ClientHello, binders included: the payload of its record.
    const hello = resumed0rtt.bytes('{client}  send handshake record', 'payload (512 octets)');
    const extensions = decodeClientHello(hello.subarray(4)).extensions;
    const types = extensions.map((e) => e.type);
    assert.equal(types.at(-1), ExtensionType.pre_shared_key);
    const data = findExtension(extensions, ExtensionType.early_data);
    assert.deepEqual(data, EMPTY_EARLY_DATA);
    assert.ok(types.indexOf(ExtensionType.early_data) < types.indexOf(ExtensionType.pre_shared_key));
  });

  it('round-trips max_early_data_size over the whole u32 range', () => checkRoundTrip(maxEarlyDataSize));
  it('decodes no strict prefix of max_early_data_size', () => checkNoStrictPrefix(maxEarlyDataSize));
  it('refuses trailing bytes after max_early_data_size with decode_error', () => checkTrailingRejected(maxEarlyDataSize));
  it('answers random bytes only with decode_error', () => checkRandomInput(maxEarlyDataSize));

  it('sends decode_error for a non-empty early_data in ClientHello or EncryptedExtensions', () => {
    fc.assert(
      fc.property(buffer(1, 8), (data) => assertAlert(() => expectEmptyExtension(data, 'early_data'), 'decode_error')),
      { numRuns: RUNS },
    );
  });

  it('round-trips EncryptedExtensions carrying the empty early_data that accepts 0-RTT', () => {
    const extensions = [
      { type: ExtensionType.server_name, data: Buffer.alloc(0) },
      { type: ExtensionType.early_data, data: EMPTY_EARLY_DATA },
    ];
    const body = encodeEncryptedExtensions(extensions);
    assert.deepEqual(body, Buffer.from('0008' + '00000000' + '002a0000', 'hex'));
    assert.deepEqual(decodeEncryptedExtensions(body), extensions);
  });

  it('is allowed in ClientHello, EncryptedExtensions and NewSessionTicket, and is illegal_parameter in ServerHello (§4.2)', () => {
    const early = [{ type: ExtensionType.early_data, data: EMPTY_EARLY_DATA }];
    checkExtensionsAllowed(early, 'client_hello');
    checkExtensionsAllowed(early, 'encrypted_extensions');
    checkExtensionsAllowed(early, 'new_session_ticket');
    assertAlert(() => checkExtensionsAllowed(early, 'server_hello'), 'illegal_parameter');
    assertAlert(() => checkExtensionsAllowed(early, 'certificate_request'), 'illegal_parameter');
  });
});

describe('EndOfEarlyData (RFC 8446 §4.5)', () => {
  it('is an empty body both ways', () => {
    assert.equal(encodeEndOfEarlyData().length, 0);
    decodeEndOfEarlyData(encodeEndOfEarlyData());
  });

  it('sends decode_error for any non-empty body', () => {
    fc.assert(
      fc.property(buffer(1, 32), (body) => assertAlert(() => decodeEndOfEarlyData(body), 'decode_error')),
      { numRuns: RUNS },
    );
  });
});
