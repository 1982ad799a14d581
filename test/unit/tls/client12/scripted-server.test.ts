import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { connect, TlsAlertError, type TlsSocket } from '../../../../src/tls/index.js';
import { AlertDescription, type AlertName } from '../../../../src/tls/alert.js';
import { HandshakeType, Tls12ExtensionType } from '../../../../src/tls/codec/enums.js';
import type { RawExtension } from '../../../../src/tls/codec/extensions.js';
import { frameHandshake } from '../../../../src/tls/codec/handshake-frame.js';
import { DOWNGRADE_TLS12, encodeServerHello } from '../../../../src/tls/codec/messages/server-hello.js';
import { nextEvent, portOf } from '../../../helpers/processes.js';
import { fixture } from '../../../interop/harness.js';

/**
 * Our client over a real 127.0.0.1 socket against a scripted server that
 * answers the ClientHello with one TLS 1.2 ServerHello record and records
 * what comes back: a server that omits extended_master_secret (RFC 7627
 * §5.3) and one that sets the downgrade sentinel while we offered TLS 1.3
 * (RFC 8446 §4.1.3) each get our fatal alert, and no more.
 */

const EMS: RawExtension = { type: Tls12ExtensionType.extended_master_secret, data: Buffer.alloc(0) };
const RENEGOTIATION_INFO: RawExtension = { type: Tls12ExtensionType.renegotiation_info, data: Buffer.of(0) };

function serverHelloRecord(random: Buffer, extensions: readonly RawExtension[]): Buffer {
  const body = encodeServerHello({ random, legacySessionIdEcho: Buffer.alloc(32, 0x42), cipherSuite: 0xc02b, extensions });
  const message = frameHandshake(HandshakeType.server_hello, body);
  return Buffer.concat([Buffer.of(22, 3, 3, message.length >> 8, message.length & 0xff), message]);
}

interface Scripted {
  readonly port: number;
  /** Everything the client sent after our ServerHello. */
  readonly afterHello: Promise<Buffer>;
}

describe('our client with a scripted TLS 1.2 server', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const cleanup of cleanups.splice(0)) cleanup();
  });

  async function scriptedServer(serverHello: Buffer): Promise<Scripted> {
    let resolveAfter: (bytes: Buffer) => void = () => undefined;
    const afterHello = new Promise<Buffer>((resolve) => {
      resolveAfter = resolve;
    });
    const server: Server = createServer((socket: Socket) => {
      const chunks: Buffer[] = [];
      let isHelloSent = false;
      socket.on('data', (chunk: Buffer) => {
        if (!isHelloSent) {
          isHelloSent = true;
          socket.write(serverHello);
          return;
        }
        chunks.push(chunk);
      });
      socket.on('error', () => {});
      socket.on('close', () => resolveAfter(Buffer.concat(chunks)));
    });
    server.listen(0, '127.0.0.1');
    await nextEvent(server, 'listening');
    cleanups.push(() => server.close());
    return { port: portOf(server.address()), afterHello };
  }

  async function expectAlert(serverHello: Buffer, alert: AlertName): Promise<void> {
    const scripted = await scriptedServer(serverHello);
    const socket: TlsSocket = connect({
      host: '127.0.0.1',
      port: scripted.port,
      servername: 'localhost',
      ca: fixture('ca.pem'),
      minVersion: 'TLSv1.2',
    });
    cleanups.push(() => socket.destroy());
    const [err] = await nextEvent(socket, 'error');
    assert.ok(err instanceof TlsAlertError && !err.isRemote, String(err));
    assert.equal(err.alert, alert);
    assert.deepEqual(await scripted.afterHello, Buffer.of(21, 3, 3, 0, 2, 2, AlertDescription[alert]), 'one fatal alert, nothing else');
  }

  it('refuses a server that does not negotiate extended_master_secret with handshake_failure (RFC 7627 §5.3)', async () => {
    await expectAlert(serverHelloRecord(Buffer.alloc(32, 0x5a), [RENEGOTIATION_INFO]), 'handshake_failure');
  });

  it('refuses a TLS 1.2 ServerHello with the downgrade sentinel with illegal_parameter (RFC 8446 §4.1.3)', async () => {
    const random = Buffer.concat([Buffer.alloc(24, 0x5a), DOWNGRADE_TLS12]);
    await expectAlert(serverHelloRecord(random, [RENEGOTIATION_INFO, EMS]), 'illegal_parameter');
  });
});
