import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { connect as netConnect, createServer as createNetServer, type Socket } from 'node:net';
import Database from 'better-sqlite3';
import { connect, TlsAlertError, type TlsSocket } from '../../src/tls/index.js';
import { decodeClientSession, encodeClientSession } from '../../src/tls/tickets.js';
import { HttpResponseReader } from '../helpers/early-http.js';
import { portOf } from '../helpers/processes.js';
import { psql } from '../helpers/test-backend.js';
import { rawTcp, SourceAddresses } from './fuzz/client.js';
import { HostileService } from './harness.js';

/**
 * 0-RTT as an attacker uses it, against `keysmith serve` as a child: early
 * data past max_early_data_size (RFC 8446 §4.2.10: unexpected_message), a
 * POST in early data or split across early and 1-RTT data (RFC 8470: 425,
 * never executed from early data; the ledger is checked), early data that
 * is not a whole request, and 20,000 replays of one captured ClientHello
 * with its early data (RFC 8446 §8.2: refused, counted, memory bounded).
 */

const TRUST_DOMAIN = 'hostile.test';
const REPLAYS = 20_000;
/** The replay flood may grow the child's resident set by at most this much (the register holds one entry; the rest is heap churn). */
const REPLAY_RSS_BOUND = 64 * 1024 * 1024;
const MAX_EARLY_DATA = 16_384;

const entryBody = (n: number): string =>
  JSON.stringify({ spiffe_id: `spiffe://${TRUST_DOMAIN}/early/${n}`, parent_id: `spiffe://${TRUST_DOMAIN}/node/n1`, x509_ttl: 1800 });
const post = (path: string, body: string): string =>
  `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
const get = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: localhost\r\n\r\n`;

/** The ClientHello, the compatibility CCS and the first early data record: the records up to the first application_data one. */
function throughFirstEarlyRecord(stream: Buffer): Buffer {
  for (let at = 0; at + 5 <= stream.length;) {
    const end = at + 5 + stream.readUInt16BE(at + 3);
    if (stream[at] === 23) return stream.subarray(0, end);
    at = end;
  }
  throw new Error('no early data record in what the client sent');
}

describe('hostile 0-RTT against keysmith serve', () => {
  let service: HostileService;
  let ca: string;
  let cert: string;
  let key: string;

  before(async () => {
    service = await HostileService.start({ env: { KEYSMITH_LOG_LEVEL: 'error', KEYSMITH_TRUST_DOMAIN: TRUST_DOMAIN } });
    [ca, cert, key] = await Promise.all([
      service.bundlePem(),
      readFile(service.paths.adminCert, 'utf8'),
      readFile(service.paths.adminKey, 'utf8'),
    ]);
  });
  after(() => service.stop());

  function entryCount(): number {
    const url = service.env['KEYSMITH_DATABASE_URL'];
    if (url !== undefined && url !== '') return Number(psql(url, 'SELECT count(*) FROM registration_entries').trim());
    const db = new Database(service.paths.database, { readonly: true, fileMustExist: true });
    try {
      return (db.prepare('SELECT count(*) AS n FROM registration_entries').get() as { n: number }).n;
    } finally {
      db.close();
    }
  }

  function open(options: { session?: Uint8Array; earlyData?: Buffer; port?: number } = {}): TlsSocket {
    return connect({
      host: '127.0.0.1',
      port: options.port ?? service.port,
      servername: 'localhost',
      ca,
      cert,
      key,
      ALPNProtocols: ['http/1.1'],
      ...(options.session === undefined ? {} : { session: options.session }),
      ...(options.earlyData === undefined ? {} : { earlyData: options.earlyData }),
    });
  }

  /** An admin session whose ticket allows early data. */
  async function session(): Promise<Uint8Array> {
    const socket = open();
    try {
      const [s] = (await once(socket, 'session')) as [Uint8Array];
      assert.equal(decodeClientSession(s).maxEarlyData, MAX_EARLY_DATA);
      return s;
    } finally {
      socket.destroy();
    }
  }

  async function metric(name: string, labels = ''): Promise<number> {
    const socket = open();
    try {
      const reader = new HttpResponseReader(socket);
      socket.write(get('/metrics'));
      const text = (await reader.next()).body;
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
      return line === undefined ? 0 : Number(line.split(' ')[1]);
    } finally {
      socket.destroy();
    }
  }

  it('a POST in early data gets 425 and creates no registration entry; sent after the handshake it does (RFC 8470 §5.2)', async () => {
    const before = entryCount();
    const socket = open({ session: await session(), earlyData: Buffer.from(post('/v1/entries', entryBody(1))) });
    try {
      const reader = new HttpResponseReader(socket);
      const first = await reader.next();
      assert.equal(socket.earlyDataAccepted, true);
      assert.equal(first.status, 425);
      assert.equal(entryCount(), before, 'the early POST was not executed');
      if (!socket.isSecure) await once(socket, 'secure');
      socket.write(post('/v1/entries', entryBody(1)));
      assert.equal((await reader.next()).status, 201);
      assert.equal(entryCount(), before + 1);
    } finally {
      socket.destroy();
    }
  });

  it('a POST whose head is in early data and whose body ends in 1-RTT data gets 425 and is not executed', async () => {
    const before = entryCount();
    const whole = post('/v1/entries', entryBody(2));
    const cut = whole.indexOf('\r\n\r\n') + 4 + 5;
    const socket = open({ session: await session(), earlyData: Buffer.from(whole.slice(0, cut)) });
    try {
      const reader = new HttpResponseReader(socket);
      if (!socket.isSecure) await once(socket, 'secure');
      assert.equal(socket.earlyDataAccepted, true);
      socket.write(whole.slice(cut));
      assert.equal((await reader.next()).status, 425);
      assert.equal(entryCount(), before, 'the split POST was not executed');
    } finally {
      socket.destroy();
    }
  });

  it('early data that is not a whole request, finished after the handshake, is answered once (GET /healthz)', async () => {
    const whole = get('/healthz');
    const socket = open({ session: await session(), earlyData: Buffer.from(whole.slice(0, 7)) });
    try {
      const reader = new HttpResponseReader(socket);
      if (!socket.isSecure) await once(socket, 'secure');
      assert.equal(socket.earlyDataAccepted, true);
      socket.write(whole.slice(7));
      assert.equal((await reader.next()).status, 200);
    } finally {
      socket.destroy();
    }
    await service.assertHealthy('after a request cut in early data');
  });

  it('early data past max_early_data_size ends the connection (RFC 8446 §4.2.10: unexpected_message)', async () => {
    // Our client keeps to the ticket's limit, so the ticket is told a bigger one: the server still holds its own.
    const raised = encodeClientSession({ ...decodeClientSession(await session()), maxEarlyData: 1 << 20 });
    const before = await metric('keysmith_tls_early_data_total', '{result="accepted",reason=""}');
    // Pipelined GETs, so the HTTP side keeps reading (junk would get a 400 and a close before the excess is read).
    const gets = get('/healthz').repeat(Math.ceil((MAX_EARLY_DATA + 4_096) / get('/healthz').length));
    const socket = open({ session: raised, earlyData: Buffer.from(gets) });
    const [err] = (await once(socket, 'error')) as [Error];
    socket.destroy();
    assert.equal(socket.earlyDataAccepted, true);
    assert.ok(err instanceof TlsAlertError);
    assert.equal(err.alert, 'unexpected_message');
    assert.equal(err.isRemote, true, 'the server sent it');
    assert.equal(await metric('keysmith_tls_early_data_total', '{result="accepted",reason=""}'), before + 1);
    await service.assertHealthy('after oversized early data');
  });

  it(`${REPLAYS} replays of one captured 0-RTT ClientHello are all refused, and RSS stays within ${REPLAY_RSS_BOUND / 1024 / 1024} MiB`, async () => {
    // Capture what our client sends for a 0-RTT GET through a relay.
    const sent: Buffer[] = [];
    const relay = createNetServer((client: Socket) => {
      const upstream = netConnect(service.port, '127.0.0.1');
      client.on('data', (chunk: Buffer) => sent.push(Buffer.from(chunk)));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const socket = open({ session: await session(), earlyData: Buffer.from(get('/healthz')), port: portOf(relay.address()) });
      const reader = new HttpResponseReader(socket);
      assert.equal((await reader.next()).status, 200);
      assert.equal(socket.earlyDataAccepted, true);
      socket.destroy();
    } finally {
      relay.close();
    }
    const captured = throughFirstEarlyRecord(Buffer.concat(sent));

    const AGE = '{result="rejected",reason="ticket_age"}';
    const refusedBefore = await metric('keysmith_tls_early_data_replays_total');
    const agedBefore = await metric('keysmith_tls_early_data_total', AGE);
    const acceptedBefore = await metric('keysmith_tls_early_data_total', '{result="accepted",reason=""}');
    const rssBefore = await service.rssBytes();
    const sources = new SourceAddresses();
    let answered = 0;
    for (let done = 0; done < REPLAYS;) {
      const batch = Math.min(32, REPLAYS - done);
      const outcomes = await Promise.all(
        Array.from({ length: batch }, () => rawTcp(service.port, sources.take(), captured, { idleMs: 20, timeoutMs: 2_000 })),
      );
      answered += outcomes.filter((o) => o.body[0] === 22).length;
      done += batch;
    }
    const rssAfter = await service.rssBytes();
    const refused = (await metric('keysmith_tls_early_data_replays_total')) - refusedBefore;
    // §8.2-8.3: within the ticket-age window the strike register refuses a copy; past it the age check does.
    const aged = (await metric('keysmith_tls_early_data_total', AGE)) - agedBefore;
    console.log(
      `replay flood: ${REPLAYS} sent, ${answered} answered with a ServerHello, ${refused} refused as replays, ${aged} for their ticket age, ` +
        `RSS ${(rssBefore / 1048576).toFixed(1)} -> ${(rssAfter / 1048576).toFixed(1)} MiB`,
    );
    assert.equal(answered, REPLAYS, 'every replay got a ServerHello (a full handshake without its early data)');
    assert.equal(
      await metric('keysmith_tls_early_data_total', '{result="accepted",reason=""}'),
      acceptedBefore,
      'no replay had its early data accepted',
    );
    assert.equal(refused + aged, REPLAYS, 'every replay was refused, as a replay or for its age');
    assert.ok(rssAfter - rssBefore <= REPLAY_RSS_BOUND, `RSS grew by ${rssAfter - rssBefore} bytes`);
    await service.assertHealthy('after the replay flood');
  });
});
