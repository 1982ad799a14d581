import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import {
  connect,
  createServer,
  SessionCache,
  TlsAlertError,
  type CipherSuiteName,
  type TlsConnectOptions,
  type TlsServer,
  type TlsServerOptions,
  type TlsSocket,
} from '../../../src/tls/index.js';

/**
 * keysmith's client against keysmith's server over TLS 1.2: every suite with
 * the key type it needs, mutual TLS seen from both ends, ALPN, RFC 5077
 * resumption carrying both identities, an OCSP staple, bulk data across many
 * records, and the version choice when each side narrows its range.
 */

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const fixture = (name: string): Buffer => readFileSync(FIXTURES + name);

const ECDSA_SERVER = { key: fixture('server.key'), cert: fixture('server-chain.pem') };
const RSA_SERVER = { key: fixture('server-rsa.key'), cert: fixture('server-rsa-chain.pem') };

const serverBase: TlsServerOptions = { ...ECDSA_SERVER, ca: fixture('ca.pem'), clientAuth: 'require' };
const clientBase: TlsConnectOptions = {
  host: '127.0.0.1',
  servername: 'localhost',
  ca: fixture('ca.pem'),
  key: fixture('client.key'),
  cert: fixture('client-chain.pem'),
  maxVersion: 'TLSv1.2',
};

const servers: TlsServer[] = [];
after(() => {
  for (const s of servers) s.close();
});

interface Listening {
  readonly port: number;
  /** The server side of each connection, once its handshake completed. */
  readonly accepted: TlsSocket[];
  readonly errors: Error[];
}

async function listen(options: TlsServerOptions): Promise<Listening> {
  const accepted: TlsSocket[] = [];
  const errors: Error[] = [];
  const server = createServer(options, (socket) => {
    accepted.push(socket);
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  server.on('tlsClientError', (err: Error) => errors.push(err));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, accepted, errors };
}

interface Exchange {
  readonly socket: TlsSocket;
  readonly echoed: Buffer;
  readonly session: Uint8Array | undefined;
}

/** One connection: sends `payload`, reads the echo whole, ends; bounded by a 10 s timer. */
function exchange(options: TlsConnectOptions, payload: Buffer = Buffer.from('ping')): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no echo within 10 s'));
    }, 10_000);
    const chunks: Buffer[] = [];
    let received = 0;
    let session: Uint8Array | undefined;
    socket.on('session', (s: Uint8Array) => {
      session = s;
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('secure', () => socket.write(payload));
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      if (received >= payload.length) socket.end();
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ socket, echoed: Buffer.concat(chunks), session });
    });
  });
}

const SUITES: readonly { readonly suite: CipherSuiteName; readonly rsa: boolean }[] = [
  { suite: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', rsa: false },
  { suite: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', rsa: false },
  { suite: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', rsa: false },
  { suite: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', rsa: true },
  { suite: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', rsa: true },
  { suite: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', rsa: true },
];

describe('TLS 1.2 between our client and our server', () => {
  for (const { suite, rsa } of SUITES) {
    it(`${suite}: mutual TLS, each side sees the other's certificate, 100 KiB echoed intact`, async () => {
      const { port, accepted } = await listen({ ...serverBase, ...(rsa ? RSA_SERVER : ECDSA_SERVER), cipherSuites: [suite] });
      const payload = randomBytes(100 * 1024);
      const { socket, echoed } = await exchange({ ...clientBase, port, cipherSuites: [suite] }, payload);
      assert.equal(socket.protocol, 'TLSv1.2');
      assert.equal(socket.cipher?.standardName, suite);
      assert.equal(socket.isSessionReused(), false);
      assert.deepEqual(socket.peerCertificates[0]?.dnsNames, ['localhost']);
      assert.ok(echoed.equals(payload), 'the echo differs from what was sent');
      const [serverSide] = accepted;
      assert.equal(serverSide?.protocol, 'TLSv1.2');
      assert.deepEqual(serverSide?.peerCertificates[0]?.uris, ['spiffe://keysmith.local/workload/test']);
    });
  }

  it('settles ALPN and resumes with an RFC 5077 ticket that keeps both identities and the protocol', async () => {
    const { port, accepted } = await listen({ ...serverBase, ALPNProtocols: ['h2', 'http/1.1'] });
    const options = { ...clientBase, port, ALPNProtocols: ['http/1.1'] };
    const first = await exchange(options);
    assert.equal(first.socket.alpnProtocol, 'http/1.1');
    assert.ok(first.session !== undefined, 'no session from the full handshake');
    const second = await exchange({ ...options, session: first.session });
    assert.equal(second.socket.isSessionReused(), true);
    assert.equal(second.socket.protocol, 'TLSv1.2');
    assert.equal(second.socket.alpnProtocol, 'http/1.1');
    assert.deepEqual(second.socket.peerCertificates[0]?.dnsNames, ['localhost']);
    const resumedServerSide = accepted[1];
    assert.equal(resumedServerSide?.isSessionReused(), true);
    assert.equal(resumedServerSide?.peerCertificates[0]?.fingerprint256, accepted[0]?.peerCertificates[0]?.fingerprint256);
  });

  it('resumes through a SessionCache, and a TLS 1.2 ticket does not resume a TLS 1.3 handshake', async () => {
    const { port } = await listen(serverBase);
    const cache = new SessionCache();
    const first = await exchange({ ...clientBase, port, sessionCache: cache });
    assert.equal(first.socket.isSessionReused(), false);
    const second = await exchange({ ...clientBase, port, sessionCache: cache });
    assert.equal(second.socket.isSessionReused(), true);
    // The same cache, a client that now speaks TLS 1.3 only: a 1.2 ticket is no PSK, so a full handshake.
    const third = await exchange({ ...clientBase, port, sessionCache: cache, maxVersion: 'TLSv1.3', minVersion: 'TLSv1.3' });
    assert.equal(third.socket.protocol, 'TLSv1.3');
    assert.equal(third.socket.isSessionReused(), false);
  });

  it('hands the stapled OCSP response to verifyOcspStaple, byte for byte', async () => {
    const staple = Buffer.from('30030a0100', 'hex');
    const { port } = await listen({ ...serverBase, ocspResponse: () => staple });
    const seen: (Uint8Array | undefined)[] = [];
    const { socket } = await exchange({ ...clientBase, port, verifyOcspStaple: (response) => void seen.push(response) });
    assert.equal(socket.protocol, 'TLSv1.2');
    assert.equal(seen.length, 1);
    assert.deepEqual(Buffer.from(seen[0] ?? []), staple);
  });

  it('a server at minVersion TLSv1.3 refuses a TLS 1.2-only client with protocol_version (RFC 8446 §4.2.1)', async () => {
    const { port, errors } = await listen({ ...serverBase, minVersion: 'TLSv1.3' });
    await assert.rejects(
      exchange({ ...clientBase, port }),
      (err: unknown) => err instanceof TlsAlertError && err.alert === 'protocol_version' && err.isRemote,
    );
    assert.equal(errors.length, 1);
  });

  it('a client offering both versions gets TLS 1.3 from a default server and TLS 1.2 from one at maxVersion TLSv1.2', async () => {
    const both: TlsConnectOptions = { ...clientBase, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' };
    const modern = await listen(serverBase);
    assert.equal((await exchange({ ...both, port: modern.port })).socket.protocol, 'TLSv1.3');
    // A server without TLS 1.3 sends no downgrade sentinel (RFC 8446 §4.1.3 applies to 1.3-capable servers), so the client accepts 1.2.
    const older = await listen({ ...serverBase, maxVersion: 'TLSv1.2' });
    assert.equal((await exchange({ ...both, port: older.port })).socket.protocol, 'TLSv1.2');
  });

  it("clientAuth 'require' refuses a TLS 1.2 client without a certificate with handshake_failure; 'request' lets it in", async () => {
    const { key: _key, cert: _cert, ...anonymous } = clientBase;
    const strict = await listen(serverBase);
    await assert.rejects(
      exchange({ ...anonymous, port: strict.port }),
      (err: unknown) => err instanceof TlsAlertError && err.alert === 'handshake_failure' && err.isRemote,
    );
    const lenient = await listen({ ...serverBase, clientAuth: 'request' });
    const { socket } = await exchange({ ...anonymous, port: lenient.port });
    assert.equal(socket.protocol, 'TLSv1.2');
    assert.equal(lenient.accepted[0]?.peerCertificates.length, 0);
  });
});
