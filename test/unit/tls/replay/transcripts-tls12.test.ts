import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TlsAlertError } from '../../../../src/tls/alert.js';
import { HandshakeType, NamedGroup, Tls12CipherSuite } from '../../../../src/tls/codec/enums.js';
import { DOWNGRADE_TLS12 } from '../../../../src/tls/codec/messages/server-hello.js';
import { tls12SuiteInfo } from '../../../../src/tls/crypto/suites.js';
import { ScriptMismatch } from '../../../helpers/fixed-provider.js';
import { loadTranscripts, replayTranscript, type Transcript } from '../../../helpers/fixed-provider-transcript.js';

/**
 * What the TLS 1.2 transcripts (test/transcripts/*-tls12-*.json) prove
 * beyond the byte-for-byte replay every transcript gets in
 * transcripts.test.ts: that they are TLS 1.2 with the suite and group their
 * row asked for, that our server put the RFC 8446 §4.1.3 sentinel in
 * ServerHello.random, stapled the OCSP response (RFC 6066 §8), sealed the
 * very ticket the resumed recording brought back, and that one changed
 * scripted value breaks a replay.
 */

const transcripts = new Map(loadTranscripts().map(({ transcript }) => [transcript.name, transcript]));
const tls12 = [...transcripts.values()].filter((t) => t.name.includes('-tls12-'));

function named(name: string): Transcript {
  const t = transcripts.get(name);
  assert.ok(t !== undefined, `missing transcript ${name}`);
  return t;
}

/** The suite and group each row asked its peer for; the rest take our defaults. */
const EXPECTED: Readonly<Record<string, { suite: number; group: number | undefined }>> = {
  'server-openssl-tls12-rsa-aes256': { suite: Tls12CipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, group: NamedGroup.secp384r1 },
  'server-openssl-tls12-chacha20': { suite: Tls12CipherSuite.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, group: NamedGroup.secp256r1 },
};
const DEFAULT = { suite: Tls12CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, group: NamedGroup.x25519 };

/** The bodies of the plaintext handshake messages of type `type` in a TLS 1.2 byte stream, before the first ChangeCipherSpec. */
function plaintextMessages(stream: Buffer, type: number): Buffer[] {
  const handshake: Buffer[] = [];
  for (let at = 0; at + 5 <= stream.length; at += 5 + stream.readUInt16BE(at + 3)) {
    const contentType = stream.readUInt8(at);
    if (contentType === 20) break;
    if (contentType === 22) handshake.push(stream.subarray(at + 5, at + 5 + stream.readUInt16BE(at + 3)));
  }
  const joined = Buffer.concat(handshake);
  const bodies: Buffer[] = [];
  for (let at = 0; at + 4 <= joined.length; at += 4 + joined.readUIntBE(at + 1, 3)) {
    if (joined.readUInt8(at) === type) bodies.push(joined.subarray(at + 4, at + 4 + joined.readUIntBE(at + 1, 3)));
  }
  return bodies;
}

/** RFC 5077 §3.3: NewSessionTicket is lifetime_hint(4) || opaque ticket<0..2^16-1>. */
function ticketOf(body: Buffer): Buffer {
  return body.subarray(6, 6 + body.readUInt16BE(4));
}

function withRandom(t: Transcript, index: number): Transcript {
  const random = [...t.script.random];
  const value = random[index];
  assert.ok(value !== undefined);
  // The first byte: the last eight of a server random are the downgrade sentinel, written over whatever was drawn.
  random[index] = `${value.startsWith('00') ? 'ff' : '00'}${value.slice(2)}`;
  return { ...t, script: { ...t.script, random } };
}

function isAlert(alert: string, cause?: new (...args: never[]) => Error): (err: unknown) => boolean {
  return (err: unknown) => err instanceof TlsAlertError && err.alert === alert && (cause === undefined || err.cause instanceof cause);
}

describe('recorded TLS 1.2 transcripts', () => {
  it('has every TLS 1.2 row: our server against OpenSSL, GnuTLS and node, our client against OpenSSL and node', () => {
    assert.deepEqual(tls12.map((t) => t.name).sort(), [
      'client-node-tls12-full',
      'client-node-tls12-resumed',
      'client-openssl-tls12-both-offered',
      'client-openssl-tls12-full',
      'client-openssl-tls12-resumed',
      'server-gnutls-tls12-client-cert',
      'server-gnutls-tls12-full',
      'server-node-tls12-full',
      'server-node-tls12-resumed',
      'server-openssl-tls12-chacha20',
      'server-openssl-tls12-client-cert',
      'server-openssl-tls12-full',
      'server-openssl-tls12-ocsp-staple',
      'server-openssl-tls12-resumed',
      'server-openssl-tls12-rsa-aes256',
    ]);
  });

  for (const t of tls12) {
    it(`${t.name}: TLS 1.2 with the suite and group asked for`, () => {
      const { result, ours } = replayTranscript(t);
      assert.ok(result !== undefined);
      const expected = EXPECTED[t.name] ?? DEFAULT;
      assert.equal(result.suite.id, expected.suite);
      assert.ok(tls12SuiteInfo(result.suite.id) !== undefined);
      // An abbreviated handshake (RFC 5077 §3.1) runs no ECDHE.
      assert.equal(result.group, result.isResumed ? undefined : expected.group);
      if (t.role === 'server') {
        // RFC 8446 §4.1.3: our server can speak TLS 1.3, so the last 8 bytes of ServerHello.random say DOWNGRD\x01.
        assert.deepEqual(ours.subarray(35, 43), DOWNGRADE_TLS12);
      }
    });
  }

  it('stapled the OCSP response in CertificateStatus (RFC 6066 §8) when s_client -status asked', () => {
    const t = named('server-openssl-tls12-ocsp-staple');
    assert.ok(t.setup.ocspStaple !== undefined);
    const [status] = plaintextMessages(replayTranscript(t).ours, HandshakeType.certificate_status);
    const staple = Buffer.from(t.setup.ocspStaple, 'hex');
    const length = Buffer.alloc(3);
    length.writeUIntBE(staple.length, 0, 3);
    // status_type ocsp(1), then the response as opaque<1..2^24-1>.
    assert.deepEqual(status, Buffer.concat([Buffer.from([1]), length, staple]));
  });

  it('the ticket our server sealed in each full recording is the one the resumed recording brought back', () => {
    for (const peer of ['openssl', 'node']) {
      const full = replayTranscript(named(`server-${peer}-tls12-full`));
      const [nst] = plaintextMessages(full.ours, HandshakeType.new_session_ticket);
      assert.ok(nst !== undefined, `${peer}: no NewSessionTicket`);
      const ticket = ticketOf(nst);
      assert.ok(ticket.length > 32);
      const resumedHello = Buffer.from(named(`server-${peer}-tls12-resumed`).peerChunks[0] ?? '', 'hex');
      assert.ok(resumedHello.includes(ticket), `${peer}: the resumed ClientHello carries another ticket`);
    }
  });

  it("our client's TLS 1.2 session from each full recording is the one the resumed recording offered", () => {
    for (const peer of ['openssl', 'node']) {
      const resumed = named(`client-${peer}-tls12-resumed`);
      assert.equal(replayTranscript(named(`client-${peer}-tls12-full`)).sessions[0], resumed.setup.session);
      assert.equal(resumed.setup.session?.slice(0, 2), '12');
    }
  });

  it('offering both versions to a TLS 1.2 server: a TLS 1.3 key share went out too, and the ECDHE key is a fresh one', () => {
    assert.deepEqual(
      named('client-openssl-tls12-both-offered').script.keyShares.map((k) => k.group),
      [NamedGroup.x25519, NamedGroup.x25519],
    );
    assert.deepEqual(
      named('client-openssl-tls12-full').script.keyShares.map((k) => k.group),
      [NamedGroup.x25519],
    );
  });

  describe('one changed scripted value fails the replay', () => {
    it('server, full: another server random changes the ServerKeyExchange content, which the script refuses to sign', () => {
      assert.throws(() => replayTranscript(withRandom(named('server-openssl-tls12-full'), 1)), isAlert('internal_error', ScriptMismatch));
    });

    it('server, resumed: another server random gives another key block, so the client Finished no longer opens', () => {
      assert.throws(() => replayTranscript(withRandom(named('server-openssl-tls12-resumed'), 1)), isAlert('bad_record_mac'));
    });

    it('server, resumed: another ticket nonce changes the NewSessionTicket, so the client Finished no longer verifies', () => {
      assert.throws(() => replayTranscript(withRandom(named('server-openssl-tls12-resumed'), 2)), isAlert('decrypt_error'));
    });

    it("client, full: another client random and the server's ServerKeyExchange signature no longer verifies", () => {
      assert.throws(() => replayTranscript(withRandom(named('client-openssl-tls12-full'), 0)), isAlert('decrypt_error'));
    });

    it('client, full: another ECDHE private key changes our CertificateVerify content, which the script refuses to sign', () => {
      const t = named('client-openssl-tls12-full');
      // A middle byte: X25519 clamps bits of the first and the last (RFC 7748 §5).
      const flip = (hex: string): string =>
        `${hex.slice(0, 20)}${(parseInt(hex.slice(20, 22), 16) ^ 0xff).toString(16).padStart(2, '0')}${hex.slice(22)}`;
      const keyShares = t.script.keyShares.map((k, i) => (i === 0 ? { ...k, privateKey: flip(k.privateKey) } : k));
      assert.throws(() => replayTranscript({ ...t, script: { ...t.script, keyShares } }), isAlert('internal_error', ScriptMismatch));
    });
  });
});
