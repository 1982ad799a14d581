import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  connect,
  createServer,
  SessionCache,
  TlsAlertError,
  type AlertName,
  type PeerCertificates,
  type TlsConnectOptions,
  type TlsServer,
  type TlsServerOptions,
  type TlsSocket,
} from '../../../src/tls/index.js';
import { ContentType, ExtensionType, HandshakeType } from '../../../src/tls/codec/enums.js';
import {
  decodeCertificateStatus,
  encodeCertificateStatus,
  findExtension,
  MAX_STAPLED_OCSP_RESPONSE,
} from '../../../src/tls/codec/extensions.js';
import { decodeCertificate, encodeCertificate } from '../../../src/tls/codec/messages/certificate.js';
import { decodeClientHello } from '../../../src/tls/codec/messages/client-hello.js';
import { decodeEncryptedExtensions, encodeEncryptedExtensions } from '../../../src/tls/codec/messages/encrypted-extensions.js';
import type { HandshakeMessage } from '../../../src/tls/codec/handshake-frame.js';
import { frame, handshakeMessages, onFlight, other, rewriteClientHello, TlsPair, type Side, type Tamper } from '../../fakes/tls-pair.js';
import { nextEvent, portOf, withTimeout } from '../../helpers/processes.js';

/**
 * OCSP stapling (RFC 6066 §8 as TLS 1.3 carries it, RFC 8446 §4.4.2.1): our
 * server and our client over real sockets on 127.0.0.1, then the wire-level
 * cases (a staple nobody asked for, malformed ones) over the in-memory pair,
 * whose tamper hook can reseal the server's protected Certificate.
 */

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const fixture = (name: string): Buffer => readFileSync(FIXTURES + name);

const serverBase: TlsServerOptions = {
  key: fixture('server.key'),
  cert: fixture('server-chain.pem'),
  ca: fixture('ca.pem'),
  clientAuth: 'require',
};
const clientBase: TlsConnectOptions = {
  host: '127.0.0.1',
  servername: 'localhost',
  ca: fixture('ca.pem'),
  key: fixture('client.key'),
  cert: fixture('client-chain.pem'),
};

/** The smallest OCSPResponse: SEQUENCE { responseStatus ENUMERATED tryLater(3) } (RFC 6960 §4.2.1). */
const TRY_LATER = Buffer.from('30030a0103', 'hex');

/** A stand-in for a signed response: the engine never reads the bytes, so any DER-shaped blob will do. */
function fakeResponse(tag: number): Buffer {
  return Buffer.concat([Buffer.from('3082010a', 'hex'), Buffer.alloc(0x10a, tag)]);
}

describe('OCSP stapling over sockets (RFC 8446 §4.4.2.1, RFC 6066 §8)', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  /** Our server with `ocspResponse` counted; echoes data. */
  async function listen(options: Partial<TlsServerOptions>): Promise<{ server: TlsServer; port: number }> {
    const server = createServer({ ...serverBase, ...options }, (socket) => {
      socket.on('error', () => {});
      socket.on('data', (d: Buffer) => socket.write(d));
      socket.on('end', () => socket.end());
    });
    cleanups.push(() => server.close());
    server.listen(0, '127.0.0.1');
    await nextEvent(server, 'listening');
    return { server, port: portOf(server.address()) };
  }

  /** A handshake that must complete, then one echoed ping so data flows after the staple. */
  async function dial(port: number, options: Partial<TlsConnectOptions> = {}): Promise<TlsSocket> {
    const socket = connect({ ...clientBase, port, ...options });
    cleanups.push(() => socket.destroy());
    await nextEvent(socket, 'secure');
    const echo = nextEvent(socket, 'data');
    socket.write('ping');
    assert.equal(String((await echo)[0]), 'ping');
    socket.on('error', () => {});
    socket.end();
    return socket;
  }

  /** A handshake our client must refuse: the client's own error, the server's view of it, both sockets closed. */
  async function dialRefused(server: TlsServer, port: number, options: Partial<TlsConnectOptions>, alert: AlertName): Promise<void> {
    const serverError = nextEvent(server, 'tlsClientError');
    const socket = connect({ ...clientBase, port, ...options });
    cleanups.push(() => socket.destroy());
    let secure = false;
    socket.once('secure', () => {
      secure = true;
    });
    // Not nextEvent: waiting for 'close' that way would reject on the 'error' that comes first.
    const closed = withTimeout(new Promise((resolve) => socket.once('close', resolve)), 5000, 'the client socket closing');
    const [clientError] = await nextEvent(socket, 'error');
    assert.ok(clientError instanceof TlsAlertError, String(clientError));
    assert.equal(clientError.alert, alert, clientError.message);
    assert.equal(clientError.isRemote, false, 'the client sent the alert');
    const [received, serverSocket] = await serverError;
    assert.ok(received instanceof TlsAlertError, String(received));
    assert.equal(received.alert, alert, 'the server read the same alert');
    assert.equal(received.isRemote, true);
    await closed;
    assert.equal(secure, false, 'the client never reported a secure connection');
    const s = serverSocket as TlsSocket;
    if (!s.destroyed) await withTimeout(new Promise((resolve) => s.once('close', resolve)), 5000, 'the server socket closing');
    assert.equal(s.isSecure, false, 'the server never completed the handshake');
  }

  it('staples the callback’s response for the client that asks; the socket exposes it and verifyOcspStaple sees it with the verified peer', async () => {
    let calls = 0;
    const { port } = await listen({
      ocspResponse: () => {
        calls++;
        return TRY_LATER;
      },
    });
    const seen: { staple: Uint8Array | undefined; peer: PeerCertificates }[] = [];
    const socket = await dial(port, { requestOcspStaple: true, verifyOcspStaple: (staple, peer) => seen.push({ staple, peer }) });
    assert.equal(calls, 1);
    assert.deepEqual(socket.ocspResponse, TRY_LATER);
    assert.equal(seen.length, 1);
    assert.deepEqual(seen[0]!.staple, TRY_LATER);
    assert.equal(seen[0]!.peer.leaf.subject, 'CN=localhost');
    assert.equal(seen[0]!.peer.chain.length, 3, 'leaf, intermediate, root: the chain was verified first');
  });

  it('asks verifyOcspStaple for a staple by itself: requestOcspStaple defaults to whether the hook is given', async () => {
    const { port } = await listen({ ocspResponse: () => TRY_LATER });
    let staple: Uint8Array | undefined;
    const socket = await dial(port, {
      verifyOcspStaple: (s) => {
        staple = s;
      },
    });
    assert.deepEqual(staple, TRY_LATER);
    assert.deepEqual(socket.ocspResponse, TRY_LATER);
  });

  it('calls the callback on every full handshake, so each connection carries the response of its moment', async () => {
    let calls = 0;
    const { port } = await listen({ ocspResponse: () => fakeResponse(++calls) });
    const first = await dial(port, { requestOcspStaple: true });
    const second = await dial(port, { requestOcspStaple: true });
    assert.equal(calls, 2);
    assert.deepEqual(first.ocspResponse, fakeResponse(1));
    assert.deepEqual(second.ocspResponse, fakeResponse(2));
  });

  it('sends no staple, and never calls the callback, when the client did not ask', async () => {
    let calls = 0;
    const { port } = await listen({
      ocspResponse: () => {
        calls++;
        return TRY_LATER;
      },
    });
    const socket = await dial(port);
    assert.equal(calls, 0);
    assert.equal(socket.ocspResponse, undefined);
  });

  it('sends no status_request when the callback has nothing; the client connects and its hook sees undefined', async () => {
    let calls = 0;
    const { port } = await listen({
      ocspResponse: () => {
        calls++;
        return undefined;
      },
    });
    const seen: (Uint8Array | undefined)[] = [];
    const socket = await dial(port, { verifyOcspStaple: (staple) => seen.push(staple) });
    assert.equal(calls, 1);
    assert.deepEqual(seen, [undefined]);
    assert.equal(socket.ocspResponse, undefined);
  });

  it('connects without a staple to a server that has no ocspResponse option at all', async () => {
    const { port } = await listen({});
    const socket = await dial(port, { requestOcspStaple: true });
    assert.equal(socket.ocspResponse, undefined);
  });

  it('ends the handshake with bad_certificate_status_response when verifyOcspStaple refuses the staple; both sides close', async () => {
    const { server, port } = await listen({ ocspResponse: () => TRY_LATER });
    await dialRefused(
      server,
      port,
      {
        verifyOcspStaple: (staple) => {
          if (staple !== undefined && Buffer.from(staple).equals(TRY_LATER)) throw new Error('responder said tryLater');
        },
      },
      'bad_certificate_status_response',
    );
  });

  it('ends the handshake with bad_certificate_status_response when a hook that requires a staple gets none', async () => {
    const { server, port } = await listen({ ocspResponse: () => undefined });
    await dialRefused(
      server,
      port,
      {
        verifyOcspStaple: (staple) => {
          if (staple === undefined) throw new Error('must-staple');
        },
      },
      'bad_certificate_status_response',
    );
  });

  it('lets verifyOcspStaple pick the alert with a TlsAlertError (certificate_revoked)', async () => {
    const { server, port } = await listen({ ocspResponse: () => TRY_LATER });
    await dialRefused(
      server,
      port,
      {
        verifyOcspStaple: () => {
          throw new TlsAlertError('certificate_revoked', 'the staple says revoked');
        },
      },
      'certificate_revoked',
    );
  });

  it('does not run verifyOcspStaple for a client that does not verify the chain (as verifyPeer), but still exposes the staple', async () => {
    const { port } = await listen({ ocspResponse: () => TRY_LATER });
    const socket = await dial(port, {
      rejectUnauthorized: false,
      requestOcspStaple: true,
      verifyOcspStaple: () => {
        throw new Error('must not run');
      },
    });
    assert.deepEqual(socket.ocspResponse, TRY_LATER);
  });

  it('keeps status_request through a HelloRetryRequest and staples after it (RFC 8446 §4.1.2)', async () => {
    const { port } = await listen({ groups: ['secp384r1'], ocspResponse: () => TRY_LATER });
    const socket = await dial(port, { groups: ['x25519', 'secp384r1'], requestOcspStaple: true });
    assert.deepEqual(socket.ocspResponse, TRY_LATER);
  });

  it('sends no Certificate on resumption, so no staple, no callback and no hook (RFC 8446 §2.2)', async () => {
    let calls = 0;
    const { port } = await listen({
      ocspResponse: () => {
        calls++;
        return TRY_LATER;
      },
    });
    const cache = new SessionCache();
    let hookCalls = 0;
    const options: Partial<TlsConnectOptions> = {
      sessionCache: cache,
      verifyOcspStaple: () => {
        hookCalls++;
      },
    };
    const first = connect({ ...clientBase, port, ...options });
    cleanups.push(() => first.destroy());
    const ticket = nextEvent(first, 'session');
    await nextEvent(first, 'secure');
    await ticket;
    first.end();
    const resumed = await dial(port, options);
    assert.equal(resumed.isResumed, true);
    assert.equal(resumed.ocspResponse, undefined);
    assert.equal(calls, 1, 'only the full handshake asked for a staple');
    assert.equal(hookCalls, 1);
  });

  it('ends the handshake with internal_error when the callback throws (the caller’s fault, logged with its cause)', async () => {
    const { server, port } = await listen({
      ocspResponse: () => {
        throw new Error('OCSP cache unavailable');
      },
    });
    const serverError = nextEvent(server, 'tlsClientError');
    const socket = connect({ ...clientBase, port, requestOcspStaple: true });
    cleanups.push(() => socket.destroy());
    const clientError = await nextEvent(socket, 'secure').then(
      () => assert.fail('expected an error'),
      (err: unknown) => err,
    );
    assert.ok(clientError instanceof TlsAlertError && clientError.isRemote && clientError.alert === 'internal_error', String(clientError));
    const [err] = await serverError;
    assert.ok(err instanceof TlsAlertError && !err.isRemote && err.alert === 'internal_error', String(err));
    assert.match(err.message, /OCSP cache unavailable/);
  });
});

// ---- on the wire, over the in-memory pair ----

/** Rewrites handshake messages of one type in the server's first flight, resealed under the server's handshake key. */
function editServerMessage(type: number, edit: (body: Buffer) => Buffer): Tamper {
  const rewrite = (m: HandshakeMessage): Buffer => (m.type === type ? frame(type, edit(m.body)) : m.raw);
  return onFlight('server-to-client', 0, (_bytes, records) =>
    Buffer.concat(
      records.map((r) =>
        r.isProtected && r.type === ContentType.handshake
          ? r.reseal(ContentType.handshake, Buffer.concat(handshakeMessages(r.content!).map(rewrite)))
          : r.raw,
      ),
    ),
  );
}

/** Sets the extensions of the leaf's CertificateEntry. */
function withLeafExtensions(extensions: { type: number; data: Buffer }[]): (body: Buffer) => Buffer {
  return (body) => {
    const certificate = decodeCertificate(body);
    const [leaf, ...rest] = certificate.entries;
    return encodeCertificate({ ...certificate, entries: [{ certData: leaf!.certData, extensions }, ...rest] });
  };
}

/** Every handshake message a side sent, decrypted by the pair. */
function sentMessages(pair: TlsPair, side: Side, type: number): HandshakeMessage[] {
  return pair.sent[side]
    .filter((r) => r.type === ContentType.handshake && r.content !== undefined)
    .flatMap((r) => handshakeMessages(r.content!).filter((m) => m.type === type));
}

/** RFC 8446 §6: the failing side sends one fatal alert, the peer reads it and answers nothing. */
function assertAlertFrom(pair: TlsPair, sender: Side, alert: AlertName): void {
  const error = pair.errors[sender];
  assert.ok(error !== undefined, `${sender} raised no error; ${other(sender)}: ${pair.errors[other(sender)]?.message}`);
  assert.equal(error.alert, alert, error.message);
  assert.equal(error.isRemote, false);
  assert.deepEqual(pair.alertsSent(sender), [alert]);
  assert.deepEqual(pair.alertsSent(other(sender)), []);
  assert.equal(pair.errors[other(sender)]?.alert, alert, `${other(sender)} read the alert`);
  assert.equal(pair.client.isClosed && pair.server.isClosed, true);
}

const statusRequestOf = (pair: TlsPair): Buffer | undefined => {
  const [hello] = sentMessages(pair, 'client', HandshakeType.client_hello);
  return findExtension(decodeClientHello(hello!.body).extensions, ExtensionType.status_request);
};

describe('OCSP stapling on the wire (RFC 8446 §4.4.2.1)', () => {
  it('asks with ocsp and empty lists, and gets the staple in the leaf’s CertificateEntry only, never in EncryptedExtensions', () => {
    const pair = new TlsPair({ server: { ocspResponse: () => TRY_LATER }, client: { requestOcspStaple: true } }).handshake();
    assert.equal(statusRequestOf(pair)?.toString('hex'), '0100000000');
    const [ee] = sentMessages(pair, 'server', HandshakeType.encrypted_extensions);
    assert.equal(findExtension(decodeEncryptedExtensions(ee!.body), ExtensionType.status_request), undefined);
    const [message] = sentMessages(pair, 'server', HandshakeType.certificate);
    const [leaf, ...rest] = decodeCertificate(message!.body).entries;
    assert.deepEqual(
      leaf!.extensions.map((e) => e.type),
      [ExtensionType.status_request],
    );
    assert.deepEqual(decodeCertificateStatus(leaf!.extensions[0]!.data).ocspResponse, TRY_LATER);
    assert.ok(rest.length > 0 && rest.every((e) => e.extensions.length === 0), 'no staple on the intermediate');
    assert.deepEqual(pair.results.client?.ocspResponse, TRY_LATER);
    assert.equal(pair.results.server?.ocspResponse, undefined);
  });

  it('sends no status_request in the ClientHello unless asked', () => {
    const pair = new TlsPair().handshake();
    assert.equal(statusRequestOf(pair), undefined);
  });

  it('answers a staple the client did not ask for with unsupported_extension (RFC 8446 §4.2)', () => {
    const staple = { type: ExtensionType.status_request, data: encodeCertificateStatus({ ocspResponse: TRY_LATER }) };
    const pair = new TlsPair({ tamper: editServerMessage(HandshakeType.certificate, withLeafExtensions([staple])) });
    pair.pump();
    assertAlertFrom(pair, 'client', 'unsupported_extension');
    assert.match(pair.errors.client!.message, /certificate carries extension 5 we did not offer/);
  });

  it('answers a staple with a status_type other than ocsp with illegal_parameter', () => {
    const staple = {
      type: ExtensionType.status_request,
      data: Buffer.concat([Buffer.of(2), encodeCertificateStatus({ ocspResponse: TRY_LATER }).subarray(1)]),
    };
    const pair = new TlsPair({
      client: { requestOcspStaple: true },
      tamper: editServerMessage(HandshakeType.certificate, withLeafExtensions([staple])),
    });
    pair.pump();
    assertAlertFrom(pair, 'client', 'illegal_parameter');
  });

  for (const [what, data] of [
    ['an OCSPResponse length past the end', Buffer.from('0100000630030a0103', 'hex')],
    ['an empty OCSPResponse', Buffer.from('01000000', 'hex')],
    ['trailing bytes', Buffer.from('0100000530030a010300', 'hex')],
  ] as const) {
    it(`answers a staple with ${what} with decode_error`, () => {
      const staple = { type: ExtensionType.status_request, data: Buffer.from(data) };
      const pair = new TlsPair({
        client: { requestOcspStaple: true },
        tamper: editServerMessage(HandshakeType.certificate, withLeafExtensions([staple])),
      });
      pair.pump();
      assertAlertFrom(pair, 'client', 'decode_error');
    });
  }

  it('answers status_request in EncryptedExtensions (the TLS 1.2 placement) with illegal_parameter, even when asked for', () => {
    const pair = new TlsPair({
      client: { requestOcspStaple: true },
      tamper: editServerMessage(HandshakeType.encrypted_extensions, (body) =>
        encodeEncryptedExtensions([...decodeEncryptedExtensions(body), { type: ExtensionType.status_request, data: Buffer.alloc(0) }]),
      ),
    });
    pair.pump();
    assertAlertFrom(pair, 'client', 'illegal_parameter');
  });

  for (const [what, hex] of [
    ['a ResponderID list running past the end', '0100050000'],
    ['an empty ResponderID', '01000200000000'],
    ['no request_extensions', '010000'],
    ['trailing bytes', '010000000000'],
  ] as const) {
    it(`answers a ClientHello status_request with ${what} with decode_error (RFC 6066 §8)`, () => {
      let calls = 0;
      const pair = new TlsPair({
        server: {
          ocspResponse: () => {
            calls++;
            return TRY_LATER;
          },
        },
        client: { requestOcspStaple: true },
        tamper: onFlight('client-to-server', 0, (bytes) =>
          rewriteClientHello(bytes, (hello) => ({
            ...hello,
            extensions: hello.extensions.map((e) =>
              e.type === ExtensionType.status_request ? { type: e.type, data: Buffer.from(hex, 'hex') } : e,
            ),
          })),
        ),
      });
      pair.pump();
      assertAlertFrom(pair, 'server', 'decode_error');
      assert.equal(calls, 0);
    });
  }

  it('staples nothing for a status_type other than ocsp, and never calls the callback', () => {
    let calls = 0;
    const pair = new TlsPair({
      server: {
        ocspResponse: () => {
          calls++;
          return TRY_LATER;
        },
      },
      tamper: onFlight('client-to-server', 0, (bytes) =>
        rewriteClientHello(bytes, (hello) => ({
          ...hello,
          extensions: [...hello.extensions, { type: ExtensionType.status_request, data: Buffer.from('02000000', 'hex') }],
        })),
      ),
    });
    pair.pump();
    // The rewritten ClientHello is in the server's transcript only, so the client cannot finish; the server's Certificate is what matters.
    assert.deepEqual(pair.alertsSent('server'), [], pair.errors.server?.message);
    const [message] = sentMessages(pair, 'server', HandshakeType.certificate);
    assert.ok(decodeCertificate(message!.body).entries.every((e) => e.extensions.length === 0));
    assert.equal(calls, 0);
  });

  it('staples nothing when the callback returns no bytes', () => {
    const pair = new TlsPair({ server: { ocspResponse: () => new Uint8Array(0) }, client: { requestOcspStaple: true } }).handshake();
    const [message] = sentMessages(pair, 'server', HandshakeType.certificate);
    assert.ok(decodeCertificate(message!.body).entries.every((e) => e.extensions.length === 0));
    assert.equal(pair.results.client?.ocspResponse, undefined);
  });

  it('staples the largest response an extension can carry, and refuses a larger one with internal_error', () => {
    const largest = Buffer.alloc(MAX_STAPLED_OCSP_RESPONSE, 0x5a);
    const ok = new TlsPair({
      server: { ocspResponse: () => largest },
      client: { requestOcspStaple: true, maxHandshakeMessageSize: 128 * 1024 },
    }).handshake();
    assert.deepEqual(ok.results.client?.ocspResponse, largest);
    const tooLarge = new TlsPair({
      server: { ocspResponse: () => Buffer.alloc(MAX_STAPLED_OCSP_RESPONSE + 1) },
      client: { requestOcspStaple: true },
    });
    tooLarge.pump();
    assertAlertFrom(tooLarge, 'server', 'internal_error');
  });
});
