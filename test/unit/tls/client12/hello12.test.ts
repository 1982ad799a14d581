import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TlsAlertError, type AlertName } from '../../../../src/tls/alert.js';
import { resolveClientConfig } from '../../../../src/tls/config.js';
import { Connection } from '../../../../src/tls/connection.js';
import { AlertDescription } from '../../../../src/tls/alert.js';
import { ExtensionType, HandshakeType, Tls12ExtensionType } from '../../../../src/tls/codec/enums.js';
import { findExtension, type RawExtension } from '../../../../src/tls/codec/extensions.js';
import { frameHandshake } from '../../../../src/tls/codec/handshake-frame.js';
import { decodeClientHello, type ClientHello } from '../../../../src/tls/codec/messages/client-hello.js';
import { DOWNGRADE_TLS11, DOWNGRADE_TLS12, encodeServerHello } from '../../../../src/tls/codec/messages/server-hello.js';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { startClientHandshake } from '../../../../src/tls/handshake/client/index.js';
import type { Tls12ClientSession } from '../../../../src/tls/handshake/client/index.js';
import type { TlsConnectOptions } from '../../../../src/tls/options.js';
import type { ClientSession } from '../../../../src/tls/tickets.js';

/**
 * The TLS 1.2 side of our ClientHello and the checks on a TLS 1.2
 * ServerHello (src/tls/handshake/client12/hello12.ts), on a real Connection
 * fed scripted ServerHello records: the downgrade sentinel (RFC 8446
 * §4.1.3), the extended master secret (RFC 7627 §5.3), renegotiation_info
 * (RFC 5746 §3.4), the suite and the session id echo (RFC 5077 §3.4).
 */

const NOW = Date.UTC(2026, 11, 6);
const ECDHE_ECDSA_AES128 = 0xc02b;
const RSA_AES128_GCM = 0x009c;

interface Started {
  readonly connection: Connection;
  readonly hello: ClientHello;
  readonly record: Buffer;
}

function start(options: Partial<TlsConnectOptions>, session?: ClientSession, session12?: Tls12ClientSession): Started {
  const config = resolveClientConfig({ servername: 'localhost', rejectUnauthorized: false, now: () => NOW, ...options });
  const hooks = { onHandshakeComplete: () => undefined, onData: () => undefined, onPeerClose: () => undefined };
  const connection = new Connection('client', nodeCryptoProvider, hooks, config.maxHandshakeMessageSize, () => NOW);
  connection.start((ctx) => startClientHandshake(ctx, config, session, session12));
  const record = connection.takeOutgoing() ?? Buffer.alloc(0);
  return { connection, hello: decodeClientHello(record.subarray(9)), record };
}

function extension(hello: ClientHello, type: number): Buffer | undefined {
  return findExtension(hello.extensions, type);
}

/** The extensions a TLS 1.2 server answers with: EMS, empty renegotiation_info, ec_point_formats [uncompressed]. */
const TLS12_ANSWER: readonly RawExtension[] = [
  { type: Tls12ExtensionType.renegotiation_info, data: Buffer.of(0) },
  { type: Tls12ExtensionType.extended_master_secret, data: Buffer.alloc(0) },
  { type: Tls12ExtensionType.ec_point_formats, data: Buffer.of(1, 0) },
];

function serverHello12(
  options: { random?: Buffer; sessionId?: Buffer; suite?: number; extensions?: readonly RawExtension[] } = {},
): Buffer {
  const body = encodeServerHello({
    random: options.random ?? Buffer.alloc(32, 0x5a),
    legacySessionIdEcho: options.sessionId ?? Buffer.alloc(32, 0x11),
    cipherSuite: options.suite ?? ECDHE_ECDSA_AES128,
    extensions: options.extensions ?? TLS12_ANSWER,
  });
  const message = frameHandshake(HandshakeType.server_hello, body);
  const header = Buffer.of(22, 3, 3, message.length >> 8, message.length & 0xff);
  return Buffer.concat([header, message]);
}

/** Feeds `record` and expects our fatal alert `alert`, sent to the server as one alert record. */
function expectOurAlert(started: Started, record: Buffer, alert: AlertName): void {
  assert.throws(
    () => started.connection.receive(record),
    (err: unknown) => err instanceof TlsAlertError && err.alert === alert && !err.isRemote,
  );
  const sent = started.connection.takeOutgoing();
  assert.deepEqual(sent, Buffer.of(21, 3, 3, 0, 2, 2, AlertDescription[alert]));
}

function randomEndingWith(tail: Buffer): Buffer {
  return Buffer.concat([Buffer.alloc(24, 0x33), tail]);
}

describe('our ClientHello by version', () => {
  it('resolves the client to TLS 1.3 alone unless minVersion or maxVersion names TLS 1.2', () => {
    const versions = (options: Partial<TlsConnectOptions>): [string, string] => {
      const config = resolveClientConfig({ rejectUnauthorized: false, ...options });
      return [config.minVersion, config.maxVersion];
    };
    assert.deepEqual(versions({}), ['TLSv1.3', 'TLSv1.3']);
    assert.deepEqual(versions({ minVersion: 'TLSv1.2' }), ['TLSv1.2', 'TLSv1.3']);
    assert.deepEqual(versions({ maxVersion: 'TLSv1.2' }), ['TLSv1.2', 'TLSv1.2']);
    assert.throws(() => versions({ minVersion: 'TLSv1.3', maxVersion: 'TLSv1.2' }), /minVersion is above maxVersion/);
  });

  it('offers TLS 1.3 alone by default: no TLS 1.2 suite, version or extension', () => {
    const { hello } = start({});
    assert.deepEqual(hello.cipherSuites, [0x1301, 0x1302, 0x1303]);
    assert.deepEqual(extension(hello, ExtensionType.supported_versions), Buffer.of(2, 3, 4));
    for (const type of Object.values(Tls12ExtensionType)) assert.equal(extension(hello, type), undefined, `extension ${type}`);
  });

  it('with minVersion TLSv1.2 adds 0x0303, the six ECDHE AEAD suites after the 1.3 ones, and the TLS 1.2 extensions', () => {
    const { hello, record } = start({ minVersion: 'TLSv1.2' });
    assert.deepEqual(hello.cipherSuites, [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8]);
    assert.deepEqual(extension(hello, ExtensionType.supported_versions), Buffer.of(4, 3, 4, 3, 3));
    assert.deepEqual(extension(hello, Tls12ExtensionType.extended_master_secret), Buffer.alloc(0));
    assert.deepEqual(extension(hello, Tls12ExtensionType.renegotiation_info), Buffer.of(0));
    assert.deepEqual(extension(hello, Tls12ExtensionType.ec_point_formats), Buffer.of(1, 0));
    assert.deepEqual(extension(hello, Tls12ExtensionType.session_ticket), Buffer.alloc(0));
    // RFC 5246 §7.4.1.4.1 with no SHA-1: the 1.3 schemes, then RSASSA-PKCS1-v1_5 with SHA-256/384/512.
    assert.deepEqual(
      extension(hello, ExtensionType.signature_algorithms),
      Buffer.from('0012' + '0403' + '0807' + '0503' + '0804' + '0805' + '0806' + '0401' + '0501' + '0601', 'hex'),
    );
    assert.ok(extension(hello, ExtensionType.key_share) !== undefined, 'TLS 1.3 is still offered');
    assert.equal(record[2], 1, 'the first ClientHello record still says TLS 1.0 (RFC 8446 §5.1)');
  });

  it('with maxVersion TLSv1.2 offers TLS 1.2 alone: no key_share, no psk_key_exchange_modes, no TLS 1.3 suite', () => {
    const { hello } = start({ maxVersion: 'TLSv1.2' });
    assert.deepEqual(hello.cipherSuites, [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8]);
    assert.deepEqual(extension(hello, ExtensionType.supported_versions), Buffer.of(2, 3, 3));
    assert.equal(extension(hello, ExtensionType.key_share), undefined);
    assert.equal(extension(hello, ExtensionType.psk_key_exchange_modes), undefined);
  });
});

describe('which ticket goes where', () => {
  const session12: Tls12ClientSession = {
    suite: ECDHE_ECDSA_AES128,
    ticket: Buffer.from('a 1.2 ticket'),
    masterSecret: Buffer.alloc(48, 7),
    receivedAt: NOW - 1000,
    lifetimeSeconds: 3600,
    servername: 'localhost',
    alpn: '',
    peerChain: [],
  };
  const session13: ClientSession = {
    suite: 0x1301,
    ticket: Buffer.from('a 1.3 ticket'),
    psk: Buffer.alloc(32, 9),
    receivedAt: NOW - 1000,
    lifetimeSeconds: 3600,
    ageAdd: 0,
    servername: 'localhost',
    alpn: '',
    peerChain: [],
  };

  it('offers a TLS 1.2 session only in session_ticket (RFC 5077 §3.1), never as a PSK', () => {
    const { hello } = start({ minVersion: 'TLSv1.2' }, undefined, session12);
    assert.deepEqual(extension(hello, Tls12ExtensionType.session_ticket), Buffer.from('a 1.2 ticket'));
    assert.equal(extension(hello, ExtensionType.pre_shared_key), undefined);
  });

  it('offers a TLS 1.3 session only as a PSK (RFC 8446 §4.2.11), with an empty session_ticket', () => {
    const { hello } = start({ minVersion: 'TLSv1.2' }, session13, undefined);
    assert.deepEqual(extension(hello, Tls12ExtensionType.session_ticket), Buffer.alloc(0));
    assert.ok(extension(hello, ExtensionType.pre_shared_key)?.includes(Buffer.from('a 1.3 ticket')));
  });

  it('does not offer a TLS 1.2 session when TLS 1.2 is not offered, nor an expired one', () => {
    assert.equal(extension(start({}, undefined, session12).hello, Tls12ExtensionType.session_ticket), undefined);
    const expired = { ...session12, receivedAt: NOW - 3601_000 };
    assert.deepEqual(
      extension(start({ minVersion: 'TLSv1.2' }, undefined, expired).hello, Tls12ExtensionType.session_ticket),
      Buffer.alloc(0),
    );
  });
});

describe('a TLS 1.2 ServerHello', () => {
  it('goes on to the server Certificate when it is well-formed', () => {
    const started = start({ minVersion: 'TLSv1.2' });
    started.connection.receive(serverHello12());
    assert.equal(started.connection.stateName, 'ExpectCertificate12');
  });

  for (const [name, tail] of [
    ['DOWNGRADE_TLS12', DOWNGRADE_TLS12],
    ['DOWNGRADE_TLS11', DOWNGRADE_TLS11],
  ] as const) {
    it(`with the ${name} sentinel, when we offered TLS 1.3 too, is illegal_parameter (RFC 8446 §4.1.3)`, () => {
      const started = start({ minVersion: 'TLSv1.2' });
      expectOurAlert(started, serverHello12({ random: randomEndingWith(tail) }), 'illegal_parameter');
    });
  }

  it('with the sentinel is accepted when we offered TLS 1.2 alone: a 1.3 server then rightly sets it', () => {
    const started = start({ maxVersion: 'TLSv1.2' });
    started.connection.receive(serverHello12({ random: randomEndingWith(DOWNGRADE_TLS12) }));
    assert.equal(started.connection.stateName, 'ExpectCertificate12');
  });

  it('without extended_master_secret is handshake_failure (RFC 7627 §5.3)', () => {
    const started = start({ minVersion: 'TLSv1.2' });
    const withoutEms = TLS12_ANSWER.filter((e) => e.type !== Tls12ExtensionType.extended_master_secret);
    expectOurAlert(started, serverHello12({ extensions: withoutEms }), 'handshake_failure');
  });

  it('with a non-empty renegotiation_info is handshake_failure (RFC 5746 §3.4)', () => {
    const started = start({ minVersion: 'TLSv1.2' });
    const extensions = TLS12_ANSWER.map((e) =>
      e.type === Tls12ExtensionType.renegotiation_info ? { type: e.type, data: Buffer.concat([Buffer.of(12), Buffer.alloc(12, 1)]) } : e,
    );
    expectOurAlert(started, serverHello12({ extensions }), 'handshake_failure');
  });

  it('choosing a suite we did not offer (RSA key transport) is illegal_parameter (RFC 5246 §7.4.1.3)', () => {
    expectOurAlert(start({ minVersion: 'TLSv1.2' }), serverHello12({ suite: RSA_AES128_GCM }), 'illegal_parameter');
  });

  it('echoing our session id when we sent no ticket is illegal_parameter: there is no session to resume', () => {
    const started = start({ minVersion: 'TLSv1.2' });
    expectOurAlert(started, serverHello12({ sessionId: started.hello.legacySessionId }), 'illegal_parameter');
  });

  it('with an extension we did not offer is unsupported_extension (RFC 5246 §7.4.1.4)', () => {
    const extensions = [...TLS12_ANSWER, { type: ExtensionType.record_size_limit, data: Buffer.of(0x40, 0) }];
    expectOurAlert(start({ minVersion: 'TLSv1.2' }), serverHello12({ extensions }), 'unsupported_extension');
  });

  it('is protocol_version to a client that offered TLS 1.3 alone (the default)', () => {
    expectOurAlert(start({}), serverHello12(), 'protocol_version');
  });
});
