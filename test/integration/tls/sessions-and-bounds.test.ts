import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { createHash, X509Certificate } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  connect,
  createServer,
  SessionCache,
  TlsAlertError,
  type TlsConnectOptions,
  type TlsServer,
  type TlsServerOptions,
  type TlsSocket,
} from '../../../src/tls/index.js';
import { decodeClientSession } from '../../../src/tls/tickets.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const fixture = (name: string): Buffer => readFileSync(FIXTURES + name);

const serverBase: TlsServerOptions = {
  key: fixture('server.key'),
  cert: fixture('server-chain.pem'),
  ca: fixture('ca.pem'),
  clientAuth: 'require',
};
const clientBase: TlsConnectOptions = {
  host: '127.0.0.1',
  servername: 'localhost',
  ca: fixture('ca.pem'),
  key: fixture('client.key'),
  cert: fixture('client-chain.pem'),
};

const servers: TlsServer[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function listen(
  options: TlsServerOptions,
  onSecure?: (socket: TlsSocket) => void,
): Promise<{ server: TlsServer; port: number; errors: Error[] }> {
  const errors: Error[] = [];
  const server = createServer(options, (socket) => {
    onSecure?.(socket);
    socket.on('data', (d: Buffer) => socket.write(d));
    socket.on('end', () => socket.end());
  });
  server.on('tlsClientError', (err: Error) => errors.push(err));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, errors };
}

/** One connection: waits for 'secure' and for the first ticket (bounded), then closes. */
function roundTrip(
  options: TlsConnectOptions,
): Promise<{ isResumed: boolean; session: Uint8Array | undefined; leafUri: string | undefined }> {
  return new Promise((resolve, reject) => {
    const socket = connect(options);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('no answer within 5 s'));
    }, 5000);
    let session: Uint8Array | undefined;
    socket.on('session', (s: Uint8Array) => {
      session = s;
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('secure', () => socket.write('ping'));
    socket.on('data', () => socket.end());
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ isResumed: socket.isResumed, session, leafUri: socket.peerCertificates[0]?.dnsNames[0] });
    });
  });
}

describe('session resumption', () => {
  it('offers tickets from a SessionCache and resumes with the original server identity (RFC 8446 §2.2)', async () => {
    const { port } = await listen(serverBase);
    const cache = new SessionCache();
    const first = await roundTrip({ ...clientBase, port, sessionCache: cache });
    assert.equal(first.isResumed, false);
    assert.equal(cache.size, 1);
    const second = await roundTrip({ ...clientBase, port, sessionCache: cache });
    assert.equal(second.isResumed, true);
    assert.equal(second.leafUri, 'localhost');
  });

  it('re-runs verifyPeer on resumption, so a client refused since then is refused again', async () => {
    let isRevoked = false;
    const { port, errors } = await listen({
      ...serverBase,
      verifyPeer: () => {
        if (isRevoked) throw new TlsAlertError('certificate_revoked', 'revoked in the ledger');
      },
    });
    const first = await roundTrip({ ...clientBase, port });
    assert.ok(first.session !== undefined);
    isRevoked = true;
    await assert.rejects(
      roundTrip({ ...clientBase, port, session: first.session }),
      (err: unknown) => err instanceof TlsAlertError && err.alert === 'certificate_revoked',
    );
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TlsAlertError && errors[0].alert === 'certificate_revoked');
  });

  it('caps the ticket lifetime at the client certificate notAfter (RFC 8446 §4.6.1)', async () => {
    const notAfter = new Date(readCertNotAfter('client.pem')).getTime();
    // The server's clock sits 30 minutes before the client certificate expires.
    const { port } = await listen({ ...serverBase, now: () => notAfter - 30 * 60_000, clockSkewMs: 0 });
    const { session } = await roundTrip({ ...clientBase, port });
    assert.ok(session !== undefined);
    const lifetime = decodeClientSession(session).lifetimeSeconds;
    assert.ok(lifetime <= 30 * 60 && lifetime > 29 * 60, `lifetime ${lifetime}`);
  });

  it('falls back to a full handshake once the ticket key has rotated out', async () => {
    let clock = Date.now();
    const { port } = await listen({ ...serverBase, now: () => clock, ticketKeyRotationMs: 60_000 });
    const first = await roundTrip({ ...clientBase, port });
    clock += 2 * 60_000 + 1;
    const second = await roundTrip({ ...clientBase, port, session: first.session! });
    assert.equal(second.isResumed, false);
  });
});

describe('session tickets under keys the caller derives per period (ticketKeyForPeriod)', () => {
  const ROTATION_MS = 60_000;
  /** A deterministic 32-byte key per period, as a cluster derives it from its shared secret. */
  const keysOf =
    (secret: string) =>
    (period: number): Uint8Array =>
      createHash('sha256').update(`${secret}/${period}`).digest();

  it('resumes on a second server given the same keys: two nodes of a cluster', async () => {
    const nodeA = await listen({ ...serverBase, ticketKeyRotationMs: ROTATION_MS, ticketKeyForPeriod: keysOf('cluster-1') });
    const nodeB = await listen({ ...serverBase, ticketKeyRotationMs: ROTATION_MS, ticketKeyForPeriod: keysOf('cluster-1') });
    const first = await roundTrip({ ...clientBase, port: nodeA.port });
    assert.equal(first.isResumed, false);
    assert.ok(first.session !== undefined);
    const onB = await roundTrip({ ...clientBase, port: nodeB.port, session: first.session });
    assert.equal(onB.isResumed, true);
    assert.equal(onB.leafUri, 'localhost');
    assert.deepEqual([nodeA.errors, nodeB.errors], [[], []]);
  });

  it('makes a full handshake on a server with other keys, and keeps the connection', async () => {
    const nodeA = await listen({ ...serverBase, ticketKeyRotationMs: ROTATION_MS, ticketKeyForPeriod: keysOf('cluster-1') });
    const stranger = await listen({ ...serverBase, ticketKeyRotationMs: ROTATION_MS, ticketKeyForPeriod: keysOf('cluster-2') });
    const first = await roundTrip({ ...clientBase, port: nodeA.port });
    assert.ok(first.session !== undefined);
    const second = await roundTrip({ ...clientBase, port: stranger.port, session: first.session });
    assert.equal(second.isResumed, false);
    assert.deepEqual(stranger.errors, []);
  });

  it('opens a ticket of the previous period and refuses one two periods old, on another node', async () => {
    // Tickets live 2 h by default: only the key's period bounds them here.
    const periodStart = Math.floor(Date.now() / ROTATION_MS) * ROTATION_MS;
    let clock = periodStart + ROTATION_MS - 1;
    const now = (): number => clock;
    const nodeA = await listen({ ...serverBase, now, ticketKeyRotationMs: ROTATION_MS, ticketKeyForPeriod: keysOf('cluster-1') });
    const nodeB = await listen({ ...serverBase, now, ticketKeyRotationMs: ROTATION_MS, ticketKeyForPeriod: keysOf('cluster-1') });
    const first = await roundTrip({ ...clientBase, port: nodeA.port });
    assert.ok(first.session !== undefined);
    // The next period, the last millisecond of it: the previous period's key still opens.
    clock = periodStart + 2 * ROTATION_MS - 1;
    assert.equal((await roundTrip({ ...clientBase, port: nodeB.port, session: first.session })).isResumed, true);
    // Two periods after the ticket's: refused, a full handshake instead.
    clock = periodStart + 2 * ROTATION_MS;
    assert.equal((await roundTrip({ ...clientBase, port: nodeB.port, session: first.session })).isResumed, false);
  });

  it('ends the handshake with internal_error when the key function gives other than 32 bytes', async () => {
    const { port, errors } = await listen({ ...serverBase, ticketKeyForPeriod: () => new Uint8Array(16) });
    await assert.rejects(roundTrip({ ...clientBase, port }));
    assert.equal(errors.length, 1);
    const [error] = errors;
    assert.ok(error instanceof TlsAlertError && error.alert === 'internal_error');
    assert.ok(error.cause instanceof TypeError);
    assert.equal(error.cause.message, 'ticketKeyForPeriod returned 16 bytes; AES-256-GCM needs 32');
  });
});

describe('resource bounds', () => {
  it('aborts a handshake that does not finish within handshakeTimeoutMs', async () => {
    const { port, errors } = await listen({ ...serverBase, handshakeTimeoutMs: 200 });
    const closedAfterMs = await new Promise<number>((resolve, reject) => {
      const started = Date.now();
      const raw = netConnect(port, '127.0.0.1');
      const guard = setTimeout(() => {
        raw.destroy();
        reject(new Error('server kept a silent connection open for 5 s'));
      }, 5000);
      raw.on('error', () => undefined);
      raw.on('close', () => {
        clearTimeout(guard);
        resolve(Date.now() - started);
      });
      raw.resume();
    });
    assert.ok(closedAfterMs < 5000);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /timed out/);
  });

  it('refuses a ClientHello header announcing 1 MiB with decode_error, before buffering it (RFC 8446 §4.1.2)', async () => {
    const { port, errors } = await listen({ ...serverBase, maxHandshakeMessageSize: 512 });
    // A ClientHello header that announces 1 MiB: refused from the 4-byte header alone.
    const header = Buffer.from([22, 3, 1, 0, 4, 1, 0x10, 0, 0]);
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const raw = netConnect(port, '127.0.0.1', () => raw.write(header));
      const chunks: Buffer[] = [];
      const guard = setTimeout(() => {
        raw.destroy();
        reject(new Error('no answer within 5 s'));
      }, 5000);
      raw.on('data', (d: Buffer) => chunks.push(d));
      raw.on('error', () => undefined);
      raw.on('close', () => {
        clearTimeout(guard);
        resolve(Buffer.concat(chunks));
      });
    });
    // One plaintext fatal alert: decode_error (50), since no ClientHello can be over 131,396 bytes (RFC 8446 §4.1.2).
    assert.deepEqual([...reply], [21, 3, 3, 0, 2, 2, 50]);
    assert.equal(errors.length, 1);
  });
});

function readCertNotAfter(name: string): string {
  return new X509Certificate(fixture(name)).validTo;
}
