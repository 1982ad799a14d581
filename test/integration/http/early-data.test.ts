import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { followEarlyData, markEarlyRequests } from '../../../src/http/early-data.js';
import { connect, createServer, type TlsServer } from '../../../src/tls/index.js';
import { fetchSession, HttpResponseReader, requestWithEarlyData } from '../../helpers/early-http.js';
import { portOf } from '../../helpers/processes.js';
import { fixture, serve, type Served } from './harness.js';

/**
 * 0-RTT from keysmith's own client to the app (RFC 8446 §2.3, RFC 8470):
 * a GET on a public read route is answered from early data; a POST in early
 * data is answered 425 and, sent again after the handshake, gets the answer
 * a 1-RTT request gets. And the marking itself, on a bare node:http server
 * over our TLS server, as server-factory.ts wires it: only requests that
 * arrived in early data carry Early-Data: 1.
 */

const ca = fixture('ca.pem');
const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;
const post = (path: string, body: string): string =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

describe('0-RTT from our client to the app', () => {
  let served: Served;
  before(async () => {
    served = await serve({ tls: { maxEarlyData: 16_384 } });
  });
  after(() => served.close());

  it('serves GET /v1/bundle from early data (RFC 8446 §2.3)', async () => {
    const session = await fetchSession(served.port, ca);
    const result = await requestWithEarlyData({ port: served.port, ca, session, request: get('/v1/bundle') });
    assert.equal(result.earlyDataAccepted, true);
    assert.equal(result.isResumed, true);
    assert.equal(result.first.status, 200);
    assert.equal(result.retried, undefined);
    assert.match(result.first.body, /-----BEGIN CERTIFICATE-----/);
  });

  it('answers a POST in early data with 425, and the retry after the handshake gets the 1-RTT answer (RFC 8470 §5.2)', async () => {
    const body = '{}';
    const session = await fetchSession(served.port, ca);
    const result = await requestWithEarlyData({ port: served.port, ca, session, request: post('/v1/entries', body) });
    assert.equal(result.earlyDataAccepted, true);
    assert.equal(result.first.status, 425);
    assert.equal(result.first.headers.get('content-type'), 'application/problem+json; charset=utf-8');
    assert.deepEqual(JSON.parse(result.first.body), {
      type: 'https://keysmith.dev/problems/too-early',
      title: 'Too early',
      status: 425,
      detail: 'This request arrived in TLS early data (0-RTT), which can be replayed; send it again after the handshake.',
      instance: '/v1/entries',
    });
    // The same request over 1-RTT (no client certificate): what the retry must get.
    const plain = await requestWithEarlyData({ port: served.port, ca, session: new Uint8Array(0), request: post('/v1/entries', body) });
    assert.equal(plain.earlyDataAccepted, false);
    assert.notEqual(plain.first.status, 425);
    assert.equal(result.retried?.status, plain.first.status);
    assert.equal(result.retried?.body, plain.first.body);
  });
});

describe('Early-Data: 1 on requests that arrived in 0-RTT (RFC 8470 §5.1)', () => {
  let tls: TlsServer;
  let port: number;
  before(async () => {
    const http = createHttpServer((request: IncomingMessage, response: ServerResponse) => {
      response.setHeader('content-length', '1');
      response.end(request.headers['early-data'] === '1' ? 'E' : '-');
    });
    markEarlyRequests(http);
    tls = createServer(
      { key: fixture('server.key'), cert: fixture('server-chain.pem'), maxEarlyData: 4096, ALPNProtocols: ['http/1.1'] },
      (socket) => {
        followEarlyData(socket);
        http.emit('connection', socket);
      },
    );
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve));
    port = portOf(tls.address());
  });
  after(() => new Promise<void>((resolve) => tls.close(() => resolve())));

  it('marks the two requests sent as early data and not the one sent after the handshake', async () => {
    const session = await fetchSession(port, ca);
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca,
      ALPNProtocols: ['http/1.1'],
      session,
      earlyData: Buffer.from(get('/a') + get('/b')),
    });
    const responses = new HttpResponseReader(socket);
    const seen = [(await responses.next()).body, (await responses.next()).body];
    if (!socket.isSecure) await new Promise<void>((resolve) => socket.once('secure', resolve));
    socket.write(get('/c'));
    seen.push((await responses.next()).body);
    socket.destroy();
    assert.equal(socket.earlyDataAccepted, true);
    assert.deepEqual(seen, ['E', 'E', '-']);
  });
});
