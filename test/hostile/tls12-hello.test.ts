import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import {
  ContentType,
  ExtensionType,
  HandshakeType,
  NamedGroup,
  SignatureScheme,
  Tls12CipherSuite,
  Tls12ExtensionType,
  TLS_EMPTY_RENEGOTIATION_INFO_SCSV,
} from '../../src/tls/codec/enums.js';
import { encodeServerName, encodeU16List, type RawExtension } from '../../src/tls/codec/extensions.js';
import { frameHandshake } from '../../src/tls/codec/handshake-frame.js';
import { encodeClientHello, type ClientHello } from '../../src/tls/codec/messages/client-hello.js';
import type { TlsServerOptions } from '../../src/tls/index.js';
import { withTimeout } from '../helpers/processes.js';
import { alertOf, fixture, Scope, startEchoServer } from '../interop/harness.js';
import { ALERT, record } from './raw-wire.js';

/**
 * Hostile TLS 1.2 ClientHellos and records against our server over a real
 * socket: each must end in the one fatal alert RFC 5246 and its extensions
 * name, and the server must keep serving.
 */

const BASE_EXTENSIONS: readonly RawExtension[] = [
  { type: ExtensionType.server_name, data: encodeServerName('localhost') },
  { type: ExtensionType.supported_groups, data: encodeU16List([NamedGroup.x25519, NamedGroup.secp256r1]) },
  { type: Tls12ExtensionType.ec_point_formats, data: Buffer.of(1, 0) },
  { type: ExtensionType.signature_algorithms, data: encodeU16List([SignatureScheme.ecdsa_secp256r1_sha256]) },
  { type: Tls12ExtensionType.extended_master_secret, data: Buffer.alloc(0) },
  { type: Tls12ExtensionType.renegotiation_info, data: Buffer.of(0) },
];

/** A TLS 1.2 ClientHello (no supported_versions) our server would answer, changed by `edit`. */
function clientHello12(edit: (hello: ClientHello) => ClientHello = (h) => h): Buffer {
  const hello = edit({
    legacyVersion: 0x0303,
    random: Buffer.alloc(32, 7),
    legacySessionId: Buffer.alloc(0),
    cipherSuites: [Tls12CipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_EMPTY_RENEGOTIATION_INFO_SCSV],
    legacyCompressionMethods: Buffer.of(0),
    extensions: BASE_EXTENSIONS,
  });
  return record(ContentType.handshake, frameHandshake(HandshakeType.client_hello, encodeClientHello(hello)));
}

function without(type: number): readonly RawExtension[] {
  return BASE_EXTENSIONS.filter((e) => e.type !== type);
}

function replacing(type: number, data: Buffer): readonly RawExtension[] {
  return BASE_EXTENSIONS.map((e) => (e.type === type ? { type, data } : e));
}

/** Sends `bytes` and reads until `isDone` (default: the last record is an alert) or the server closes; bounded. */
async function exchange(
  port: number,
  bytes: Buffer,
  isDone = (received: Buffer) => lastRecord(received)[0] === ContentType.alert,
): Promise<Buffer> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  let received = Buffer.alloc(0);
  const done = new Promise<void>((resolve) => {
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (isDone(received)) resolve();
    });
    socket.once('close', () => resolve());
  });
  socket.write(bytes);
  try {
    await withTimeout(done, 5_000, 'an alert from the server');
  } finally {
    socket.destroy();
  }
  return received;
}

/** The last record of what the server sent: its fatal alert. */
function lastRecord(bytes: Buffer): Buffer {
  let at = 0;
  let last: Buffer = Buffer.alloc(0);
  while (at + 5 <= bytes.length) {
    const end = at + 5 + bytes.readUInt16BE(at + 3);
    if (end > bytes.length) break;
    last = bytes.subarray(at, end);
    at = end;
  }
  return last;
}

describe('hostile TLS 1.2 ClientHellos and records (RFC 5246, RFC 7627, RFC 5746, RFC 8422)', () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  async function serve(options: Partial<TlsServerOptions> = {}): Promise<Awaited<ReturnType<typeof startEchoServer>>> {
    const server = await startEchoServer({ key: fixture('server.key'), cert: fixture('server-chain.pem'), ...options });
    scope.defer(() => server.close());
    return server;
  }

  const cases: readonly { name: string; hello: Buffer; alert: keyof typeof ALERT; options?: Partial<TlsServerOptions> }[] = [
    {
      name: 'a client without extended_master_secret gets handshake_failure (RFC 7627 §5.3)',
      hello: clientHello12((h) => ({ ...h, extensions: without(Tls12ExtensionType.extended_master_secret) })),
      alert: 'handshake_failure',
    },
    {
      name: 'compression methods without null get illegal_parameter (RFC 5246 §7.4.1.2)',
      hello: clientHello12((h) => ({ ...h, legacyCompressionMethods: Buffer.of(1) })),
      alert: 'illegal_parameter',
    },
    {
      name: 'a non-empty renegotiation_info in an initial handshake gets handshake_failure (RFC 5746 §3.6)',
      hello: clientHello12((h) => ({
        ...h,
        extensions: replacing(Tls12ExtensionType.renegotiation_info, Buffer.from('0c' + '00'.repeat(12), 'hex')),
      })),
      alert: 'handshake_failure',
    },
    {
      name: 'ec_point_formats without uncompressed gets illegal_parameter (RFC 8422 §5.1.2)',
      hello: clientHello12((h) => ({ ...h, extensions: replacing(Tls12ExtensionType.ec_point_formats, Buffer.of(1, 1)) })),
      alert: 'illegal_parameter',
    },
    {
      name: 'no signature_algorithms (SHA-1 by default, RFC 5246 §7.4.1.4.1) gets handshake_failure',
      hello: clientHello12((h) => ({ ...h, extensions: without(ExtensionType.signature_algorithms) })),
      alert: 'handshake_failure',
    },
    {
      name: 'CBC and RSA-key-transport suites only get handshake_failure',
      hello: clientHello12((h) => ({ ...h, cipherSuites: [0xc009, 0xc013, 0x009c, 0x002f] })),
      alert: 'handshake_failure',
    },
    {
      name: 'an ECDSA-only offer whose supported_groups leave out our key’s curve (P-256) gets handshake_failure (RFC 8422 §5.1)',
      hello: clientHello12((h) => ({ ...h, extensions: replacing(ExtensionType.supported_groups, encodeU16List([NamedGroup.x25519])) })),
      alert: 'handshake_failure',
    },
    {
      name: 'a TLS 1.2 hello to a server with minVersion TLSv1.3 gets protocol_version (RFC 8446 §4.2.1)',
      hello: clientHello12(),
      alert: 'protocol_version',
      options: { minVersion: 'TLSv1.3' },
    },
    {
      name: 'a ChangeCipherSpec right after the ClientHello (before ClientKeyExchange) gets unexpected_message (RFC 5246 §7.1)',
      hello: Buffer.concat([clientHello12(), record(ContentType.change_cipher_spec, Buffer.of(1))]),
      alert: 'unexpected_message',
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      const server = await serve(c.options);
      const answer = await exchange(server.port, c.hello);
      assert.equal(lastRecord(answer).toString('hex'), record(ContentType.alert, Buffer.of(2, ALERT[c.alert])).toString('hex'));
      const err = await server.nextClientError();
      assert.equal(alertOf(err), c.alert, String(err));
      // The server keeps serving: a well-formed hello gets its ServerHello.
      const next = await exchange(server.port, clientHello12(), (received) => lastRecord(received).length > 0);
      assert.equal(next[5], HandshakeType.server_hello);
    });
  }
});
