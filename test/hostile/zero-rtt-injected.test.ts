import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as netConnect, createServer as createNetServer, type Server, type Socket } from 'node:net';
import { ContentType, HandshakeType } from '../../src/tls/codec/enums.js';
import { nodeCryptoProvider } from '../../src/tls/crypto/node-provider.js';
import { suiteInfo } from '../../src/tls/crypto/suites.js';
import { connect, TlsAlertError, type TlsSocket } from '../../src/tls/index.js';
import { Protector } from '../../src/tls/record/protector.js';
import { decodeClientSession, encodeClientSession } from '../../src/tls/tickets.js';
import { portOf } from '../helpers/processes.js';
import { HostileService } from './harness.js';

/**
 * TLS 1.3 early-data messages a well-behaved client never sends, injected
 * by a relay that holds our client's traffic secrets (its key log): an
 * early data record whose inner content type is garbage, and EndOfEarlyData
 * when early data was refused or never offered (RFC 8446 §4.5: sent only
 * when the server accepted early data; anything else is unexpected_message).
 * Each must end the handshake with unexpected_message from `keysmith
 * serve`, which then still serves.
 */

const SUITE = 0x1301; // TLS_AES_128_GCM_SHA256, the one suite the client offers here
const END_OF_EARLY_DATA = Buffer.of(HandshakeType.end_of_early_data, 0, 0, 0);
/** A content type no TLS 1.3 record carries (RFC 8446 §5.1, §B.1). */
const GARBAGE_INNER_TYPE = 0x42;

type Injection = 'garbage-early-type' | 'end-of-early-data';

/**
 * Relays our client to the service; it reads the client's secrets from the
 * key log and rewrites one record: the first early data record (before the
 * server has answered) or the client's first record under its handshake key.
 */
class InjectingRelay {
  readonly secrets = new Map<string, Buffer>();
  private server: Server | undefined;
  injected = false;

  constructor(
    private readonly targetPort: number,
    private readonly injection: Injection,
  ) {}

  async start(): Promise<number> {
    this.server = createNetServer((client) => this.relay(client));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return portOf(this.server.address());
  }

  close(): void {
    this.server?.close();
  }

  keyLog = (line: string): void => {
    const [label = '', , secret = ''] = line.split(' ');
    this.secrets.set(label, Buffer.from(secret, 'hex'));
  };

  private protector(label: string): Protector {
    const suite = suiteInfo(SUITE);
    const secret = this.secrets.get(label);
    if (suite === undefined || secret === undefined) throw new Error(`no ${label} in the key log`);
    return new Protector(nodeCryptoProvider, suite, secret);
  }

  private relay(client: Socket): void {
    const upstream = netConnect(this.targetPort, '127.0.0.1');
    let hasServerAnswered = false;
    let pending = Buffer.alloc(0);
    upstream.on('data', (chunk: Buffer) => {
      hasServerAnswered = true;
      client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt16BE(3)) {
        const end = 5 + pending.readUInt16BE(3);
        const rec = pending.subarray(0, end);
        pending = pending.subarray(end);
        upstream.write(this.rewrite(rec, hasServerAnswered));
      }
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }

  private rewrite(rec: Buffer, hasServerAnswered: boolean): Buffer {
    if (this.injected || rec[0] !== ContentType.application_data) return rec;
    if (this.injection === 'garbage-early-type' && !hasServerAnswered) {
      this.injected = true;
      return this.protector('CLIENT_EARLY_TRAFFIC_SECRET').seal(GARBAGE_INNER_TYPE as ContentType, Buffer.from('x'));
    }
    if (this.injection === 'end-of-early-data' && hasServerAnswered) {
      // In place of the client's Finished (its first record under the handshake key).
      this.injected = true;
      return this.protector('CLIENT_HANDSHAKE_TRAFFIC_SECRET').seal(ContentType.handshake, END_OF_EARLY_DATA);
    }
    return rec;
  }
}

describe('injected early-data messages against keysmith serve (RFC 8446 §4.5, §4.2.10)', () => {
  let service: HostileService;
  let ca: string;

  before(async () => {
    service = await HostileService.start({ env: { KEYSMITH_LOG_LEVEL: 'error' } });
    ca = await service.bundlePem();
  });
  after(() => service.stop());

  function open(port: number, options: { session?: Uint8Array; earlyData?: Buffer; onKeyLog?: (line: string) => void } = {}): TlsSocket {
    return connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca,
      cipherSuites: ['TLS_AES_128_GCM_SHA256'],
      ALPNProtocols: ['http/1.1'],
      ...options,
    });
  }

  async function session(): Promise<Uint8Array> {
    const socket = open(service.port);
    try {
      return ((await once(socket, 'session')) as [Uint8Array])[0];
    } finally {
      socket.destroy();
    }
  }

  /** Runs one connection through the relay; the client's error (the server's alert, as the client read it). */
  async function through(
    injection: Injection,
    options: { session?: Uint8Array; earlyData?: Buffer },
  ): Promise<{ err: unknown; accepted: boolean }> {
    const relay = new InjectingRelay(service.port, injection);
    const port = await relay.start();
    try {
      const socket = open(port, { ...options, onKeyLog: relay.keyLog });
      // The client reports 'secure' once its Finished is out; the server's verdict comes after, as an error or a close.
      const err = await new Promise<unknown>((resolve) => {
        const timer = setTimeout(() => resolve('no error or close within 5 s'), 5_000);
        socket.once('error', (e) => {
          clearTimeout(timer);
          resolve(e);
        });
        socket.once('close', () => {
          clearTimeout(timer);
          resolve('closed without an error');
        });
      });
      socket.destroy();
      assert.equal(relay.injected, true, 'the relay rewrote a record');
      return { err, accepted: socket.earlyDataAccepted };
    } finally {
      relay.close();
    }
  }

  function assertUnexpectedMessage(err: unknown): void {
    assert.ok(err instanceof TlsAlertError, String(err));
    assert.deepEqual({ alert: err.alert, isRemote: err.isRemote }, { alert: 'unexpected_message', isRemote: true }, String(err));
  }

  it('an accepted early data record with a garbage inner content type gets unexpected_message (RFC 8446 §5.2)', async () => {
    const { err, accepted } = await through('garbage-early-type', {
      session: await session(),
      earlyData: Buffer.from('GET /healthz HTTP/1.1\r\n\r\n'),
    });
    assert.equal(accepted, true, 'the server took the 0-RTT');
    assertUnexpectedMessage(err);
    await service.assertHealthy('after a garbage early record');
  });

  it('EndOfEarlyData after early data refused for its ticket age gets unexpected_message (RFC 8446 §4.5)', async () => {
    // A session 60 s older than it is: the server resumes it but refuses its 0-RTT (§8.3), and reads no EndOfEarlyData.
    const aged = decodeClientSession(await session());
    const old = encodeClientSession({ ...aged, receivedAt: aged.receivedAt - 60_000 });
    const { err, accepted } = await through('end-of-early-data', { session: old, earlyData: Buffer.from('GET /healthz HTTP/1.1\r\n\r\n') });
    assert.equal(accepted, false, 'the server refused the 0-RTT');
    assertUnexpectedMessage(err);
    await service.assertHealthy('after EndOfEarlyData on refused early data');
  });

  it('EndOfEarlyData in a full handshake that never offered early data gets unexpected_message (RFC 8446 §4.5)', async () => {
    assertUnexpectedMessage((await through('end-of-early-data', {})).err);
    await service.assertHealthy('after EndOfEarlyData without early data');
  });
});
