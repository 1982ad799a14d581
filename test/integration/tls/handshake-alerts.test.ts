import '../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { AlertName } from '../../../src/tls/alert.js';
import type { TlsAlertError } from '../../../src/tls/alert.js';
import { ContentType, ExtensionType, HandshakeType } from '../../../src/tls/codec/enums.js';
import { encodeAlpn } from '../../../src/tls/codec/extensions.js';
import { decodeServerHello, encodeServerHello } from '../../../src/tls/codec/messages/server-hello.js';
import { decodeEncryptedExtensions, encodeEncryptedExtensions } from '../../../src/tls/codec/messages/encrypted-extensions.js';
import { decodeCertificateRequest, encodeCertificateRequest } from '../../../src/tls/codec/messages/certificate-request.js';
import type { HandshakeMessage } from '../../../src/tls/codec/handshake-frame.js';
import {
  flipByte,
  frame,
  handshakeMessages,
  makeRecord,
  onFlight,
  other,
  rewriteClientHello,
  senderOf,
  splitRecords,
  TlsPair,
  type Direction,
  type Side,
  type Tamper,
  type WireRecord,
} from '../../fakes/tls-pair.js';

/**
 * Negative handshake and record tests over the in-memory pair (STYLE §5),
 * each named after the alert it expects. Every failure is checked the same
 * way (RFC 8446 §6, STYLE §4): the failing side sends exactly one fatal alert,
 * the peer reads it and sends nothing back, and both sides end closed.
 */

const MAX_PLAINTEXT = 2 ** 14;

/** The one-alert rule, read off the records both sides actually sent. */
function assertSingleAlert(pair: TlsPair, sender: Side, alert: AlertName, options: { isReadByPeer?: boolean } = {}): void {
  const error = pair.errors[sender];
  assert.ok(
    error !== undefined,
    `${sender} raised no error; client: ${pair.errors.client?.message}, server: ${pair.errors.server?.message}`,
  );
  assert.equal(error.alert, alert, `${sender}: ${error.message}`);
  assert.equal(error.isRemote, false);
  assert.deepEqual(pair.alertsSent(sender), [alert], `${sender} sends exactly one alert`);
  assert.deepEqual(pair.alertsSent(other(sender)), [], `${other(sender)} sends no alert in reply`);
  assert.equal(pair.connection(sender).isClosed, true, `${sender} is closed`);
  if (options.isReadByPeer !== false) {
    const received = pair.errors[other(sender)];
    assert.ok(received !== undefined, `${other(sender)} did not see the alert`);
    assert.equal(received.isRemote, true, `${other(sender)}: ${received.message}`);
    assert.equal(received.alert, alert);
    assert.equal(pair.connection(other(sender)).isClosed, true, `${other(sender)} is closed`);
  }
  assert.equal(pair.failures.filter((f) => f.side === sender).length, 1, `${sender} failed once`);
}

/** Replaces the handshake messages inside the protected handshake records of a flight, resealing them. */
function editProtectedMessages(edit: (m: HandshakeMessage) => Buffer): (bytes: Buffer, records: readonly WireRecord[]) => Buffer {
  return (_bytes, records) =>
    Buffer.concat(
      records.map((r) =>
        r.isProtected && r.type === ContentType.handshake
          ? r.reseal(ContentType.handshake, Buffer.concat(handshakeMessages(r.content!).map(edit)))
          : r.raw,
      ),
    );
}

/** Replaces the n-th record of a flight. */
function replaceRecord(
  index: (records: readonly WireRecord[]) => number,
  by: (r: WireRecord) => Buffer | readonly Buffer[],
): (bytes: Buffer, records: readonly WireRecord[]) => Buffer {
  return (_bytes, records) => {
    const at = index(records);
    return Buffer.concat(records.flatMap((r, i) => (i === at ? by(r) : [r.raw])));
  };
}

const firstProtected = (records: readonly WireRecord[]): number => records.findIndex((r) => r.isProtected);

function connected(options: ConstructorParameters<typeof TlsPair>[0] = {}): TlsPair {
  return new TlsPair(options).handshake();
}

describe('TLS pair baseline (test/fakes/tls-pair.ts)', () => {
  it('completes an mTLS handshake: the server sees the client leaf, the client a ticket, nobody an alert', () => {
    const pair = connected();
    assert.equal(pair.results.server?.peer?.leaf.subject, 'CN=keysmith test client');
    assert.equal(pair.results.client?.peer?.leaf.subject, 'CN=localhost');
    assert.equal(pair.tickets.length, 1);
    assert.deepEqual(pair.alertsSent('client'), []);
    assert.deepEqual(pair.alertsSent('server'), []);
    assert.deepEqual(pair.failures, []);
  });

  it('puts the same ClientHello and ServerHello on the wire for the same FakeRandom seeds', () => {
    const a = connected({ seed: 'same' });
    const b = connected({ seed: 'same' });
    const c = connected({ seed: 'other' });
    assert.ok(a.sent.client[0]!.raw.equals(b.sent.client[0]!.raw));
    assert.ok(a.sent.server[0]!.raw.equals(b.sent.server[0]!.raw));
    assert.ok(!a.sent.client[0]!.raw.equals(c.sent.client[0]!.raw));
  });

  it('completes when the tamper hook drops the compatibility change_cipher_spec (it is optional, §D.4)', () => {
    const dropCcs: Tamper = (_d, _bytes, records) =>
      Buffer.concat(records.filter((r) => r.type !== ContentType.change_cipher_spec).map((r) => r.raw));
    const pair = connected({ tamper: dropCcs });
    assert.equal(pair.client.isConnected && pair.server.isConnected, true);
  });
});

describe('bad_record_mac (RFC 8446 §5.2)', () => {
  it('answers a flipped byte in the server flight carrying Finished with bad_record_mac', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'server-to-client',
        0,
        replaceRecord(firstProtected, (r) => flipByte(r.raw, r.raw.length - 40)),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'bad_record_mac');
  });

  it('answers a flipped byte in any protected record, either way, during or after the handshake, with bad_record_mac', () => {
    // The scenario: handshake, then three exchanges of data; k counts protected records in wire order.
    const run = (tamper: Tamper | undefined): TlsPair => {
      const pair = new TlsPair(tamper === undefined ? {} : { tamper });
      pair.pump();
      for (let i = 0; i < 3; i++) {
        if (pair.client.isConnected) pair.write('client', `ping ${i}`);
        pair.pump();
        if (pair.server.isConnected) pair.write('server', `pong ${i}`);
        pair.pump();
      }
      return pair;
    };
    const clean = run(undefined);
    const total = [...clean.sent.client, ...clean.sent.server].filter((r) => r.isProtected).length;
    assert.ok(total >= 8, `scenario has ${total} protected records`);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: total - 1 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (k, offset, mask) => {
        let seen = 0;
        let target: Direction | undefined;
        const tamper: Tamper = (direction, _bytes, records) =>
          Buffer.concat(
            records.map((r) => {
              if (!r.isProtected || seen++ !== k) return r.raw;
              target = direction;
              return flipByte(r.raw, 5 + (offset % (r.raw.length - 5)), mask);
            }),
          );
        const pair = run(tamper);
        assert.ok(target !== undefined, `record ${k} was never sent`);
        assertSingleAlert(pair, other(senderOf(target)), 'bad_record_mac');
      }),
      { numRuns: 40 },
    );
  });

  it('authenticates the record header: legacy_record_version changed to 0x0301 gives bad_record_mac (§5.2, AAD)', () => {
    const pair = connected();
    pair.tamper = onFlight('client-to-server', 0, (bytes) => {
      const out = Buffer.from(bytes);
      out[2] = 0x01;
      return out;
    });
    pair.write('client', 'hello');
    pair.pump();
    assertSingleAlert(pair, 'server', 'bad_record_mac');
  });

  it('answers a replayed client Finished record with bad_record_mac (the sequence number moved on, §5.3)', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 1, (bytes, records) => Buffer.concat([bytes, records[firstProtected(records)]!.raw])),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'bad_record_mac');
  });

  it('answers a replayed, a dropped or a reordered application data record with bad_record_mac (§5.3)', () => {
    const edits: readonly ((records: readonly WireRecord[]) => Buffer[])[] = [
      (rs) => [rs[0]!.raw, rs[0]!.raw],
      (rs) => [rs[1]!.raw],
      (rs) => [rs[1]!.raw, rs[0]!.raw],
    ];
    for (const edit of edits) {
      const pair = connected();
      pair.tamper = onFlight('server-to-client', 0, (_bytes, records) => Buffer.concat(edit(records)));
      pair.write('server', 'first');
      pair.write('server', 'second');
      pair.pump();
      assertSingleAlert(pair, 'client', 'bad_record_mac');
      assert.ok(!pair.received('client').includes('second'));
    }
  });

  it('answers an altered ClientHello.random with bad_record_mac: the transcript feeds the handshake keys (§7.1), so the client cannot open the server flight', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) => rewriteClientHello(bytes, (h) => ({ ...h, random: flipByte(h.random, 7) }))),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'bad_record_mac');
  });
});

describe('decrypt_error (RFC 8446 §4.4.3, §4.4.4)', () => {
  it('sends decrypt_error when the server Finished is wrong (the record resealed, so only verify_data differs)', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'server-to-client',
        0,
        editProtectedMessages((m) => (m.type === HandshakeType.finished ? frame(m.type, flipByte(m.body, 3)) : m.raw)),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'decrypt_error');
  });

  it('sends decrypt_error when the client Finished is wrong', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'client-to-server',
        1,
        editProtectedMessages((m) => (m.type === HandshakeType.finished ? frame(m.type, flipByte(m.body, 0)) : m.raw)),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'decrypt_error');
    assert.equal(pair.results.server, undefined, 'the server never completes');
  });

  it('sends decrypt_error when the server CertificateVerify signature does not verify', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'server-to-client',
        0,
        editProtectedMessages((m) =>
          m.type === HandshakeType.certificate_verify ? frame(m.type, flipByte(m.body, m.body.length - 1)) : m.raw,
        ),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'decrypt_error');
  });

  it('sends decrypt_error when the client CertificateVerify signature does not verify', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'client-to-server',
        1,
        editProtectedMessages((m) =>
          m.type === HandshakeType.certificate_verify ? frame(m.type, flipByte(m.body, m.body.length - 1)) : m.raw,
        ),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'decrypt_error');
  });

  it('sends decrypt_error when a message the server Finished covers was changed in flight (EncryptedExtensions names another offered ALPN protocol)', () => {
    const transcript = new TlsPair({
      client: { ALPNProtocols: ['h2', 'http/1.1'] },
      server: { ALPNProtocols: ['h2', 'http/1.1'] },
      tamper: onFlight(
        'server-to-client',
        0,
        editProtectedMessages((m) =>
          m.type === HandshakeType.encrypted_extensions
            ? frame(
                m.type,
                encodeEncryptedExtensions([{ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(['http/1.1']) }]),
              )
            : m.raw,
        ),
      ),
    });
    transcript.pump();
    assertSingleAlert(transcript, 'client', 'decrypt_error');
  });
});

describe('Resumption through the pair (RFC 8446 §4.2.11)', () => {
  it('resumes with a ticket from an earlier connection to the same server config, keeping the client identity', () => {
    const first = connected();
    const second = connected({ serverConfig: first.serverConfig, session: first.session() });
    assert.equal(second.results.server?.isResumed, true);
    assert.equal(second.results.client?.isResumed, true);
    assert.equal(second.results.server?.peer?.leaf.subject, 'CN=keysmith test client');
    // No Certificate, CertificateRequest or CertificateVerify in a resumed server flight.
    const flight = second.sent.server.find((r) => r.isProtected && r.generation === 0)!;
    assert.deepEqual(
      handshakeMessages(flight.content!).map((m) => m.type),
      [HandshakeType.encrypted_extensions, HandshakeType.finished],
    );
  });

  it('sends illegal_parameter for a NewSessionTicket lifetime over seven days, and keeps no session from a zero lifetime (§4.6.1)', () => {
    const withLifetime = (seconds: number): Tamper =>
      onFlight('server-to-client', 1, (_bytes, records) =>
        Buffer.concat(
          records.map((r) => {
            if (r.type !== ContentType.handshake) return r.raw;
            const [ticket] = handshakeMessages(r.content!);
            const body = Buffer.from(ticket!.body);
            body.writeUInt32BE(seconds, 0);
            return r.reseal(ContentType.handshake, frame(HandshakeType.new_session_ticket, body));
          }),
        ),
      );
    const tooLong = new TlsPair({ tamper: withLifetime(7 * 24 * 3600 + 1) });
    tooLong.pump();
    assertSingleAlert(tooLong, 'client', 'illegal_parameter');

    const zero = connected({ tamper: withLifetime(0) });
    assert.equal(zero.tickets.length, 1);
    assert.equal(zero.sessions.length, 0);
    assert.deepEqual(zero.failures, []);
  });

  it('sends decrypt_error for a PSK binder that does not verify (§4.2.11.2)', () => {
    const first = connected();
    const pair = new TlsPair({
      serverConfig: first.serverConfig,
      session: first.session(),
      tamper: onFlight('client-to-server', 0, (bytes) =>
        rewriteClientHello(bytes, (h) => ({
          ...h,
          extensions: h.extensions.map((e) =>
            e.type === ExtensionType.pre_shared_key ? { type: e.type, data: flipByte(e.data, e.data.length - 1) } : e,
          ),
        })),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'decrypt_error');
  });
});

describe('ClientHello checks on the server (RFC 8446 §4.1.2, §4.2)', () => {
  it('sends illegal_parameter for a duplicated extension in ClientHello (§4.2)', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) =>
        rewriteClientHello(bytes, (h) => ({
          ...h,
          extensions: [...h.extensions, h.extensions.find((e) => e.type === ExtensionType.signature_algorithms)!],
        })),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'illegal_parameter');
  });

  it('sends protocol_version for a ClientHello without supported_versions (§4.2.1)', () => {
    const pair = new TlsPair({
      // A TLS 1.3-only server: with TLS 1.2 enabled (the default) this hello is a TLS 1.2 one.
      server: { minVersion: 'TLSv1.3' },
      tamper: onFlight('client-to-server', 0, (bytes) =>
        rewriteClientHello(bytes, (h) => ({ ...h, extensions: h.extensions.filter((e) => e.type !== ExtensionType.supported_versions) })),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'protocol_version');
  });

  it('sends protocol_version for a ClientHello with no extensions at all (a TLS 1.2 client)', () => {
    const pair = new TlsPair({
      server: { minVersion: 'TLSv1.3' },
      tamper: onFlight('client-to-server', 0, (bytes) => {
        const record = rewriteClientHello(bytes, (h) => ({ ...h, extensions: [] }));
        // Cut the empty extensions block (00 00) off: TLS 1.2 hellos may end after compression_methods.
        const [first] = splitRecords(record);
        const body = first!.subarray(9, first!.length - 2);
        return makeRecord(ContentType.handshake, frame(HandshakeType.client_hello, body), 0x0301);
      }),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'protocol_version');
  });

  it('ignores an unknown extension in ClientHello and answers with ServerHello (§4.2)', () => {
    // The client's own transcript lacks the extension, so only the server side can finish; stop after its answer.
    const pair = new TlsPair({
      tamper: (direction, bytes) =>
        direction === 'client-to-server'
          ? rewriteClientHello(bytes, (h) => ({ ...h, extensions: [{ type: 0xfafa, data: Buffer.from('grease') }, ...h.extensions] }))
          : Buffer.alloc(0),
    });
    pair.pump();
    assert.equal(pair.errors.server, undefined);
    assert.deepEqual(pair.alertsSent('server'), []);
    assert.equal(pair.server.stateName, 'ExpectCertificate');
    const serverHello = pair.sent.server[0]!;
    assert.equal(serverHello.type, ContentType.handshake);
    assert.equal(serverHello.content![0], HandshakeType.server_hello);
  });

  it('sends illegal_parameter when pre_shared_key is not the last ClientHello extension (§4.2.11)', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) =>
        rewriteClientHello(bytes, (h) => ({
          ...h,
          extensions: [{ type: ExtensionType.pre_shared_key, data: Buffer.alloc(8) }, ...h.extensions],
        })),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'illegal_parameter');
  });

  it('sends decode_error for a ClientHello with trailing bytes inside its handshake message (§4)', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) => {
        const [first] = splitRecords(bytes);
        const [hello] = handshakeMessages(first!.subarray(5));
        return makeRecord(ContentType.handshake, frame(HandshakeType.client_hello, Buffer.concat([hello!.body, Buffer.of(0)])), 0x0301);
      }),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'decode_error');
  });
});

describe('Server answers the client checks (RFC 8446 §4.1.3, §4.2, §4.3)', () => {
  it('sends unsupported_extension when ServerHello carries an extension the client did not offer (§4.2)', () => {
    const pair = new TlsPair({
      tamper: onFlight('server-to-client', 0, (_bytes, records) => {
        const [first, ...rest] = records;
        const [message] = handshakeMessages(first!.content!);
        const hello = decodeServerHello(message!.body);
        const edited = encodeServerHello({ ...hello, extensions: [...hello.extensions, { type: 0xfafa, data: Buffer.alloc(0) }] });
        return Buffer.concat([makeRecord(ContentType.handshake, frame(HandshakeType.server_hello, edited)), ...rest.map((r) => r.raw)]);
      }),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'unsupported_extension');
  });

  it('sends unsupported_extension when EncryptedExtensions carries ALPN the client did not offer (§4.2, RFC 7301 §3.2)', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'server-to-client',
        0,
        editProtectedMessages((m) => {
          if (m.type !== HandshakeType.encrypted_extensions) return m.raw;
          const extensions = [
            ...decodeEncryptedExtensions(m.body),
            { type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(['h2']) },
          ];
          return frame(m.type, encodeEncryptedExtensions(extensions));
        }),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'unsupported_extension');
  });

  it('sends missing_extension for a CertificateRequest without signature_algorithms (§4.3.2)', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'server-to-client',
        0,
        editProtectedMessages((m) => {
          if (m.type !== HandshakeType.certificate_request) return m.raw;
          const request = decodeCertificateRequest(m.body);
          const extensions = request.extensions.filter((e) => e.type !== ExtensionType.signature_algorithms);
          return frame(
            m.type,
            encodeCertificateRequest({
              ...request,
              extensions: extensions.length > 0 ? extensions : [{ type: 0xfafa, data: Buffer.alloc(0) }],
            }),
          );
        }),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'missing_extension');
  });

  it('sends decode_error for a CertificateRequest whose signature_algorithms list has an odd length (§4.2.3)', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'server-to-client',
        0,
        editProtectedMessages((m) => {
          if (m.type !== HandshakeType.certificate_request) return m.raw;
          const request = decodeCertificateRequest(m.body);
          const extensions = request.extensions.map((e) =>
            e.type === ExtensionType.signature_algorithms ? { type: e.type, data: Buffer.of(0, 3, 4, 3, 8) } : e,
          );
          return frame(m.type, encodeCertificateRequest({ ...request, extensions }));
        }),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'decode_error');
  });
});

describe('unexpected_message (RFC 8446 §5, §5.1, §4.6)', () => {
  const ccs = (value: number): Buffer => makeRecord(ContentType.change_cipher_spec, Buffer.of(value));

  it('sends unexpected_message for change_cipher_spec after the handshake, to the server and to the client (§5)', () => {
    for (const direction of ['client-to-server', 'server-to-client'] as const) {
      const pair = connected();
      pair.deliver(direction, ccs(1));
      pair.pump();
      assertSingleAlert(pair, other(senderOf(direction)), 'unexpected_message');
    }
  });

  it('sends unexpected_message for change_cipher_spec with value 2 during the handshake (§5)', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 1, (_bytes, records) =>
        Buffer.concat(records.map((r) => (r.type === ContentType.change_cipher_spec ? ccs(2) : r.raw))),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('sends unexpected_message for change_cipher_spec before any ClientHello (§5)', () => {
    const pair = new TlsPair();
    pair.deliver('client-to-server', ccs(1));
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('sends unexpected_message for application data before the handshake (§5)', () => {
    const pair = new TlsPair();
    pair.deliver('client-to-server', makeRecord(ContentType.application_data, Buffer.from('GET / HTTP/1.1\r\n\r\n')));
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('sends unexpected_message for protected application data inside the client handshake flight (§5)', () => {
    const pair = new TlsPair({
      tamper: onFlight(
        'client-to-server',
        1,
        replaceRecord(firstProtected, (r) => r.reseal(ContentType.application_data, Buffer.from('early'))),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('sends unexpected_message for a zero-length handshake record, plaintext or protected (§5.1)', () => {
    const plain = new TlsPair();
    plain.deliver('client-to-server', makeRecord(ContentType.handshake, Buffer.alloc(0)));
    plain.pump();
    assertSingleAlert(plain, 'server', 'unexpected_message');

    const sealed = new TlsPair({
      tamper: onFlight(
        'client-to-server',
        1,
        replaceRecord(firstProtected, (r) => r.reseal(ContentType.handshake, Buffer.alloc(0))),
      ),
    });
    sealed.pump();
    assertSingleAlert(sealed, 'server', 'unexpected_message');
  });

  it('sends unexpected_message when the server flight is reordered (protected records before ServerHello)', () => {
    const pair = new TlsPair({
      tamper: onFlight('server-to-client', 0, (_bytes, records) =>
        Buffer.concat([...records.filter((r) => r.isProtected), ...records.filter((r) => !r.isProtected)].map((r) => r.raw)),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'unexpected_message');
  });

  it('sends unexpected_message when ServerHello is dropped (§5: no protected record before keys)', () => {
    const pair = new TlsPair({
      tamper: onFlight('server-to-client', 0, (_bytes, records) => Buffer.concat(records.slice(1).map((r) => r.raw))),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'unexpected_message');
  });

  it('sends unexpected_message for a second ClientHello after the handshake and for a NewSessionTicket sent to a server (§4.6)', () => {
    const hello = connected();
    hello.deliver(
      'client-to-server',
      hello.forge('client-to-server', ContentType.handshake, frame(HandshakeType.client_hello, Buffer.alloc(40))),
    );
    hello.pump();
    assertSingleAlert(hello, 'server', 'unexpected_message');

    const ticket = connected();
    ticket.deliver(
      'client-to-server',
      ticket.forge('client-to-server', ContentType.handshake, frame(HandshakeType.new_session_ticket, Buffer.alloc(13))),
    );
    ticket.pump();
    assertSingleAlert(ticket, 'server', 'unexpected_message');
  });

  it('sends unexpected_message for a record type outside 20-23 (§5)', () => {
    const pair = new TlsPair();
    pair.deliver('client-to-server', makeRecord(24, Buffer.of(1, 0, 0)));
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('sends unexpected_message for a protected record whose inner plaintext is all zeros (no content type, §5.4)', () => {
    const pair = connected();
    pair.deliver('client-to-server', pair.forgeInner('client-to-server', Buffer.alloc(20)));
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });
});

describe('Record boundaries at key changes (RFC 8446 §5.1)', () => {
  it('sends unexpected_message when ClientHello shares its record with the next handshake message', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) => {
        const [first] = splitRecords(bytes);
        return makeRecord(
          ContentType.handshake,
          Buffer.concat([first!.subarray(5), frame(HandshakeType.finished, Buffer.alloc(32))]),
          0x0301,
        );
      }),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('sends unexpected_message when ServerHello shares its record with EncryptedExtensions', () => {
    const pair = new TlsPair({
      tamper: onFlight('server-to-client', 0, (_bytes, records) =>
        Buffer.concat([
          makeRecord(
            ContentType.handshake,
            Buffer.concat([records[0]!.content!, frame(HandshakeType.encrypted_extensions, Buffer.of(0, 0))]),
          ),
          ...records.slice(1).map((r) => r.raw),
        ]),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'unexpected_message');
  });

  it('sends unexpected_message for a plaintext handshake record once the handshake keys are in place', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 1, (bytes) =>
        Buffer.concat([bytes, makeRecord(ContentType.handshake, frame(HandshakeType.finished, Buffer.alloc(32)))]),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('sends unexpected_message for change_cipher_spec between two fragments of ClientHello', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) => {
        const content = splitRecords(bytes)[0]!.subarray(5);
        return Buffer.concat([
          makeRecord(ContentType.handshake, content.subarray(0, 50)),
          makeRecord(ContentType.change_cipher_spec, Buffer.of(1)),
          makeRecord(ContentType.handshake, content.subarray(50)),
        ]);
      }),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('sends unexpected_message for an alert between two fragments of a post-handshake message', () => {
    const pair = connected();
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.handshake, Buffer.of(HandshakeType.key_update, 0, 0)));
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.alert, Buffer.of(1, 90)));
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });
});

describe('HelloRetryRequest (RFC 8446 §4.1.4, §4.2.2)', () => {
  it('completes after a HelloRetryRequest for the server group, with a cookie', () => {
    const pair = connected({ client: { groups: ['secp256r1', 'x25519'] }, server: { groups: ['x25519'] } });
    assert.equal(pair.results.server?.group, 0x001d);
    const [hrr] = handshakeMessages(pair.sent.server[0]!.content!);
    assert.equal(hrr!.type, HandshakeType.server_hello);
    assert.equal(decodeServerHello(hrr!.body).random.toString('hex'), 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c');
    assert.deepEqual(pair.failures, []);
  });

  it('sends illegal_parameter when the second ClientHello returns an altered cookie (§4.2.2)', () => {
    const pair = new TlsPair({
      client: { groups: ['secp256r1', 'x25519'] },
      server: { groups: ['x25519'] },
      tamper: onFlight('client-to-server', 1, (_bytes, records) =>
        Buffer.concat(
          records.map((r) =>
            r.type === ContentType.handshake && !r.isProtected
              ? rewriteClientHello(r.raw, (h) => ({
                  ...h,
                  extensions: h.extensions.map((e) =>
                    e.type === ExtensionType.cookie ? { type: e.type, data: flipByte(e.data, e.data.length - 1) } : e,
                  ),
                }))
              : r.raw,
          ),
        ),
      ),
    });
    pair.pump();
    assertSingleAlert(pair, 'server', 'illegal_parameter');
  });

  it('sends unexpected_message for a second HelloRetryRequest (§4.1.4)', () => {
    let firstRetry: Buffer | undefined;
    const pair = new TlsPair({
      client: { groups: ['secp256r1', 'x25519'] },
      server: { groups: ['x25519'] },
      tamper: (direction, bytes, records) => {
        if (direction !== 'server-to-client') return bytes;
        if (firstRetry === undefined) {
          firstRetry = records[0]!.raw;
          return bytes;
        }
        return firstRetry;
      },
    });
    pair.pump();
    assertSingleAlert(pair, 'client', 'unexpected_message');
  });
});

describe('record_overflow (RFC 8446 §5.1, §5.2, §5.4)', () => {
  it('sends record_overflow for a record header announcing 2^14+257 bytes, before the body arrives (§5.2)', () => {
    const pair = new TlsPair();
    const header = Buffer.of(ContentType.handshake, 3, 3, 0, 0);
    header.writeUInt16BE(MAX_PLAINTEXT + 257, 3);
    pair.deliver('client-to-server', header);
    pair.pump();
    assertSingleAlert(pair, 'server', 'record_overflow');
  });

  it('sends record_overflow for a plaintext handshake record of 2^14+1 bytes (§5.1)', () => {
    const pair = new TlsPair();
    pair.deliver('client-to-server', makeRecord(ContentType.handshake, Buffer.alloc(MAX_PLAINTEXT + 1, 1)));
    pair.pump();
    assertSingleAlert(pair, 'server', 'record_overflow');
  });

  it('sends record_overflow for a protected record hiding 2^14+1 bytes of plaintext (§5.4)', () => {
    const pair = connected();
    pair.deliver(
      'client-to-server',
      pair.forgeInner('client-to-server', Buffer.concat([Buffer.alloc(MAX_PLAINTEXT + 1, 0x61), Buffer.of(ContentType.application_data)])),
    );
    pair.pump();
    assertSingleAlert(pair, 'server', 'record_overflow');
    assert.equal(pair.received('server').length, 0);
  });

  it('accepts a TLSInnerPlaintext of exactly 2^14+1 bytes, with or without padding, and refuses one byte more, padding included (§5.4)', () => {
    const pair = connected();
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.application_data, Buffer.alloc(MAX_PLAINTEXT, 0x62)));
    pair.deliver(
      'client-to-server',
      pair.forge('client-to-server', ContentType.application_data, Buffer.alloc(100, 0x63), MAX_PLAINTEXT - 100),
    );
    assert.equal(pair.received('server').length, MAX_PLAINTEXT + 100);
    assert.deepEqual(pair.failures, []);
    pair.deliver(
      'client-to-server',
      pair.forge('client-to-server', ContentType.application_data, Buffer.alloc(100, 0x64), MAX_PLAINTEXT - 99),
    );
    pair.pump();
    assertSingleAlert(pair, 'server', 'record_overflow');
    assert.equal(pair.received('server').length, MAX_PLAINTEXT + 100);
  });

  it('sends record_overflow for a protected record of 2^14+257 bytes of ciphertext, before opening it (§5.2)', () => {
    const pair = connected();
    const record = pair.forgeInner(
      'client-to-server',
      Buffer.concat([Buffer.alloc(MAX_PLAINTEXT + 240, 0x65), Buffer.of(ContentType.application_data)]),
    );
    assert.equal(record.length - 5, MAX_PLAINTEXT + 257);
    pair.deliver('client-to-server', record);
    pair.pump();
    assertSingleAlert(pair, 'server', 'record_overflow');
  });
});

describe('Handshake message size limit (maxHandshakeMessageSize)', () => {
  it('sends decode_error for a ClientHello announcing more than 131,396 bytes, from its header alone (RFC 8446 §4.1.2; OpenSSL CLIENT_HELLO_MAX_LENGTH)', () => {
    const pair = new TlsPair({ server: { maxHandshakeMessageSize: 1024 } });
    // A handshake header announcing 131,397 bytes, followed by a little of the body.
    pair.deliver(
      'client-to-server',
      makeRecord(ContentType.handshake, Buffer.concat([Buffer.of(HandshakeType.client_hello, 0x02, 0x01, 0x45), Buffer.alloc(100)])),
    );
    pair.pump();
    assertSingleAlert(pair, 'server', 'decode_error');
  });

  it('sends illegal_parameter for a server Certificate over the client limit (as OpenSSL: SSL_R_EXCESSIVE_MESSAGE_SIZE)', () => {
    const pair = new TlsPair({ client: { maxHandshakeMessageSize: 256 } });
    pair.pump();
    assertSingleAlert(pair, 'client', 'illegal_parameter');
    assert.equal(pair.results.client, undefined);
  });

  it('accepts a fragmented handshake message up to the limit (ClientHello cut into 1-byte records, §5.1)', () => {
    const pair = new TlsPair({
      tamper: onFlight('client-to-server', 0, (bytes) => {
        const [first] = splitRecords(bytes);
        const content = first!.subarray(5);
        return Buffer.concat([...content].map((b) => makeRecord(ContentType.handshake, Buffer.of(b), 0x0301)));
      }),
    });
    pair.handshake();
  });
});

describe('KeyUpdate (RFC 8446 §4.6.3)', () => {
  it('sends illegal_parameter for a KeyUpdate with request_update 2', () => {
    const pair = connected();
    pair.tamper = onFlight('client-to-server', 0, (_bytes, records) =>
      Buffer.concat(
        records.map((r) =>
          r.type === ContentType.handshake ? r.reseal(ContentType.handshake, frame(HandshakeType.key_update, Buffer.of(2))) : r.raw,
        ),
      ),
    );
    pair.client.updateKeys(false);
    pair.pump();
    assertSingleAlert(pair, 'server', 'illegal_parameter');
  });

  it('sends unexpected_message for a KeyUpdate followed by part of another message in its record (§5.1: not at a record boundary)', () => {
    const pair = connected();
    const content = Buffer.concat([frame(HandshakeType.key_update, Buffer.of(0)), Buffer.of(HandshakeType.key_update, 0)]);
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.handshake, content));
    pair.pump();
    assertSingleAlert(pair, 'server', 'unexpected_message');
  });

  it('keeps data flowing both ways through KeyUpdates requested by either side', () => {
    const pair = connected();
    let expectedClient = '';
    let expectedServer = '';
    for (let i = 0; i < 6; i++) {
      pair.connection(i % 2 === 0 ? 'client' : 'server').updateKeys(true);
      pair.pump();
      const c = `client ${i};`;
      const s = `server ${i};`;
      pair.write('client', c);
      pair.write('server', s);
      pair.pump();
      expectedServer += c;
      expectedClient += s;
    }
    assert.equal(pair.received('server').toString(), expectedServer);
    assert.equal(pair.received('client').toString(), expectedClient);
    // Each requested update rotates both directions: six generations past application_traffic_secret_0.
    assert.equal(pair.sent.client.at(-1)?.generation, 7);
    assert.equal(pair.sent.server.at(-1)?.generation, 7);
    assert.deepEqual(pair.failures, []);
  });

  it('answers update_requested with exactly one KeyUpdate(update_not_requested) (§4.6.3)', () => {
    const pair = connected();
    const before = pair.sent.server.length;
    pair.client.updateKeys(true);
    pair.pump();
    const replies = pair.sent.server.slice(before).filter((r) => r.type === ContentType.handshake);
    assert.equal(replies.length, 1);
    assert.equal(replies[0]!.content!.toString('hex'), '1800000100');
  });
});

describe('Post-handshake data', () => {
  it('carries data both ways intact over many records, large writes cut at 2^14 (§5.1)', () => {
    const pair = connected();
    const random = new Uint32Array(1);
    let state = 12345;
    const next = (n: number): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      random[0] = state;
      return random[0] % n;
    };
    const sentBy: Record<Side, Buffer[]> = { client: [], server: [] };
    for (let i = 0; i < 400; i++) {
      const side: Side = next(2) === 0 ? 'client' : 'server';
      const size = next(10) === 0 ? 20_000 + next(30_000) : next(2_000);
      const chunk = Buffer.alloc(size, i & 0xff);
      sentBy[side].push(chunk);
      pair.write(side, chunk);
      if (next(3) === 0) pair.pump();
    }
    pair.pump();
    assert.ok(pair.received('server').equals(Buffer.concat(sentBy.client)));
    assert.ok(pair.received('client').equals(Buffer.concat(sentBy.server)));
    for (const r of [...pair.sent.client, ...pair.sent.server]) {
      if (r.type === ContentType.application_data) assert.ok(r.content!.length <= MAX_PLAINTEXT);
    }
    assert.ok(pair.sent.client.length + pair.sent.server.length > 400);
    assert.deepEqual(pair.failures, []);
  });
});

describe('Alerts received (RFC 8446 §6)', () => {
  it('sends nothing in reply to a fatal alert, before or after the handshake (§6.2)', () => {
    const early = new TlsPair();
    early.client.takeOutgoing();
    early.deliver('client-to-server', makeRecord(ContentType.alert, Buffer.of(2, 40)));
    assert.equal(early.errors.server?.isRemote, true);
    assert.equal(early.errors.server?.alert, 'handshake_failure');
    assert.equal(early.server.takeOutgoing(), undefined);

    const late = connected();
    late.deliver('client-to-server', late.forge('client-to-server', ContentType.alert, Buffer.of(2, 51)));
    assert.equal(late.errors.server?.alert, 'decrypt_error');
    assert.equal(late.errors.server?.isRemote, true);
    assert.equal(late.server.takeOutgoing(), undefined);
    assert.equal(late.server.isClosed, true);
  });

  it('sends decode_error for an alert record that is not two bytes (§6)', () => {
    const pair = connected();
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.alert, Buffer.of(2, 40, 0)));
    pair.pump();
    assertSingleAlert(pair, 'server', 'decode_error');
  });

  it('treats user_canceled as a warning: the connection stays up until close_notify (§6.1)', () => {
    const pair = connected();
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.alert, Buffer.of(1, 90)));
    assert.equal(pair.server.isConnected, true);
    assert.deepEqual(pair.failures, []);
  });
});

describe('close_notify (RFC 8446 §6.1)', () => {
  it('sends close_notify as a warning-level alert and lets the other direction keep sending (half-close)', () => {
    const pair = connected();
    pair.client.close();
    pair.pump();
    assert.equal(pair.peerClosed.server, true);
    assert.deepEqual([...pair.sent.client.at(-1)!.content!], [1, 0]);
    assert.throws(() => pair.write('client', 'late'), /not open for writing/);
    pair.write('server', 'still flowing');
    pair.pump();
    assert.equal(pair.received('client').toString(), 'still flowing');
    pair.server.close();
    pair.pump();
    assert.equal(pair.peerClosed.client, true);
    assert.equal(pair.server.isClosed, true);
    assert.deepEqual(pair.alertsSent('client'), ['close_notify']);
    assert.deepEqual(pair.alertsSent('server'), ['close_notify']);
    assert.deepEqual(pair.failures, []);
  });

  it('ignores application data that arrives after close_notify, in a later flight (§6.1: MUST be ignored)', () => {
    const pair = connected();
    pair.server.close();
    pair.pump();
    assert.equal(pair.peerClosed.client, true);
    pair.deliver('server-to-client', pair.forge('server-to-client', ContentType.application_data, Buffer.from('after close_notify')));
    assert.equal(pair.received('client').toString(), '');
  });

  it('ignores application data that follows close_notify in the same flight (§6.1: MUST be ignored)', () => {
    const pair = connected();
    pair.server.close();
    let trailing: Buffer | undefined;
    pair.tamper = onFlight('server-to-client', 0, (bytes) => {
      trailing = pair.forge('server-to-client', ContentType.application_data, Buffer.from('after close_notify'));
      return Buffer.concat([bytes, trailing]);
    });
    pair.pump();
    assert.ok(trailing !== undefined);
    assert.equal(pair.peerClosed.client, true);
    // Any later bytes (even none) must not release the record left behind close_notify.
    pair.deliver('server-to-client', Buffer.alloc(0));
    assert.equal(pair.received('client').toString(), '');
  });
});

describe('Records without content (a CPU bound, as OpenSSL keeps)', () => {
  it('accepts 32 empty application-data records in a row and refuses the 33rd with unexpected_message', () => {
    const pair = new TlsPair().handshake();
    for (let i = 0; i < 32; i++)
      pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.application_data, Buffer.alloc(0)));
    assert.equal(pair.errors.server, undefined);
    pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.application_data, Buffer.alloc(0)));
    assert.equal(serverErrorOf(pair)?.alert, 'unexpected_message');
  });

  it('counts only records in a row: data in between resets the count', () => {
    const pair = new TlsPair().handshake();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 32; i++)
        pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.application_data, Buffer.alloc(0)));
      pair.deliver('client-to-server', pair.forge('client-to-server', ContentType.application_data, Buffer.from('x')));
    }
    assert.equal(pair.errors.server, undefined);
    assert.equal(pair.received('server').toString(), 'xxx');
  });
});

/** Read through a call, so an earlier assertion does not narrow the type. */
function serverErrorOf(pair: TlsPair): TlsAlertError | undefined {
  return pair.errors.server;
}
