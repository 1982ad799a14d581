import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostileService } from './harness.js';
import { msUntilClosed, openTcp, openTls, readToEnd, sleep } from './transport-peers.js';

/**
 * Timeouts fire within a second or two of their setting
 * (node:http used to check them every 30 s, so a 20 s header timeout held
 * a slow connection ~45 s), and `maxConnections` refuses connections past
 * the cap at once, handshakes included.
 */
const HANDSHAKE_MS = 2_000;
const HEADERS_MS = 3_000;
const REQUEST_MS = 5_000;
const KEEP_ALIVE_MS = 2_000;
/** How late a timeout may fire: node:http checks every second; Node adds 1 s to the keep-alive timer. */
const LATE_MS = 2_000;

/** Writes `parts` one by one, `everyMs` apart, while the socket is open. */
async function trickle(
  socket: { write(data: string): boolean; readonly destroyed: boolean },
  parts: readonly string[],
  everyMs: number,
): Promise<void> {
  for (const part of parts) {
    if (socket.destroyed) return;
    socket.write(part);
    await sleep(everyMs);
  }
}

describe('listener timeouts', { timeout: 120_000 }, () => {
  let service: HostileService;
  let ca: string;
  before(async () => {
    service = await HostileService.start({
      env: {
        KEYSMITH_HANDSHAKE_TIMEOUT: `${HANDSHAKE_MS / 1000}s`,
        KEYSMITH_HEADERS_TIMEOUT: `${HEADERS_MS / 1000}s`,
        KEYSMITH_REQUEST_TIMEOUT: `${REQUEST_MS / 1000}s`,
        KEYSMITH_KEEP_ALIVE_TIMEOUT: `${KEEP_ALIVE_MS / 1000}s`,
      },
    });
    ca = await service.bundlePem();
  });
  after(async () => {
    await service.stop();
  });

  it('a header trickle (slowloris) is closed within headersTimeout + 2 s', async () => {
    const socket = await openTls(service.port, ca);
    const closed = msUntilClosed(socket, 30_000);
    const headers = ['GET /healthz HTTP/1.1\r\n', ...Array.from({ length: 60 }, (_, i) => `X-Slow-${i}: 1\r\n`)];
    void trickle(socket, headers, 500);
    const ms = await closed;
    assert.ok(ms >= HEADERS_MS - 500 && ms <= HEADERS_MS + LATE_MS, `closed after ${ms.toFixed(0)} ms; headersTimeout ${HEADERS_MS} ms`);
  });

  it('a body trickle is closed within requestTimeout + 2 s', async () => {
    const socket = await openTls(service.port, ca);
    const closed = msUntilClosed(socket, 30_000);
    const head = 'POST /ocsp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/ocsp-request\r\nContent-Length: 1000\r\n\r\n';
    void trickle(socket, [head, ...Array.from({ length: 60 }, () => '0')], 500);
    const ms = await closed;
    assert.ok(ms >= REQUEST_MS - 500 && ms <= REQUEST_MS + LATE_MS, `closed after ${ms.toFixed(0)} ms; requestTimeout ${REQUEST_MS} ms`);
  });

  it('an idle keep-alive connection is closed within keepAliveTimeout + 2 s', async () => {
    const socket = await openTls(service.port, ca);
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (part: string) => (text += part));
    socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    while (!text.includes('"status":"ok"')) await sleep(10);
    const ms = await msUntilClosed(socket, 30_000);
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.ok(
      ms >= KEEP_ALIVE_MS - 100 && ms <= KEEP_ALIVE_MS + LATE_MS,
      `closed after ${ms.toFixed(0)} ms; keepAliveTimeout ${KEEP_ALIVE_MS} ms`,
    );
  });

  it('a TCP connection that never starts its handshake is closed within handshakeTimeout + 1 s', async () => {
    const socket = await openTcp(service.port);
    const ms = await msUntilClosed(socket, 30_000);
    assert.ok(
      ms >= HANDSHAKE_MS - 100 && ms <= HANDSHAKE_MS + 1_000,
      `closed after ${ms.toFixed(0)} ms; handshakeTimeout ${HANDSHAKE_MS} ms`,
    );
  });
});

describe('maxConnections', { timeout: 120_000 }, () => {
  const MAX = 12;
  let service: HostileService;
  before(async () => {
    service = await HostileService.start({ env: { KEYSMITH_MAX_CONNECTIONS: String(MAX) } });
  });
  after(async () => {
    await service.stop();
  });

  it('refuses connections past the cap at once, counts them, and serves again once connections close', async () => {
    const ca = await service.bundlePem();
    // A monitor's keep-alive connection made before the cap is reached keeps being served.
    const probe = await service.startLatencyProbe(50);
    await sleep(300);
    // TCP connections that never start a handshake count: the cap is on file descriptors, not on TLS sessions.
    const held = await Promise.all(Array.from({ length: MAX - 1 }, () => openTcp(service.port)));
    await sleep(300);
    const extra = await Promise.all(Array.from({ length: 4 }, () => openTcp(service.port)));
    const refusedMs = await Promise.all(extra.map((socket) => msUntilClosed(socket, 5_000)));
    for (const ms of refusedMs) assert.ok(ms < 1_000, `a connection past the cap stayed open ${ms.toFixed(0)} ms`);
    const refusedHealth = await service.healthz(3_000);
    assert.equal(refusedHealth.status, 'error', 'a new /healthz connection past the cap is refused too');
    const report = await probe.stop();
    assert.deepEqual(report.failures, [], `the monitor's established connection: ${report.describe()}`);
    for (const socket of held) socket.destroy();
    await sleep(300);
    await service.assertHealthy('once the held connections closed');
    const metrics = await readToEnd(
      await openTls(service.port, ca).then((s) => (s.end('GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'), s)),
      5_000,
    );
    const refused = /^keysmith_connections_refused_total (\d+)$/m.exec(metrics)?.[1];
    assert.equal(refused, '5', 'four TCP connections and one /healthz were refused');
  });
});
