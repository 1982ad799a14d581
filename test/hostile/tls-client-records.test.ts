import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { connect, TlsAlertError } from '../../src/tls/index.js';
import { ContentType, HandshakeType } from '../../src/tls/codec/enums.js';
import { frameHandshake } from '../../src/tls/codec/handshake-frame.js';
import { fixture } from '../fakes/tls-fixtures.js';
import { nextEvent } from '../helpers/processes.js';

/**
 * Our client (`connect`, as ACME tls-alpn-01 validation uses it) against a
 * raw TCP "server" that answers the ClientHello with a 64 KiB handshake
 * message in 1-byte records: the fragment budget refuses it with
 * unexpected_message at its 2,562nd record, and the alert reaches the hostile server.
 */

function record(type: number, content: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + content.length);
  out[0] = type;
  out.writeUInt16BE(0x0303, 1);
  out.writeUInt16BE(content.length, 3);
  out.set(content, 5);
  return out;
}

describe('our client against a server that sends 1-byte handshake records', () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  async function hostileServer(reply: Buffer): Promise<{ port: number; received: Promise<Buffer> }> {
    let deliver: (b: Buffer) => void = () => undefined;
    const received = new Promise<Buffer>((resolve) => {
      deliver = resolve;
    });
    const server = createServer((socket: Socket) => {
      const chunks: Buffer[] = [];
      let isAnswered = false;
      socket.on('data', (d: Buffer) => {
        chunks.push(d);
        if (!isAnswered) {
          isAnswered = true;
          socket.write(reply);
        }
      });
      socket.on('error', () => undefined);
      socket.on('close', () => deliver(Buffer.concat(chunks)));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, received };
  }

  it('sends unexpected_message for a ServerHello-typed 64 KiB message in 1-byte records, once past its budget', async () => {
    const message = frameHandshake(HandshakeType.server_hello, Buffer.alloc(60_000, 0x42));
    const parts: Buffer[] = [];
    for (const byte of message) parts.push(record(ContentType.handshake, Buffer.of(byte)));
    const { port, received } = await hostileServer(Buffer.concat(parts));
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca: fixture('ca.pem'), maxHandshakeMessageSize: 1 << 17 });
    const [err] = await nextEvent(socket, 'error');
    assert.ok(err instanceof TlsAlertError, String(err));
    assert.equal(err.alert, 'unexpected_message');
    assert.equal(err.isRemote, false);
    assert.match(err.message, /spread over more than \d+ records/);
    socket.destroy();
    const fromClient = await received;
    // What the client sent: its ClientHello record(s), then one fatal alert.
    assert.deepEqual([...fromClient.subarray(-7)], [ContentType.alert, 3, 3, 0, 2, 2, 10]);
  });
});
