import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { connect as nodeConnect } from 'node:tls';
import { createServer, type TlsServer, type TlsSocket } from '../../../src/tls/index.js';
import { fixture, serverOptions } from '../../fakes/tls-fixtures.js';
import { portOf } from '../../robustness/flood-tools.js';

/**
 * A short connection (handshake, one request with Connection: close, close)
 * through node:http over our TlsSocket: after the handshake, the answer and
 * the close_notify leave in one transport write (RFC 8446 §6.1 close_notify
 * last), instead of one write per record. Transport writes are counted on
 * the accepted TCP socket itself; the client is node:tls (OpenSSL).
 */

/** A protected record: 5-octet header, the plaintext, its 1-octet content type, a 16-octet AES-GCM tag (RFC 8446 §5.2). */
const RECORD_OVERHEAD = 5 + 1 + 16;
/** close_notify: a 2-octet alert (RFC 8446 §6) in one protected record. */
const CLOSE_NOTIFY_RECORD = 2 + RECORD_OVERHEAD;
const BODY = 'short and done\n';

interface WriteLog {
  /** Per transport write after the handshake: the lengths of the records it carried. */
  readonly writes: number[][];
}

/** Records what the socket's own Writable hands to libuv: one entry per write or writev. */
function countWrites(transport: Socket): WriteLog {
  const log: WriteLog = { writes: [] };
  const target = transport as unknown as {
    _write(chunk: Buffer, encoding: BufferEncoding, cb: (err?: Error | null) => void): void;
    _writev(chunks: { chunk: Buffer }[], cb: (err?: Error | null) => void): void;
  };
  const write = target._write.bind(transport);
  const writev = target._writev.bind(transport);
  target._write = (chunk, encoding, cb) => {
    log.writes.push([chunk.length]);
    write(chunk, encoding, cb);
  };
  target._writev = (chunks, cb) => {
    log.writes.push(chunks.map((c) => c.chunk.length));
    writev(chunks, cb);
  };
  return log;
}

describe('a short connection through node:http over TlsSocket', () => {
  let server: TlsServer;
  let port: number;
  const logs: WriteLog[] = [];

  before(async () => {
    const http = createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
      res.end(BODY);
    });
    // Counting starts at 'secure': the server's flight is out, its ticket not yet (it joins the turn's batch).
    server = createServer(serverOptions({ clientAuth: 'require', allowHalfOpen: true }), (socket: TlsSocket) => {
      logs.push(countWrites(socket.transport));
      http.emit('connection', socket);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = portOf(server);
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('answers, then sends the answer and close_notify in one transport write, then FIN', async () => {
    const client = nodeConnect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      key: fixture('client.key'),
      cert: fixture('client-chain.pem'),
      ca: fixture('ca.pem'),
      ciphers: 'TLS_AES_128_GCM_SHA256',
    });
    await once(client, 'secureConnect');
    client.write('GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    const received: Buffer[] = [];
    client.on('data', (chunk: Buffer) => received.push(chunk));
    // 'end' is the server's close_notify (node:tls reports it as the end of the stream), then the FIN closes.
    await once(client, 'end');
    await once(client, 'close');
    const answer = Buffer.concat(received).toString('latin1');
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(answer.endsWith(`\r\n\r\n${BODY}`), answer);

    assert.equal(logs.length, 1);
    const writes = logs[0]?.writes ?? [];
    const last = writes.at(-1) ?? [];
    // The last write: the answer's record (head and body sealed together) then close_notify.
    assert.deepEqual(last.slice(-2), [Buffer.byteLength(answer, 'latin1') + RECORD_OVERHEAD, CLOSE_NOTIFY_RECORD]);
    // Before it at most one write: the session ticket, when the request came in a later TCP read than the client's Finished.
    assert.ok(writes.length <= 2, `post-handshake writes: ${JSON.stringify(writes)}`);
  });
});
