import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ExtensionType } from '../../../../src/tls/codec/enums.js';
import {
  decodeNewSessionTicket,
  encodeNewSessionTicket,
  type NewSessionTicket,
} from '../../../../src/tls/codec/messages/new-session-ticket.js';
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
  u32,
  type CodecCase,
} from './codec-properties.js';

const ticket: fc.Arbitrary<NewSessionTicket> = fc
  .record({ lifetimeSeconds: u32, ageAdd: u32, nonce: buffer(0, 16), ticket: buffer(1, 200), extensions: extensionBlock({ maxLength: 3 }) })
  .map((m) => ({ ...m }));

const codec: CodecCase<NewSessionTicket> = { arbitrary: ticket, encode: encodeNewSessionTicket, decode: decodeNewSessionTicket };

describe('NewSessionTicket codec (RFC 8446 §4.6.1)', () => {
  it('decodes RFC 8448 §3 NewSessionTicket field by field and re-encodes it byte for byte', () => {
    const m = traceMessage(simple1rtt, '{server}  construct a NewSessionTicket handshake message', 'NewSessionTicket');
    const t = decodeNewSessionTicket(m.body);
    assert.equal(t.lifetimeSeconds, 30);
    assert.equal(t.ageAdd, 0xfad6aac5);
    assert.deepEqual([...t.nonce], [0, 0]);
    assert.equal(t.ticket.length, 0xb2);
    assert.deepEqual(
      t.extensions.map((e) => e.type),
      [ExtensionType.early_data],
    );
    assert.ok(encodeNewSessionTicket(t).equals(m.body));
  });

  it('round-trips random NewSessionTickets (u32 fields over their whole range)', () => checkRoundTrip(codec));
  it('decodes no strict prefix (Go: TestMarshalUnmarshal)', () => checkNoStrictPrefix(codec));
  it('refuses trailing bytes with decode_error (§4)', () => checkTrailingRejected(codec));
  it('answers random bytes only with decode_error or illegal_parameter', () => checkRandomInput(codec));
  it('answers mutated tickets only with TlsAlertErrors, and re-encodes whatever it accepts', () => checkMutatedInput(codec));

  it('sends decode_error for an empty ticket (§4.6.1: <1..2^16-1>)', () => {
    assertAlert(() => decodeNewSessionTicket(Buffer.of(0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0)), 'decode_error');
  });

  it('sends illegal_parameter for a duplicated extension (§4.2)', () => {
    fc.assert(
      fc.property(ticket, (m) => {
        const ext = { type: ExtensionType.early_data, data: Buffer.of(0, 0, 0, 1) };
        assertAlert(() => decodeNewSessionTicket(encodeNewSessionTicket({ ...m, extensions: [ext, ext] })), 'illegal_parameter');
      }),
      { numRuns: RUNS / 4 },
    );
  });
});
