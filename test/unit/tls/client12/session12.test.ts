import '../../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  decodeTls12Session,
  encodeTls12Session,
  isTls12Session,
  ticketLifetime,
  type Tls12ClientSession,
} from '../../../../src/tls/handshake/client12/session12.js';
import { decodeClientSession, encodeClientSession } from '../../../../src/tls/tickets.js';
import {
  assertAlert,
  buffer,
  checkNoStrictPrefix,
  checkRandomInput,
  checkRoundTrip,
  checkTrailingRejected,
  u16,
  u32,
  type CodecCase,
} from '../messages/codec-properties.js';

/**
 * The TLS 1.2 session the client hands out in its 'session' event
 * (client12/session12.ts): the STYLE §5 codec properties, the tag that
 * keeps it apart from a TLS 1.3 session, and the ticket lifetime from the
 * server's hint (RFC 5077 §3.3).
 */

const latin1 = (max: number): fc.Arbitrary<string> => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a).toString('latin1'));

const session: fc.Arbitrary<Tls12ClientSession> = fc
  .record({
    suite: u16,
    ticket: buffer(1, 200),
    masterSecret: buffer(48, 48),
    receivedAt: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    lifetimeSeconds: u32,
    servername: latin1(40),
    alpn: latin1(20),
    peerChain: fc.array(buffer(1, 64), { maxLength: 3 }),
  })
  .map((s) => ({ ...s }));

const codec: CodecCase<Tls12ClientSession> = { arbitrary: session, encode: encodeTls12Session, decode: decodeTls12Session };

describe('the TLS 1.2 client session codec', () => {
  it('round-trips random sessions and re-encodes them to the same bytes', () => checkRoundTrip(codec));
  it('refuses every strict prefix with decode_error', () => checkNoStrictPrefix(codec));
  it('refuses trailing bytes with decode_error', () => checkTrailingRejected(codec));
  it('ends hostile input in a TlsAlertError only', () => checkRandomInput(codec));

  it('starts with the tag 0x12, which a TLS 1.3 session never does: neither decoder takes the other', () => {
    fc.assert(
      fc.property(session, (s) => {
        const encoded = encodeTls12Session(s);
        assert.equal(encoded[0], 0x12);
        assert.equal(isTls12Session(encoded), true);
        assertAlert(() => decodeClientSession(encoded), 'decode_error');
      }),
      { numRuns: 50 },
    );
    const tls13 = encodeClientSession({
      suite: 0x1301,
      ticket: Buffer.of(1),
      psk: Buffer.alloc(32),
      receivedAt: 0,
      lifetimeSeconds: 1,
      ageAdd: 0,
      servername: '',
      alpn: '',
      peerChain: [],
    });
    assert.equal(isTls12Session(tls13), false);
    assertAlert(() => decodeTls12Session(tls13), 'decode_error');
  });

  it('refuses a master secret that is not 48 bytes (RFC 5246 §8.1)', () => {
    const encoded = encodeTls12Session({
      suite: 0xc02b,
      ticket: Buffer.of(1),
      masterSecret: Buffer.alloc(32),
      receivedAt: 0,
      lifetimeSeconds: 1,
      servername: '',
      alpn: '',
      peerChain: [],
    });
    assertAlert(() => decodeTls12Session(encoded), 'decode_error');
  });

  it('keeps a ticket for its lifetime hint, two hours when the hint is 0, and never past seven days (RFC 5077 §3.3)', () => {
    assert.equal(ticketLifetime(300), 300);
    assert.equal(ticketLifetime(0), 7200);
    assert.equal(ticketLifetime(30 * 24 * 3600), 7 * 24 * 3600);
  });
});
