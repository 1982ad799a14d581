import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import {
  connect,
  createServer,
  type TlsConnectOptions,
  type TlsServer,
  type TlsServerOptions,
  type TlsSocket,
} from '../../../src/tls/index.js';
import { freePort, startProcess, withTimeout } from '../../helpers/processes.js';
import { skipUnlessTool } from '../../interop/harness.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const fixture = (name: string): Buffer => readFileSync(FIXTURES + name);
const serverBase: TlsServerOptions = {
  key: fixture('server.key'),
  cert: fixture('server-chain.pem'),
  ca: fixture('ca.pem'),
  clientAuth: 'request',
};
const clientBase: TlsConnectOptions = { servername: 'localhost', ca: fixture('ca.pem') };

const servers: TlsServer[] = [];
after(() => {
  for (const server of servers) server.close();
});

interface Listening {
  readonly port: number;
  /** Each secured connection's reported peer, in arrival order. */
  readonly peers: { address: string | undefined; port: number | undefined }[];
  readonly headerErrors: Error[];
  readonly tlsErrors: Error[];
}

async function listen(proxyProtocolFrom: (address: string) => boolean): Promise<Listening> {
  const peers: Listening['peers'] = [];
  const headerErrors: Error[] = [];
  const tlsErrors: Error[] = [];
  const server = createServer({ ...serverBase, proxyProtocolFrom }, (socket: TlsSocket) => {
    peers.push({ address: socket.remoteAddress, port: socket.remotePort });
    socket.on('data', (data: Buffer) => socket.end(data));
  });
  server.on('proxyProtocolError', (error: Error) => headerErrors.push(error));
  server.on('tlsClientError', (error: Error) => tlsErrors.push(error));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, peers, headerErrors, tlsErrors };
}

/** TLS over `transport` (already connected, any header already written): resolves with the echoed text. */
function echo(transport: Socket, text: string): Promise<string> {
  return withTimeout(
    new Promise((resolve, reject) => {
      const socket = connect({ ...clientBase, socket: transport });
      let received = '';
      socket.on('secure', () => socket.write(text));
      socket.on('data', (data: Buffer) => (received += data.toString()));
      socket.on('error', reject);
      socket.on('close', () => resolve(received));
    }),
    5000,
    'the echo over TLS',
  );
}

function tcp(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
  });
}

const V2_TCP4_FROM_203_0_113_7_PORT_4242 = Buffer.concat([
  Buffer.from('0d0a0d0a000d0a515549540a', 'hex'),
  Buffer.from([0x21, 0x11, 0x00, 0x0c, 203, 0, 113, 7, 127, 0, 0, 1, 0x10, 0x92, 0x20, 0xfb]),
]);

describe('PROXY protocol before TLS', () => {
  it('from a trusted source, a v2 header names the client: the socket reports its address and port', async () => {
    const server = await listen(() => true);
    const transport = await tcp(server.port);
    transport.write(V2_TCP4_FROM_203_0_113_7_PORT_4242);
    assert.equal(await echo(transport, 'hello'), 'hello');
    assert.deepEqual(server.peers, [{ address: '203.0.113.7', port: 4242 }]);
  });

  it('a v1 line works the same, even when the ClientHello arrives in the same segment', async () => {
    const server = await listen(() => true);
    const transport = await tcp(server.port);
    transport.cork();
    transport.write('PROXY TCP4 198.51.100.9 127.0.0.1 5555 443\r\n');
    const echoed = echo(transport, 'v1');
    process.nextTick(() => transport.uncork());
    assert.equal(await echoed, 'v1');
    assert.deepEqual(server.peers, [{ address: '198.51.100.9', port: 5555 }]);
  });

  it('from a trusted source, a connection without a valid header is closed before TLS', async () => {
    const server = await listen(() => true);
    const transport = await tcp(server.port);
    await assert.rejects(echo(transport, 'no header'));
    assert.equal(server.peers.length, 0);
    assert.match(server.headerErrors[0]?.message ?? '', /does not start with a PROXY protocol header/);
  });

  it('from any other source no header is accepted: one fails the handshake like any non-TLS bytes', async () => {
    const server = await listen(() => false);
    const plain = await tcp(server.port);
    assert.equal(await echo(plain, 'direct'), 'direct');
    assert.equal(server.peers[0]?.address, '127.0.0.1');
    const spoofing = await tcp(server.port);
    spoofing.write(V2_TCP4_FROM_203_0_113_7_PORT_4242);
    await assert.rejects(echo(spoofing, 'spoof'));
    assert.equal(server.peers.length, 1);
    assert.equal(server.headerErrors.length, 0);
  });

  it(
    'behind a real HAProxy (TCP mode, send-proxy-v2), the server sees the client, not the balancer',
    skipUnlessTool('haproxy'),
    async () => {
      const server = await listen((address) => address === '127.0.0.1');
      const frontPort = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'keysmith-haproxy-'));
      const config = join(dir, 'haproxy.cfg');
      writeFileSync(
        config,
        [
          'global',
          '  log stderr format raw local0 warning',
          'defaults',
          '  mode tcp',
          '  timeout connect 2s',
          '  timeout client 10s',
          '  timeout server 10s',
          'frontend keysmith',
          `  bind 127.0.0.1:${frontPort}`,
          '  default_backend nodes',
          'backend nodes',
          `  server node1 127.0.0.1:${server.port} send-proxy-v2`,
          '',
        ].join('\n'),
      );
      const haproxy = startProcess('haproxy', ['-db', '-f', config], { lifetimeMs: 60_000 });
      try {
        const deadline = Date.now() + 10_000;
        let transport: Socket | undefined;
        while (transport === undefined) {
          transport = await tcp(frontPort).catch(async (error: unknown) => {
            if (Date.now() > deadline) throw error;
            await new Promise((resolve) => setTimeout(resolve, 50));
            return undefined;
          });
        }
        const clientPort = transport.localPort;
        assert.equal(await echo(transport, 'through haproxy'), 'through haproxy');
        assert.deepEqual(server.peers, [{ address: '127.0.0.1', port: clientPort }]);
      } finally {
        await haproxy.kill();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
