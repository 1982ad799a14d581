import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { connect, SessionCache, type TlsConnectOptions, type TlsSocket } from '../../src/tls/index.js';
import { nextEvent } from '../helpers/processes.js';
import { CLIENT_SPIFFE_ID, fixture, readUntil, Scope, serveNodeEcho, type NodeEchoServer } from './harness.js';

/**
 * Our client with minVersion 'TLSv1.2' against node's
 * `tls.createServer({ maxVersion: 'TLSv1.2' })` (OpenSSL inside Node): a
 * full handshake with and without a client certificate, and resumption
 * with the RFC 5077 ticket from our 'session' event.
 */

describe('our client with a node:tls TLS 1.2 server', () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  const nodeServe = (options: tls.TlsOptions): Promise<NodeEchoServer> => serveNodeEcho(scope, { maxVersion: 'TLSv1.2', ...options });

  function dial(port: number, options: Partial<TlsConnectOptions> = {}): TlsSocket {
    return scope.socket(
      connect({ host: '127.0.0.1', port, servername: 'localhost', ca: fixture('ca.pem'), minVersion: 'TLSv1.2', ...options }),
    );
  }

  it('completes a full TLS 1.2 handshake and echoes data (RFC 5246 §7.3)', async () => {
    const node = await nodeServe({});
    const accepted = nextEvent(node.server, 'secureConnection');
    const socket = dial(node.port);
    await nextEvent(socket, 'secure');
    assert.equal(socket.protocol, 'TLSv1.2');
    assert.equal(socket.cipher?.standardName, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
    assert.ok(socket.peerCertificates[0]?.dnsNames.includes('localhost'));
    const [serverSide] = await accepted;
    assert.ok(serverSide instanceof tls.TLSSocket);
    assert.equal(serverSide.getProtocol(), 'TLSv1.2');
    socket.write('tls12-ping\n');
    assert.equal(await readUntil(socket, /\n/), 'tls12-ping\n');
  });

  it('presents a client certificate node authorizes, signed in CertificateVerify (RFC 5246 §7.4.8)', async () => {
    const node = await nodeServe({ ca: fixture('ca.pem'), requestCert: true, rejectUnauthorized: true });
    const accepted = nextEvent(node.server, 'secureConnection');
    const socket = dial(node.port, { key: fixture('client.key'), cert: fixture('client-chain.pem') });
    await nextEvent(socket, 'secure');
    const [serverSide] = await accepted;
    assert.ok(serverSide instanceof tls.TLSSocket);
    assert.equal(serverSide.authorized, true, String(serverSide.authorizationError));
    assert.equal(serverSide.getProtocol(), 'TLSv1.2');
    assert.equal(serverSide.getPeerCertificate().subjectaltname, `URI:${CLIENT_SPIFFE_ID}`);
    socket.write('with-cert\n');
    assert.equal(await readUntil(socket, /\n/), 'with-cert\n');
  });

  it('signs CertificateVerify with an RSA client key too (RSA-PSS, RFC 5246 §7.4.8 with RFC 8446 §4.2.3 schemes)', async () => {
    const node = await nodeServe({ ca: fixture('ca.pem'), requestCert: true, rejectUnauthorized: true });
    const accepted = nextEvent(node.server, 'secureConnection');
    const socket = dial(node.port, { key: fixture('client-rsa.key'), cert: fixture('client-rsa-chain.pem') });
    await nextEvent(socket, 'secure');
    const [serverSide] = await accepted;
    assert.ok(serverSide instanceof tls.TLSSocket);
    assert.equal(serverSide.authorized, true, String(serverSide.authorizationError));
  });

  it('resumes with the ticket from our ‘session’ event, and node sees the session reused (RFC 5077 §3.1)', async () => {
    const node = await nodeServe({ ca: fixture('ca.pem'), requestCert: true, rejectUnauthorized: true });
    const client = { key: fixture('client.key'), cert: fixture('client-chain.pem') };
    const first = dial(node.port, client);
    const session = nextEvent(first, 'session');
    await nextEvent(first, 'secure');
    const [ticket] = await session;
    assert.ok(ticket instanceof Uint8Array);
    assert.equal(ticket[0], 0x12, 'a TLS 1.2 session');
    first.end();

    const accepted = nextEvent(node.server, 'secureConnection');
    const second = dial(node.port, { ...client, session: ticket });
    await nextEvent(second, 'secure');
    assert.equal(second.isSessionReused(), true);
    assert.ok(second.peerCertificates[0]?.dnsNames.includes('localhost'), 'the resumed session keeps the server chain');
    const [serverSide] = await accepted;
    assert.ok(serverSide instanceof tls.TLSSocket);
    assert.equal(serverSide.isSessionReused(), true);
    assert.equal(serverSide.getProtocol(), 'TLSv1.2');
    second.write('resumed\n');
    assert.equal(await readUntil(second, /\n/), 'resumed\n');
  });

  it('resumes through a SessionCache, which keeps the TLS 1.2 session per server', async () => {
    const node = await nodeServe({});
    const sessionCache = new SessionCache();
    const first = dial(node.port, { sessionCache });
    const session = nextEvent(first, 'session');
    await nextEvent(first, 'secure');
    await session;
    assert.equal(sessionCache.size, 1);
    first.end();

    const second = dial(node.port, { sessionCache });
    await nextEvent(second, 'secure');
    assert.equal(second.protocol, 'TLSv1.2');
    assert.equal(second.isSessionReused(), true);
  });
});
