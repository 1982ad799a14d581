import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { once } from 'node:events';
import Fastify, { type FastifyInstance } from 'fastify';
import { connect } from '../../../src/tls/index.js';
import { createHttpsServer, KeysmithMetrics, type HttpsServer } from '../../../src/http/index.js';
import { portOf, withTimeout } from '../../helpers/processes.js';
import { fixture, send, TlsAgent } from './harness.js';

/** A bare app built the way buildApp builds it (serverFactory), with routes whose timing the test controls. */
function slowApp(): { app: FastifyInstance; arrived: Promise<void>; release: () => void } {
  let release = (): void => {};
  let arrived = (): void => {};
  const released = new Promise<void>((resolve) => (release = resolve));
  const arrivedPromise = new Promise<void>((resolve) => (arrived = resolve));
  const app = Fastify({ serverFactory: (handler) => createHttpServer(handler), return503OnClosing: false });
  app.get('/fast', async () => 'fast');
  app.get('/slow', async () => {
    arrived();
    await released;
    return 'slow';
  });
  app.get('/hang', async () => {
    arrived();
    await new Promise(() => {});
  });
  return { app, arrived: arrivedPromise, release };
}

describe('createHttpsServer', () => {
  let server: HttpsServer | undefined;
  afterEach(async () => {
    await server?.close(500);
    server = undefined;
  });

  async function start(app: FastifyInstance, metrics?: KeysmithMetrics): Promise<number> {
    await app.ready();
    server = createHttpsServer({
      tls: { key: fixture('server.key'), cert: fixture('server-chain.pem'), ca: fixture('ca.pem') },
      mtlsMode: 'standard',
      app,
      ...(metrics === undefined ? {} : { metrics }),
    });
    await server.listen(0, '127.0.0.1');
    return portOf(server.address());
  }

  it('negotiates http/1.1 by ALPN (RFC 7301)', async () => {
    const { app } = slowApp();
    const port = await start(app);
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: fixture('ca.pem'), ALPNProtocols: ['h2', 'http/1.1'] });
    await withTimeout(once(socket, 'secure'), 5_000, 'handshake');
    assert.equal(socket.alpnProtocol, 'http/1.1');
    socket.destroy();
  });

  it('lets an in-flight request finish on close(), with Connection: close, and accepts nothing new', async () => {
    const { app, arrived, release } = slowApp();
    const port = await start(app);
    const pending = send(port, { path: '/slow' });
    await arrived;
    const running = server!;
    let isClosed = false;
    const closing = running.close(5_000).then(() => (isClosed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(isClosed, false, 'close() waits for the in-flight request');
    release();
    const reply = await pending;
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'slow');
    assert.equal(reply.headers['connection'], 'close');
    await withTimeout(closing, 5_000, 'close()');
    await assert.rejects(send(port, { path: '/fast' }), /ECONNREFUSED/);
    server = undefined;
  });

  it('closes idle keep-alive connections at once', async () => {
    const { app } = slowApp();
    const port = await start(app);
    const agent = new TlsAgent(port, undefined);
    try {
      assert.equal((await send(port, { path: '/fast', agent })).status, 200);
      const started = performance.now();
      await server!.close(5_000);
      server = undefined;
      assert.ok(performance.now() - started < 1_000, 'no wait for the idle connection');
    } finally {
      agent.destroy();
    }
  });

  it('cuts a request that outlives the grace period', async () => {
    const { app, arrived } = slowApp();
    const port = await start(app);
    const pending = send(port, { path: '/hang' });
    await arrived;
    const started = performance.now();
    await server!.close(300);
    server = undefined;
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 2_000, `closed after ${elapsed} ms`);
    await assert.rejects(pending, /socket hang up|ECONNRESET/);
  });

  it('counts full and resumed handshakes (RFC 8446 §2.2)', async () => {
    const { app } = slowApp();
    const metrics = new KeysmithMetrics();
    const port = await start(app, metrics);
    const options = { host: '127.0.0.1', port, servername: 'localhost', ca: fixture('ca.pem'), ALPNProtocols: ['http/1.1'] };
    const accepted = (): Promise<unknown> => withTimeout(once(server!.tls, 'secureConnection'), 5_000, 'the server side of the handshake');
    const firstAccepted = accepted();
    const first = connect(options);
    const [ticket] = await withTimeout(once(first, 'session'), 5_000, 'a session ticket');
    await firstAccepted;
    first.destroy();
    assert.ok(ticket instanceof Uint8Array);
    const secondAccepted = accepted();
    const second = connect({ ...options, session: ticket });
    await secondAccepted;
    assert.equal(second.isResumed, true);
    second.destroy();
    const text = await metrics.render();
    assert.match(text, /keysmith_tls_handshakes_total\{result="ok"\} 1/);
    assert.match(text, /keysmith_tls_handshakes_total\{result="resumed"\} 1/);
    assert.match(text, /^keysmith_tls_negotiated_total\{version="TLSv1\.3",cipher="TLS_AES_128_GCM_SHA256"\} 2$/m);
  });

  it('counts completed handshakes by version and suite, TLS 1.2 included', async () => {
    const { app } = slowApp();
    const metrics = new KeysmithMetrics();
    const port = await start(app, metrics);
    const options = { host: '127.0.0.1', port, servername: 'localhost', ca: fixture('ca.pem'), ALPNProtocols: ['http/1.1'] };
    const accepted = withTimeout(once(server!.tls, 'secureConnection'), 5_000, 'the server side of the handshake');
    const client = connect({ ...options, maxVersion: 'TLSv1.2', cipherSuites: ['TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256'] });
    await withTimeout(once(client, 'secure'), 5_000, 'the TLS 1.2 handshake');
    await accepted;
    client.destroy();
    const text = await metrics.render();
    assert.match(text, /^keysmith_tls_negotiated_total\{version="TLSv1\.2",cipher="TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"\} 1$/m);
    assert.match(text, /^keysmith_tls_handshakes_total\{result="ok"\} 1$/m);
    assert.doesNotMatch(text, /version="TLSv1\.3"/);
  });
});
