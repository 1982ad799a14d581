import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { serve, type Served } from '../integration/http/harness.js';
import { portOf, startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import { S_CLIENT_HANDSHAKE_DONE, sClientArgs, Scope, skipUnlessTool } from './harness.js';

/**
 * 0-RTT (RFC 8446 §2.3, §4.2.10, §8; RFC 8470) against `openssl s_client`
 * on the real app (buildApp + createHttpsServer over our engine):
 * `-sess_out` saves a ticket that allows early data, `-sess_in ... -early_data`
 * sends a request in 0-RTT. A GET on a public read route is served from
 * early data; a POST is answered 425; the same ClientHello and early data
 * captured and sent again has its early data refused by the strike register.
 */

const EARLY_DATA = 16_384;

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function httpRequest(method: string, path: string): string {
  return `${method} ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
}

/** A relay that writes down what the client sent, so its ClientHello and 0-RTT can be sent again. */
async function recordingRelay(targetPort: number, scope: Scope): Promise<{ port: number; sent: Buffer[] }> {
  const sent: Buffer[] = [];
  const open = new Set<Socket>();
  const relay: NetServer = createNetServer((client: Socket) => {
    const upstream = netConnect(targetPort, '127.0.0.1');
    open.add(client).add(upstream);
    client.on('data', (chunk: Buffer) => sent.push(Buffer.from(chunk)));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  scope.defer(() => {
    for (const socket of open) socket.destroy();
    return new Promise<void>((resolve) => relay.close(() => resolve()));
  });
  return { port: portOf(relay.address()), sent };
}

async function metricValue(served: Served, name: string, labels: string): Promise<number> {
  const text = await served.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

describe('0-RTT with openssl s_client on the app', skipUnlessTool('openssl'), () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  async function app(): Promise<Served> {
    const served = await serve({ tls: { maxEarlyData: EARLY_DATA } });
    scope.defer(() => served.close());
    return served;
  }

  function sClient(port: number, ...extra: string[]): ThirdPartyProcess {
    return scope.process(startProcess('openssl', sClientArgs(port, ...extra)));
  }

  /** A first, full handshake whose ticket (with early_data, RFC 8446 §4.6.1) s_client saves. */
  async function saveSession(port: number, dir: string): Promise<string> {
    const sessionFile = join(dir, 'session.pem');
    const first = sClient(port, '-sess_out', sessionFile);
    // s_client writes the session file as the ticket arrives (its stdout may sit in a buffer until it exits).
    for (let i = 0; i < 500 && !(existsSync(sessionFile) && statSync(sessionFile).size > 0); i++) await delay(10);
    first.endInput();
    await first.waitForExit();
    return sessionFile;
  }

  async function sendEarly(port: number, sessionFile: string, earlyFile: string): Promise<ThirdPartyProcess> {
    const client = sClient(port, '-sess_in', sessionFile, '-early_data', earlyFile);
    assert.equal((await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' }))[1], 'Reused');
    return client;
  }

  it('serves a GET /healthz sent as early data, before the handshake ends (RFC 8446 §2.3)', async () => {
    const served = await app();
    const dir = await scope.tempDir();
    const sessionFile = await saveSession(served.port, dir);
    const earlyFile = join(dir, 'early.txt');
    writeFileSync(earlyFile, httpRequest('GET', '/healthz'));

    const client = await sendEarly(served.port, sessionFile, earlyFile);
    await client.waitFor(/^Early data was accepted$/m, { stream: 'stdout' });
    await client.waitFor(/^HTTP\/1\.1 200 OK\r?$/m, { stream: 'stdout' });
    client.endInput();
    await client.waitForExit();
    assert.equal(await metricValue(served, 'keysmith_tls_early_data_total', '{result="accepted",reason=""}'), 1);
    assert.equal(await metricValue(served, 'keysmith_http_requests_total', '{method="GET",route="/healthz",status="200"}'), 1);
  });

  it('answers a POST sent as early data with 425 Too Early and a problem document (RFC 8470 §5.2)', async () => {
    const served = await app();
    const dir = await scope.tempDir();
    const sessionFile = await saveSession(served.port, dir);
    const earlyFile = join(dir, 'early.txt');
    writeFileSync(earlyFile, httpRequest('POST', '/v1/entries'));

    const client = await sendEarly(served.port, sessionFile, earlyFile);
    await client.waitFor(/^Early data was accepted$/m, { stream: 'stdout' });
    await client.waitFor(/^HTTP\/1\.1 425 Too Early\r?$/m, { stream: 'stdout' });
    await client.waitFor(/"type":"https:\/\/keysmith\.dev\/problems\/too-early"/, { stream: 'stdout' });
    client.endInput();
    await client.waitForExit();
  });

  it('refuses the early data of a replayed ClientHello, and counts the replay (RFC 8446 §8.2)', async () => {
    const served = await app();
    const dir = await scope.tempDir();
    const sessionFile = await saveSession(served.port, dir);
    const earlyFile = join(dir, 'early.txt');
    writeFileSync(earlyFile, httpRequest('GET', '/healthz'));
    const relay = await recordingRelay(served.port, scope);

    const client = await sendEarly(relay.port, sessionFile, earlyFile);
    await client.waitFor(/^Early data was accepted$/m, { stream: 'stdout' });
    await client.waitFor(/^HTTP\/1\.1 200 OK\r?$/m, { stream: 'stdout' });
    client.endInput();
    await client.waitForExit();

    // The attacker's copy: the same ClientHello and 0-RTT records, byte for byte, on a new connection.
    const replay = scope.socket(netConnect(served.port, '127.0.0.1'));
    const answer: Buffer[] = [];
    replay.on('data', (chunk: Buffer) => answer.push(chunk));
    replay.on('error', () => undefined);
    replay.write(Buffer.concat(relay.sent));
    for (let i = 0; i < 200 && (await metricValue(served, 'keysmith_tls_early_data_replays_total', '')) === 0; i++) {
      await delay(10);
    }
    assert.equal(await metricValue(served, 'keysmith_tls_early_data_replays_total', ''), 1);
    assert.equal(await metricValue(served, 'keysmith_tls_early_data_total', '{result="rejected",reason="replay"}'), 1);
    // The server answered with its flight (a resumption it cannot finish), and served the GET once only.
    assert.equal(answer[0]?.[0], 0x16, 'a ServerHello record');
    assert.equal(await metricValue(served, 'keysmith_http_requests_total', '{method="GET",route="/healthz",status="200"}'), 1);
  });
});
