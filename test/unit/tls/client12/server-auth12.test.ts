import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { AlertDescription, TlsAlertError, type AlertName } from '../../../../src/tls/alert.js';
import { resolveClientConfig } from '../../../../src/tls/config.js';
import { Connection } from '../../../../src/tls/connection.js';
import { HandshakeType, NamedGroup, SignatureScheme, Tls12ExtensionType } from '../../../../src/tls/codec/enums.js';
import { frameHandshake } from '../../../../src/tls/codec/handshake-frame.js';
import { decodeClientHello } from '../../../../src/tls/codec/messages/client-hello.js';
import { encodeServerHello } from '../../../../src/tls/codec/messages/server-hello.js';
import { encodeCertificate12 } from '../../../../src/tls/codec/messages/tls12/certificate.js';
import {
  encodeServerKeyExchange,
  serverKeyExchangeSignedContent,
  type EcdheParams,
} from '../../../../src/tls/codec/messages/tls12/server-key-exchange.js';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { signWithScheme } from '../../../../src/tls/crypto/signatures.js';
import { startClientHandshake } from '../../../../src/tls/handshake/client/index.js';
import { parsePemCertificates } from '../../../../src/pkix/index.js';

/**
 * The server's authentication in a TLS 1.2 handshake, as our client checks
 * it (client12/server-auth12.ts), on a real Connection fed scripted records:
 * the certificate's key must suit the suite (RFC 8422 §2), and the
 * ServerKeyExchange must use a group we offered (§5.4) and carry a
 * signature by the leaf key, with a scheme we offered, over both randoms
 * and the params (RFC 5246 §7.4.3).
 */

const FIXTURES = fileURLToPath(new URL('../../../../../test/fixtures/', import.meta.url));
const fixture = (name: string): Buffer => readFileSync(`${FIXTURES}${name}`);
const NOW = Date.now();
const ECDHE_ECDSA_AES128 = 0xc02b;
const ECDHE_RSA_AES128 = 0xc02f;
const ECDSA_SHA1 = 0x0203;

function record(type: number, body: Buffer): Buffer {
  const message = frameHandshake(type, body);
  return Buffer.concat([Buffer.of(22, 3, 3, message.length >> 8, message.length & 0xff), message]);
}

interface Scripted {
  readonly connection: Connection;
  readonly clientRandom: Buffer;
  readonly serverRandom: Buffer;
}

/** Our client (minVersion TLSv1.2) after a TLS 1.2 ServerHello for `suite` and the Certificate of `server`. */
function afterCertificate(suite: number, server: 'server' | 'server-rsa'): Scripted {
  const config = resolveClientConfig({ servername: 'localhost', ca: fixture('ca.pem'), minVersion: 'TLSv1.2', now: () => NOW });
  const hooks = { onHandshakeComplete: () => undefined, onData: () => undefined, onPeerClose: () => undefined };
  const connection = new Connection('client', nodeCryptoProvider, hooks, config.maxHandshakeMessageSize, () => NOW);
  connection.start((ctx) => startClientHandshake(ctx, config, undefined));
  const clientRandom = decodeClientHello((connection.takeOutgoing() ?? Buffer.alloc(0)).subarray(9)).random;
  const serverRandom = Buffer.alloc(32, 0x5a);
  const extensions = [
    { type: Tls12ExtensionType.renegotiation_info, data: Buffer.of(0) },
    { type: Tls12ExtensionType.extended_master_secret, data: Buffer.alloc(0) },
  ];
  const hello = encodeServerHello({ random: serverRandom, legacySessionIdEcho: Buffer.alloc(0), cipherSuite: suite, extensions });
  const chain = parsePemCertificates(fixture(`${server}-chain.pem`));
  connection.receive(
    Buffer.concat([record(HandshakeType.server_hello, hello), record(HandshakeType.certificate, encodeCertificate12({ chain }))]),
  );
  return { connection, clientRandom, serverRandom };
}

function x25519Params(): EcdheParams {
  const spki = generateKeyPairSync('x25519').publicKey.export({ type: 'spki', format: 'der' });
  return { namedCurve: NamedGroup.x25519, publicKey: Buffer.from(spki.subarray(spki.length - 32)) };
}

function serverKeyExchange(s: Scripted, options: { params?: EcdheParams; scheme?: number; randoms?: Buffer } = {}): Buffer {
  const params = options.params ?? x25519Params();
  const scheme = options.scheme ?? SignatureScheme.ecdsa_secp256r1_sha256;
  const content = serverKeyExchangeSignedContent(s.clientRandom, options.randoms ?? s.serverRandom, params);
  // ecdsa_sha1 (0x0203) is never signed here: a SHA-256 signature labelled with it is refused for its label alone.
  const signingScheme = scheme === ECDSA_SHA1 ? SignatureScheme.ecdsa_secp256r1_sha256 : scheme;
  const signature = signWithScheme(signingScheme, createPrivateKey(fixture('server.key')), content);
  return record(HandshakeType.server_key_exchange, encodeServerKeyExchange({ params, algorithm: scheme, signature }));
}

function expectOurAlert(s: Scripted, bytes: Buffer, alert: AlertName): void {
  assert.throws(
    () => s.connection.receive(bytes),
    (err: unknown) => err instanceof TlsAlertError && err.alert === alert && !err.isRemote,
  );
  assert.deepEqual(s.connection.takeOutgoing(), Buffer.of(21, 3, 3, 0, 2, 2, AlertDescription[alert]));
}

describe('a TLS 1.2 server authenticating to our client', () => {
  it('with a verified chain and a good ServerKeyExchange, goes on to CertificateRequest or ServerHelloDone', () => {
    const s = afterCertificate(ECDHE_ECDSA_AES128, 'server');
    s.connection.receive(serverKeyExchange(s));
    assert.equal(s.connection.stateName, 'ExpectCertificateRequestOrServerHelloDone12');
  });

  it('ignores a HelloRequest during the handshake and goes on (RFC 5246 §7.4.1.1)', () => {
    const s = afterCertificate(ECDHE_ECDSA_AES128, 'server');
    s.connection.receive(record(HandshakeType.hello_request, Buffer.alloc(0)));
    assert.equal(s.connection.stateName, 'ExpectCertificateStatusOrServerKeyExchange12');
    assert.equal(s.connection.takeOutgoing(), undefined, 'nothing sent in answer');
    s.connection.receive(serverKeyExchange(s));
    assert.equal(s.connection.stateName, 'ExpectCertificateRequestOrServerHelloDone12');
  });

  it('a HelloRequest with a body is decode_error', () => {
    const s = afterCertificate(ECDHE_ECDSA_AES128, 'server');
    expectOurAlert(s, record(HandshakeType.hello_request, Buffer.of(0)), 'decode_error');
  });

  it('with an RSA certificate for an ECDHE_ECDSA suite is unsupported_certificate (RFC 8422 §2)', () => {
    assert.throws(
      () => afterCertificate(ECDHE_ECDSA_AES128, 'server-rsa'),
      (err: unknown) => err instanceof TlsAlertError && err.alert === 'unsupported_certificate',
    );
  });

  it('with an ECDSA certificate for an ECDHE_RSA suite is unsupported_certificate (RFC 8422 §2)', () => {
    assert.throws(
      () => afterCertificate(ECDHE_RSA_AES128, 'server'),
      (err: unknown) => err instanceof TlsAlertError && err.alert === 'unsupported_certificate',
    );
  });

  it('signing with a scheme we did not offer (ecdsa_sha1) is illegal_parameter (RFC 5246 §7.4.1.4.1)', () => {
    const s = afterCertificate(ECDHE_ECDSA_AES128, 'server');
    expectOurAlert(s, serverKeyExchange(s, { scheme: ECDSA_SHA1 }), 'illegal_parameter');
  });

  it('a signature over other randoms is decrypt_error (RFC 5246 §7.4.3)', () => {
    const s = afterCertificate(ECDHE_ECDSA_AES128, 'server');
    expectOurAlert(s, serverKeyExchange(s, { randoms: Buffer.alloc(32, 0x77) }), 'decrypt_error');
  });

  it('a group we did not offer (ffdhe2048) is illegal_parameter (RFC 8422 §5.4)', () => {
    const s = afterCertificate(ECDHE_ECDSA_AES128, 'server');
    const params = { namedCurve: NamedGroup.ffdhe2048, publicKey: Buffer.alloc(32, 1) };
    expectOurAlert(s, serverKeyExchange(s, { params }), 'illegal_parameter');
  });

  it('a ServerHelloDone before the ServerKeyExchange is unexpected_message', () => {
    const s = afterCertificate(ECDHE_ECDSA_AES128, 'server');
    expectOurAlert(s, record(HandshakeType.server_hello_done, Buffer.alloc(0)), 'unexpected_message');
  });
});
