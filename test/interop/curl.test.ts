import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, TlsAlertError, TlsSocket, type TlsServer } from '../../src/tls/index.js';
import { nextEvent, portOf, runProcess, withTimeout } from '../helpers/processes.js';
import { alertOf, CLIENT_SPIFFE_ID, fixture, fixturePath, Scope, skipUnlessTool } from './harness.js';

/**
 * curl (built on OpenSSL) against a node:http server whose connections come
 * from our TLS server: `createServer(opts, (s) => http.emit('connection', s))`,
 * the way http/server-factory.ts plugs the engine under Fastify.
 */

interface HttpsUnderTest {
  readonly port: number;
  readonly tls: TlsServer;
  /** Connections that completed the TLS handshake. */
  readonly connections: TlsSocket[];
  /** 'tlsClientError's. */
  readonly clientErrors: Error[];
}

/** Answers every request with the SPIFFE ID of the verified client certificate, read from the socket. */
function whoAmI(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket;
  const uri = socket instanceof TlsSocket ? socket.peerCertificates[0]?.uris[0] : undefined;
  res.setHeader('content-type', 'text/plain');
  res.end(`hello ${uri ?? 'anonymous'}\n`);
}

describe('our server under node:http with curl', skipUnlessTool('curl'), () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  async function serveHttps(): Promise<HttpsUnderTest> {
    const http = createHttpServer(whoAmI);
    const connections: TlsSocket[] = [];
    const clientErrors: Error[] = [];
    const tls = createServer(
      {
        key: fixture('server.key'),
        cert: fixture('server-chain.pem'),
        ca: fixture('ca.pem'),
        clientAuth: 'require',
        ALPNProtocols: ['http/1.1'],
      },
      (socket) => {
        connections.push(socket);
        http.emit('connection', socket);
      },
    );
    tls.on('tlsClientError', (err: Error) => clientErrors.push(err));
    tls.listen(0, '127.0.0.1');
    await nextEvent(tls, 'listening');
    scope.defer(async () => {
      for (const socket of connections) socket.destroy();
      await withTimeout(new Promise<void>((resolve) => tls.close(() => resolve())), 10_000, 'closing the TLS server');
      http.close();
    });
    return { port: portOf(tls.address()), tls, connections, clientErrors };
  }

  function curlArgs(port: number, ...extra: string[]): string[] {
    return [
      '--silent',
      '--show-error',
      '--verbose',
      '--max-time',
      '10',
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      '--cacert',
      fixturePath('ca.pem'),
      ...extra,
    ];
  }

  const clientCert = ['--cert', fixturePath('client-chain.pem'), '--key', fixturePath('client.key')];

  it('serves 200 with the client’s SPIFFE ID from peerCertificates over mutual TLS 1.3 (RFC 8446 §4.4.2)', async () => {
    const server = await serveHttps();
    const url = `https://localhost:${server.port}/`;
    const result = await runProcess('curl', curlArgs(server.port, ...clientCert, '--write-out', 'status=%{http_code}\n', url));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `hello ${CLIENT_SPIFFE_ID}\nstatus=200\n`);
    assert.match(result.stderr, /SSL connection using TLSv1\.3/);
    assert.match(result.stderr, /ALPN: server accepted http\/1\.1/);
    assert.equal(server.connections.length, 1);
    assert.equal(server.connections[0]!.alpnProtocol, 'http/1.1');
  });

  it('keeps one TLS connection alive across three requests (RFC 9112 §9.3)', async () => {
    const server = await serveHttps();
    const url = `https://localhost:${server.port}/`;
    const result = await runProcess('curl', curlArgs(server.port, ...clientCert, url, url, url));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `hello ${CLIENT_SPIFFE_ID}\n`.repeat(3));
    assert.equal(result.stderr.match(/Re-using existing connection/g)?.length, 2, result.stderr);
    assert.equal(server.connections.length, 1, 'the server saw a single TLS connection');
  });

  it('refuses curl without a client certificate with certificate_required (RFC 8446 §4.4.2.4)', async () => {
    const server = await serveHttps();
    const url = `https://localhost:${server.port}/`;
    const result = await runProcess('curl', curlArgs(server.port, url));
    assert.notEqual(result.code, 0, 'curl fails');
    assert.match(result.stderr, /certificate required/i);
    assert.equal(server.connections.length, 0);
    assert.equal(server.clientErrors.length, 1);
    const err = server.clientErrors[0];
    assert.equal(alertOf(err), 'certificate_required', String(err));
    assert.ok(err instanceof TlsAlertError && !err.isRemote);
  });
  it('serves 200 with the client’s SPIFFE ID over mutual TLS 1.2 to curl --tls-max 1.2 (RFC 5246)', async () => {
    const server = await serveHttps();
    const url = `https://localhost:${server.port}/`;
    const result = await runProcess(
      'curl',
      curlArgs(server.port, '--tlsv1.2', '--tls-max', '1.2', ...clientCert, '--write-out', 'status=%{http_code}\n', url),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, `hello ${CLIENT_SPIFFE_ID}\nstatus=200\n`);
    assert.match(result.stderr, /SSL connection using TLSv1\.2 \/ ECDHE-ECDSA-AES128-GCM-SHA256/);
    assert.match(result.stderr, /ALPN: server accepted http\/1\.1/);
    assert.equal(server.connections[0]?.protocol, 'TLSv1.2');
    assert.equal(server.connections[0]?.alpnProtocol, 'http/1.1');
  });
});
