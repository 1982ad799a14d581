import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { connect, TlsAlertError, type TlsConnectOptions, type TlsServerOptions, type TlsSocket } from '../../src/tls/index.js';
import { nextEvent } from '../helpers/processes.js';
import {
  alertOf,
  CLIENT_SPIFFE_ID,
  fixture,
  readUntil,
  Scope,
  type EchoServer,
  serveEcho,
  serveNodeEcho,
  type NodeEchoServer,
} from './harness.js';
import { dialTestClient } from './openssl-server-harness.js';

/**
 * Interop with node:tls (OpenSSL inside Node) both ways: node's client
 * against our server, and our client against node's server.
 */

describe('node:tls client with our server', () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  const serve = (options: Partial<TlsServerOptions> = {}): Promise<EchoServer> => serveEcho(scope, options);

  function nodeConnect(port: number, options: tls.ConnectionOptions = {}): tls.TLSSocket {
    return scope.socket(
      tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        key: fixture('client.key'),
        cert: fixture('client-chain.pem'),
        ca: fixture('ca.pem'),
        ...options,
      }),
    );
  }

  it('completes a mutual-TLS 1.3 handshake that node authorizes, and echoes data (RFC 8446 §2)', async () => {
    const server = await serve();
    const client = nodeConnect(server.port);
    await nextEvent(client, 'secureConnect');
    assert.equal(client.authorized, true, String(client.authorizationError));
    assert.equal(client.getProtocol(), 'TLSv1.3');
    const peer = client.getPeerCertificate();
    assert.equal(peer.subject.CN, 'localhost');
    assert.equal(peer.subjectaltname, 'DNS:localhost, IP Address:127.0.0.1');
    assert.equal(peer.issuer.CN, 'keysmith test intermediate');

    const socket = await server.nextConnection();
    assert.deepEqual(socket.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
    client.write('node-client-ping\n');
    assert.equal(await readUntil(client, /\n/), 'node-client-ping\n');
  });

  it('resumes with the ticket from node’s ‘session’ event (RFC 8446 §2.2)', async () => {
    const server = await serve();
    const first = nodeConnect(server.port);
    const session = nextEvent(first, 'session');
    await nextEvent(first, 'secureConnect');
    first.write('first\n');
    await readUntil(first, /\n/);
    const [ticket] = await session;
    assert.ok(Buffer.isBuffer(ticket));
    assert.equal(first.isSessionReused(), false);
    first.end();

    const second = nodeConnect(server.port, { session: ticket });
    await nextEvent(second, 'secureConnect');
    assert.equal(second.isSessionReused(), true);
    await server.nextConnection();
    const resumed = await server.nextConnection();
    assert.equal(resumed.isResumed, true);
    assert.deepEqual(resumed.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
    second.write('second\n');
    assert.equal(await readUntil(second, /\n/), 'second\n');
  });

  it('completes a mutual-TLS 1.2 handshake with a maxVersion TLSv1.2 node client, and resumes with its session (RFC 5246, RFC 5077)', async () => {
    const server = await serve();
    const first = nodeConnect(server.port, { maxVersion: 'TLSv1.2' });
    await nextEvent(first, 'secureConnect');
    assert.equal(first.authorized, true, String(first.authorizationError));
    assert.equal(first.getProtocol(), 'TLSv1.2');
    assert.equal(first.getCipher().name, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    const full = await server.nextConnection();
    assert.equal(full.protocol, 'TLSv1.2');
    assert.deepEqual(full.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
    first.write('tls12\n');
    assert.equal(await readUntil(first, /\n/), 'tls12\n');
    const session = first.getSession();
    assert.ok(session !== undefined);
    first.end();

    const second = nodeConnect(server.port, { maxVersion: 'TLSv1.2', session });
    await nextEvent(second, 'secureConnect');
    assert.equal(second.isSessionReused(), true);
    const resumed = await server.nextConnection();
    assert.equal(resumed.isResumed, true);
    assert.equal(resumed.peerCertificates[0]?.fingerprint256, full.peerCertificates[0]?.fingerprint256);
    second.write('resumed\n');
    assert.equal(await readUntil(second, /\n/), 'resumed\n');
  });

  it('refuses a TLS 1.2-only node client with protocol_version when the server is TLS 1.3-only (RFC 8446 §4.2.1)', async () => {
    const server = await serve({ minVersion: 'TLSv1.3' });
    const client = nodeConnect(server.port, { maxVersion: 'TLSv1.2' });
    const [clientErr] = await nextEvent(client, 'error');
    assert.match(String(clientErr), /protocol version/i);
    const err = await server.nextClientError();
    assert.equal(alertOf(err), 'protocol_version', String(err));
  });
});

describe('our client with a node:tls server', () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  const nodeServe = (): Promise<NodeEchoServer> =>
    serveNodeEcho(scope, { requestCert: true, rejectUnauthorized: true, ca: fixture('ca.pem'), minVersion: 'TLSv1.3' });

  const dial = (port: number, options: Partial<TlsConnectOptions> = {}): TlsSocket => dialTestClient(scope, port, options);

  it('completes a handshake in which node authorizes our client certificate (RFC 8446 §4.4.2)', async () => {
    const node = await nodeServe();
    const accepted = nextEvent(node.server, 'secureConnection');
    const socket = dial(node.port);
    await nextEvent(socket, 'secure');
    const [serverSide] = await accepted;
    assert.ok(serverSide instanceof tls.TLSSocket);
    assert.equal(serverSide.authorized, true, String(serverSide.authorizationError));
    assert.equal(serverSide.getProtocol(), 'TLSv1.3');
    const peer = serverSide.getPeerCertificate();
    assert.equal(peer.subject.CN, 'keysmith test client');
    assert.equal(peer.subjectaltname, `URI:${CLIENT_SPIFFE_ID}`);

    assert.ok(socket.peerCertificates[0]?.dnsNames.includes('localhost'));
    socket.write('our-client-ping\n');
    assert.equal(await readUntil(socket, /\n/), 'our-client-ping\n');
  });

  it('resumes with a ticket from our ‘session’ event, and node sees the session reused (RFC 8446 §2.2)', async () => {
    const node = await nodeServe();
    const first = dial(node.port);
    const session = nextEvent(first, 'session');
    await nextEvent(first, 'secure');
    const [ticket] = await session;
    assert.ok(ticket instanceof Uint8Array);
    first.end();

    const accepted = nextEvent(node.server, 'secureConnection');
    const second = dial(node.port, { session: ticket });
    await nextEvent(second, 'secure');
    assert.equal(second.isResumed, true);
    const [serverSide] = await accepted;
    assert.ok(serverSide instanceof tls.TLSSocket);
    assert.equal(serverSide.isSessionReused(), true);
    second.write('resumed-ping\n');
    assert.equal(await readUntil(second, /\n/), 'resumed-ping\n');
  });

  it('keeps data flowing through repeated keyUpdate(true) calls (RFC 8446 §4.6.3)', async () => {
    const node = await nodeServe();
    const socket = dial(node.port);
    await nextEvent(socket, 'secure');
    for (let round = 0; round < 3; round++) {
      socket.keyUpdate(true);
      socket.write(`round-${round}\n`);
      assert.equal(await readUntil(socket, /\n/), `round-${round}\n`);
    }
    // A large write after the updates crosses several records under the newest keys.
    const big = 'x'.repeat(100_000);
    socket.write(`${big}\n`);
    assert.equal((await readUntil(socket, /\n/)).length, big.length + 1);
  });

  it('reports node’s certificate_required when it has no client certificate (RFC 8446 §4.4.2.4)', async () => {
    const node = await nodeServe();
    const socket = scope.socket(connect({ host: '127.0.0.1', port: node.port, servername: 'localhost', ca: fixture('ca.pem') }));
    const [err] = await nextEvent(socket, 'error');
    assert.equal(alertOf(err), 'certificate_required', String(err));
    assert.ok(err instanceof TlsAlertError && err.isRemote);
  });
});
