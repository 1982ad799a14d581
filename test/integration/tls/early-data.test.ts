import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  connect,
  createServer,
  TlsAlertError,
  type EarlyDataOutcome,
  type TlsServer,
  type TlsServerOptions,
  type TlsSocket,
} from '../../../src/tls/index.js';
import { decodeClientSession, encodeClientSession } from '../../../src/tls/tickets.js';
import { clientOptions, serverOptions } from '../../fakes/tls-fixtures.js';
import { portOf } from '../../helpers/processes.js';

/**
 * 0-RTT between our client and our server over real sockets (RFC 8446 §2.3,
 * §4.2.10, §8): what is accepted, what is refused and why, and that refused
 * early data still reaches the server once, after the handshake.
 */

interface EchoServer {
  readonly port: number;
  readonly outcomes: EarlyDataOutcome[];
  /** Per connection: what the server read before its handshake completed, and in all. */
  readonly reads: { early: string; all: string }[];
  readonly errors: Error[];
}

const servers: TlsServer[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function echoServer(options: Partial<TlsServerOptions> = {}): Promise<EchoServer> {
  const outcomes: EarlyDataOutcome[] = [];
  const reads: { early: string; all: string }[] = [];
  const errors: Error[] = [];
  const server = createServer(serverOptions({ maxEarlyData: 1024, ...options }), (socket: TlsSocket) => {
    const read = { early: '', all: '' };
    reads.push(read);
    socket.on('data', (d: Buffer) => {
      if (!socket.isSecure) read.early += d.toString();
      read.all += d.toString();
      socket.write(d);
    });
    socket.on('error', () => undefined);
  });
  server.on('earlyData', (outcome: EarlyDataOutcome) => outcomes.push(outcome));
  server.on('tlsClientError', (err: Error) => errors.push(err));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: portOf(server.address()), outcomes, reads, errors };
}

async function ticketFrom(port: number): Promise<Uint8Array> {
  const socket = connect(clientOptions({ host: '127.0.0.1', port }));
  const [session] = (await once(socket, 'session')) as [Uint8Array];
  socket.destroy();
  return session;
}

/** Sends `early` with the ticket and reads the echo; returns the client socket's view. */
async function sendEarly(port: number, session: Uint8Array, early: string): Promise<{ accepted: boolean; echoed: string }> {
  const socket = connect(clientOptions({ host: '127.0.0.1', port, session, earlyData: Buffer.from(early) }));
  let echoed = '';
  socket.on('data', (d: Buffer) => (echoed += d.toString()));
  for (let i = 0; i < 300 && echoed.length < early.length && !socket.destroyed; i++) await new Promise((r) => setTimeout(r, 10));
  socket.destroy();
  return { accepted: socket.earlyDataAccepted, echoed };
}

describe('0-RTT between our client and our server', () => {
  it('advertises max_early_data_size in the ticket and accepts early data read before the handshake ends', async () => {
    const server = await echoServer();
    const session = await ticketFrom(server.port);
    assert.equal(decodeClientSession(session).maxEarlyData, 1024);
    assert.deepEqual(await sendEarly(server.port, session, 'early-hello'), { accepted: true, echoed: 'early-hello' });
    assert.deepEqual(server.outcomes, [{ accepted: true }]);
    assert.deepEqual(server.reads.at(-1), { early: 'early-hello', all: 'early-hello' });
  });

  it('issues tickets without early_data when maxEarlyData is 0 (the default), and the data goes after the handshake', async () => {
    const server = await echoServer({ maxEarlyData: 0 });
    const session = await ticketFrom(server.port);
    assert.equal(decodeClientSession(session).maxEarlyData, 0);
    assert.deepEqual(await sendEarly(server.port, session, 'late'), { accepted: false, echoed: 'late' });
    assert.deepEqual(server.outcomes, [], 'nothing was offered');
    assert.deepEqual(server.reads.at(-1), { early: '', all: 'late' });
  });

  it("refuses early data on another node that shares the ticket keys (bound to the issuer's strike register); it resumes 1-RTT", async () => {
    const keys = (period: number): Uint8Array => createHash('sha256').update(`cluster/${period}`).digest();
    const nodeA = await echoServer({ ticketKeyForPeriod: keys });
    const nodeB = await echoServer({ ticketKeyForPeriod: keys });
    const session = await ticketFrom(nodeA.port);
    assert.deepEqual(await sendEarly(nodeB.port, session, 'to-b'), { accepted: false, echoed: 'to-b' });
    assert.deepEqual(nodeB.outcomes, [{ accepted: false, reason: 'other_instance' }]);
    assert.deepEqual(nodeB.reads.at(-1), { early: '', all: 'to-b' }, 'sent once, after the handshake');
  });

  it('refuses early data when the ticket age is off by more than the tolerance (RFC 8446 §8.3)', async () => {
    let now = Date.UTC(2030, 0, 1);
    const server = await echoServer({ now: () => now, earlyDataAgeToleranceMs: 1_000 });
    const session = decodeClientSession(await ticketFrom(server.port));
    // The client believes it got the ticket 5 s earlier than it did: its age is 5 s more than ours.
    now += 100;
    const skewed = encodeClientSession({ ...session, receivedAt: session.receivedAt - 5_000 });
    assert.deepEqual(await sendEarly(server.port, skewed, 'stale'), { accepted: false, echoed: 'stale' });
    assert.deepEqual(server.outcomes, [{ accepted: false, reason: 'ticket_age' }]);
  });

  it('refuses early data when the strike register is full, and never accepts it (fail closed, RFC 8446 §8.2)', async () => {
    const server = await echoServer({ earlyDataReplayCacheSize: 1 });
    const session = await ticketFrom(server.port);
    assert.equal((await sendEarly(server.port, session, 'one')).accepted, true);
    assert.deepEqual(await sendEarly(server.port, session, 'two'), { accepted: false, echoed: 'two' });
    assert.deepEqual(server.outcomes, [{ accepted: true }, { accepted: false, reason: 'register_full' }]);
  });

  it('refuses early data over a HelloRetryRequest and the data still arrives once, after the handshake (RFC 8446 §4.2.10)', async () => {
    const server = await echoServer({ groups: ['secp256r1'] });
    const session = await ticketFrom(server.port);
    // Our client's first share is x25519; this server takes only P-256: a HelloRetryRequest.
    const socket = connect(clientOptions({ host: '127.0.0.1', port: server.port, session, earlyData: Buffer.from('retry') }));
    let echoed = '';
    socket.on('data', (d: Buffer) => (echoed += d.toString()));
    for (let i = 0; i < 300 && echoed.length < 5 && !socket.destroyed; i++) await new Promise((r) => setTimeout(r, 10));
    socket.destroy();
    assert.equal(echoed, 'retry');
    assert.equal(socket.earlyDataAccepted, false);
    assert.deepEqual(server.outcomes, [{ accepted: false, reason: 'hello_retry' }]);
    assert.deepEqual(server.reads.at(-1), { early: '', all: 'retry' });
  });

  it('ends with unexpected_message when early data exceeds max_early_data_size (RFC 8446 §4.2.10)', async () => {
    const server = await echoServer({ maxEarlyData: 16 });
    const session = decodeClientSession(await ticketFrom(server.port));
    // A client that claims a larger allowance than the ticket gave.
    const lying = encodeClientSession({ ...session, maxEarlyData: 4096 });
    const socket = connect(clientOptions({ host: '127.0.0.1', port: server.port, session: lying, earlyData: Buffer.alloc(64, 0x61) }));
    const [err] = (await once(socket, 'error')) as [Error];
    for (let i = 0; i < 100 && server.errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    const serverError = server.errors[0];
    assert.ok(serverError instanceof TlsAlertError);
    assert.equal(serverError.alert, 'unexpected_message');
    assert.ok(err instanceof TlsAlertError);
    assert.equal(err.alert, 'unexpected_message');
  });
});
