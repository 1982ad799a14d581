import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect as tlsConnect } from 'node:tls';
import { connect, createServer, type TlsServer, type TlsSocket } from '../../../src/tls/index.js';
import { endOfFirstHead } from '../../../src/http/server-factory.js';
import { TlsPair } from '../../fakes/tls-pair.js';
import { clientOptions, fixture, serverOptions } from '../../fakes/tls-fixtures.js';
import { portOf } from '../../robustness/flood-tools.js';

/**
 * The engine's receive budget and the TLS socket's flow control, without
 * the service: Connection.receive handles at most the records it is asked
 * to; a peer that does not read stops being read; requests before the peer's close_notify are answered (RFC 8446 §6.1).
 */

describe('Connection.receive with a record budget', () => {
  it('handles at most maxRecords records per call and says whether more are buffered', () => {
    const pair = new TlsPair().handshake();
    for (const byte of Buffer.from('0123456789')) pair.write('client', Buffer.of(byte));
    const records = pair.client.takeOutgoing();
    assert.ok(records !== undefined);
    assert.equal(pair.server.receive(records, 0), true, 'buffered, none handled');
    assert.equal(pair.received('server').length, 0);
    const seen: number[] = [];
    let isMore = true;
    while (isMore) {
      isMore = pair.server.receive(Buffer.alloc(0), 3);
      seen.push(pair.received('server').length);
    }
    assert.deepEqual(seen, [3, 6, 9, 10]);
    assert.equal(pair.received('server').toString(), '0123456789');
  });

  it('stops at close_notify (§6.1) and reports nothing more to do', () => {
    const pair = new TlsPair().handshake();
    pair.write('client', 'last words');
    pair.client.close();
    pair.write('server', 'still open');
    const records = pair.client.takeOutgoing();
    assert.ok(records !== undefined);
    assert.equal(pair.server.receive(records, 1), true);
    assert.equal(pair.received('server').toString(), 'last words');
    assert.equal(pair.server.receive(Buffer.alloc(0), 1), false);
    assert.equal(pair.peerClosed.server, true);
  });
});

interface Served {
  readonly tls: TlsServer;
  readonly http: HttpServer;
  readonly port: number;
  readonly requests: IncomingMessage[];
}

/** Our TLS server feeding a node:http server as src/http/server-factory.ts does (half-open, one request head per piece). */
async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<Served> {
  const requests: IncomingMessage[] = [];
  const http = createHttpServer((request, response) => {
    requests.push(request);
    handler(request, response);
  });
  Object.assign(http, { httpAllowHalfOpen: true });
  const tls = createServer(
    serverOptions({ ALPNProtocols: ['http/1.1'], allowHalfOpen: true, splitInbound: endOfFirstHead }),
    (socket: TlsSocket) => {
      http.emit('connection', socket);
    },
  );
  tls.listen(0, '127.0.0.1');
  await once(tls, 'listening');
  return { tls, http, port: portOf(tls), requests };
}

describe('the TLS socket under node:http', () => {
  let slow: Served;
  let big: Served;
  const BIG_ANSWER = Buffer.alloc(1024 * 1024, 0x61);
  before(async () => {
    slow = await serve((_request, response) => {
      setTimeout(() => response.end('answered after 150 ms\n'), 150);
    });
    big = await serve((_request, response) => {
      response.end(BIG_ANSWER);
    });
  });
  after(() => {
    for (const s of [slow, big]) {
      s.http.closeAllConnections();
      s.tls.close();
    }
  });

  it(
    'answers the requests that came before close_notify, asynchronously, then sends its own close_notify',
    { timeout: 10_000 },
    async () => {
      const socket = connect(clientOptions({ port: slow.port, host: '127.0.0.1', ALPNProtocols: ['http/1.1'] }));
      await once(socket, 'secure');
      let text = '';
      socket.setEncoding('latin1');
      socket.on('data', (part: string) => (text += part));
      // end() after the write: our client sends close_notify (and FIN) right behind the two requests.
      socket.end('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nGET /2 HTTP/1.1\r\nHost: x\r\n\r\n');
      await once(socket, 'end');
      assert.equal(text.match(/HTTP\/1\.1 200 OK\r\n/g)?.length, 2, text);
      assert.equal(text.match(/answered after 150 ms/g)?.length, 2);
    },
  );

  it('stops reading pipelined requests from a peer that does not read its answers', { timeout: 15_000 }, async () => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port: big.port,
      servername: 'localhost',
      ca: fixture('ca.pem'),
      key: fixture('client.key'),
      cert: fixture('client-chain.pem'),
    });
    await once(socket, 'secureConnect');
    socket.pause();
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(200));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // 1 MiB answers fill the kernel's socket buffers after a few; past them nothing more is parsed.
    const dispatched = big.requests.length;
    assert.ok(dispatched < 40, `${dispatched} of 200 requests were dispatched to a peer that reads nothing`);
    socket.destroy();
  });
});
