import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TlsAlertError, type AlertName, type CipherSuiteName, type TlsServerOptions } from '../../src/tls/index.js';
import { startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import {
  alertOf,
  CLIENT_SPIFFE_ID,
  clientCertArgs,
  echoThrough,
  fixture,
  fixturePath,
  handshakeMessages,
  isHelloRetryRequest,
  parseMsgTrace,
  S_CLIENT_HANDSHAKE_DONE,
  sClientArgs,
  Scope,
  serverHelloExtensions,
  skipUnlessTool,
  withMaxEarlyData,
  type EchoServer,
  serveEcho,
  finishClient,
} from './harness.js';

/**
 * Our server against `openssl s_client` (OpenSSL 3.0). s_client runs
 * interactively: a line on its stdin is sent as data (or, for "K"/"k", a
 * KeyUpdate), and our server echoes what it reads, so every test also checks
 * that application data flows both ways after the handshake.
 */

const KEY_UPDATE_REQUESTED = Buffer.from('1800000101', 'hex');
const KEY_UPDATE_NOT_REQUESTED = Buffer.from('1800000100', 'hex');
/** RFC 8446 §4.2.8: key_share (51) in a HelloRetryRequest carries only the selected group. */
const KEY_SHARE = 51;

describe('our server with openssl s_client', skipUnlessTool('openssl'), () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  const serve = (options: Partial<TlsServerOptions> = {}): Promise<EchoServer> => serveEcho(scope, options);

  function sClient(port: number, ...extra: string[]): ThirdPartyProcess {
    return scope.process(startProcess('openssl', sClientArgs(port, ...extra)));
  }

  const finish = finishClient;

  /**
   * A handshake that our server fails: s_client stays connected (stdin open)
   * until it reads the alert, so its output can be checked too.
   */
  async function expectServerAlert(server: EchoServer, client: ThirdPartyProcess, alert: AlertName, code: number): Promise<void> {
    const err = await server.nextClientError();
    assert.equal(alertOf(err), alert, String(err));
    assert.ok(err instanceof TlsAlertError && !err.isRemote, 'the alert is ours, not the peer’s');
    await client.waitFor(`SSL alert number ${code}`, { stream: 'stderr' });
    assert.equal(server.connections.length, 0, 'no connection completed');
  }

  describe('cipher suites', () => {
    const suites: readonly CipherSuiteName[] = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
    for (const suite of suites) {
      it(`completes a mutual-TLS handshake with ${suite} and echoes data (RFC 8446 §B.4)`, async () => {
        const server = await serve();
        const client = sClient(server.port, ...clientCertArgs(), '-ciphersuites', suite);
        const done = await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
        assert.equal(done[1], 'New');
        assert.equal(done[2], suite);
        const socket = await server.nextConnection();
        assert.equal(socket.cipher?.standardName, suite);
        assert.equal(socket.protocol, 'TLSv1.3');
        assert.deepEqual(socket.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
        assert.match(client.stdout, /^Verification: OK$/m);
        await echoThrough(client, `suite-ping-${suite}`);
        await finish(client);
        assert.equal(server.received(socket), `suite-ping-${suite}\n`);
      });
    }
  });

  describe('key exchange groups', () => {
    const groups = [
      { openssl: 'X25519', temp: 'X25519, 253 bits' },
      { openssl: 'P-256', temp: 'ECDH, prime256v1, 256 bits' },
      { openssl: 'P-384', temp: 'ECDH, secp384r1, 384 bits' },
      { openssl: 'X448', temp: 'X448, 448 bits' },
      { openssl: 'P-521', temp: 'ECDH, secp521r1, 521 bits' },
      { openssl: 'ffdhe2048', temp: 'DH, 2048 bits' },
      { openssl: 'ffdhe3072', temp: 'DH, 3072 bits' },
      { openssl: 'ffdhe4096', temp: 'DH, 4096 bits' },
    ] as const;
    for (const group of groups) {
      it(`completes a mutual-TLS handshake over ${group.openssl} and echoes data (RFC 8446 §4.2.7)`, async () => {
        const server = await serve();
        const client = sClient(server.port, ...clientCertArgs(), '-groups', group.openssl);
        await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
        assert.ok(client.stdout.includes(`Server Temp Key: ${group.temp}`), client.describeOutput());
        const socket = await server.nextConnection();
        await echoThrough(client, `group-ping-${group.openssl}`);
        await finish(client);
        assert.equal(server.received(socket), `group-ping-${group.openssl}\n`);
      });
    }
  });

  it('sends a HelloRetryRequest for x25519 when the client’s only key share is P-256, then completes (RFC 8446 §4.1.4)', async () => {
    const server = await serve({ groups: ['x25519'] });
    const client = sClient(server.port, ...clientCertArgs(), '-groups', 'P-256:X25519', '-msg');
    await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
    const socket = await server.nextConnection();
    await echoThrough(client, 'after-retry');
    await finish(client);

    const trace = parseMsgTrace(client.stdout);
    const serverHellos = handshakeMessages(trace, 'ServerHello', 'received');
    const clientHellos = handshakeMessages(trace, 'ClientHello', 'sent');
    assert.equal(clientHellos.length, 2, 'the client sent a second ClientHello');
    assert.equal(serverHellos.length, 2, 'a HelloRetryRequest, then the real ServerHello');
    assert.ok(isHelloRetryRequest(serverHellos[0]!.bytes), 'the first ServerHello carries the HelloRetryRequest random');
    assert.ok(!isHelloRetryRequest(serverHellos[1]!.bytes), 'the second is a real ServerHello');
    assert.deepEqual(serverHelloExtensions(serverHellos[0]!.bytes).get(KEY_SHARE), Buffer.of(0x00, 0x1d), 'the retry asks for x25519');
    assert.ok(client.stdout.includes('Server Temp Key: X25519, 253 bits'));
    assert.equal(server.received(socket), 'after-retry\n');
  });

  it('sends a HelloRetryRequest for x25519 when the client’s share is ffdhe2048 but it lists X25519: the server prefers fast groups (RFC 8446 §4.1.4)', async () => {
    const server = await serve();
    const client = sClient(server.port, ...clientCertArgs(), '-groups', 'ffdhe2048:X25519', '-msg');
    await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
    const socket = await server.nextConnection();
    await echoThrough(client, 'after-ffdhe-retry');
    await finish(client);
    const serverHellos = handshakeMessages(parseMsgTrace(client.stdout), 'ServerHello', 'received');
    assert.ok(isHelloRetryRequest(serverHellos[0]!.bytes));
    assert.deepEqual(serverHelloExtensions(serverHellos[0]!.bytes).get(KEY_SHARE), Buffer.of(0x00, 0x1d));
    assert.ok(client.stdout.includes('Server Temp Key: X25519, 253 bits'));
    assert.equal(server.received(socket), 'after-ffdhe-retry\n');
  });

  it('sends a HelloRetryRequest for ffdhe3072 when the server allows only it and the client’s share is X25519 (RFC 8446 §4.1.4, RFC 7919)', async () => {
    const server = await serve({ groups: ['ffdhe3072'] });
    const client = sClient(server.port, ...clientCertArgs(), '-groups', 'X25519:ffdhe3072', '-msg');
    await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
    await server.nextConnection();
    await echoThrough(client, 'after-retry-3072');
    await finish(client);
    const serverHellos = handshakeMessages(parseMsgTrace(client.stdout), 'ServerHello', 'received');
    assert.deepEqual(serverHelloExtensions(serverHellos[0]!.bytes).get(KEY_SHARE), Buffer.of(0x01, 0x01));
    assert.ok(client.stdout.includes('Server Temp Key: DH, 3072 bits'));
  });

  describe('client authentication', () => {
    it('refuses a handshake without a client certificate with certificate_required (RFC 8446 §4.4.2.4)', async () => {
      const server = await serve({ clientAuth: 'require' });
      const client = sClient(server.port);
      await expectServerAlert(server, client, 'certificate_required', 116);
    });

    it('refuses a client certificate from another CA with unknown_ca (RFC 8446 §4.4.2.4)', async () => {
      const server = await serve({ clientAuth: 'require' });
      const client = sClient(server.port, '-cert', fixturePath('other-client.pem'), '-key', fixturePath('other-client.key'));
      await expectServerAlert(server, client, 'unknown_ca', 48);
    });

    it('refuses an expired client certificate with certificate_expired (RFC 5280 §6.1.3)', async () => {
      const server = await serve({ clientAuth: 'require' });
      const client = sClient(server.port, ...clientCertArgs('expired-client'));
      await expectServerAlert(server, client, 'certificate_expired', 45);
    });

    it('completes without a client certificate when one is only requested, with no peer certificates (RFC 8446 §4.4.2)', async () => {
      const server = await serve({ clientAuth: 'request' });
      const client = sClient(server.port, '-msg');
      await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      const socket = await server.nextConnection();
      assert.deepEqual(socket.peerCertificates, []);
      assert.equal(socket.peer, undefined);
      await echoThrough(client, 'anonymous-ping');
      await finish(client);
      // The server asked (CertificateRequest) and the client answered with an empty Certificate.
      const trace = parseMsgTrace(client.stdout);
      assert.equal(handshakeMessages(trace, 'CertificateRequest', 'received').length, 1);
      assert.deepEqual(handshakeMessages(trace, 'Certificate', 'sent')[0]?.bytes, Buffer.from('0b00000400000000', 'hex'));
    });
  });

  describe('resumption', () => {
    it('resumes with a ticket s_client saved, keeping the peer’s leaf certificate (RFC 8446 §2.2)', async () => {
      const server = await serve();
      const dir = await scope.tempDir();
      const sessionFile = join(dir, 'session.pem');

      const first = sClient(server.port, ...clientCertArgs(), '-sess_out', sessionFile);
      assert.equal((await first.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' }))[1], 'New');
      const full = await server.nextConnection();
      assert.equal(full.isResumed, false);
      await first.waitFor('Post-Handshake New Session Ticket arrived', { stream: 'stdout' });
      await echoThrough(first, 'first-ping');
      await finish(first);
      assert.ok(existsSync(sessionFile), 's_client saved the session');

      const second = sClient(server.port, ...clientCertArgs(), '-sess_in', sessionFile);
      const done = await second.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      assert.equal(done[0], `Reused, TLSv1.3, Cipher is ${done[2]!}`);
      const resumed = await server.nextConnection();
      assert.equal(resumed.isResumed, true);
      assert.equal(resumed.peerCertificates[0]?.fingerprint256, full.peerCertificates[0]?.fingerprint256);
      assert.deepEqual(resumed.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
      await echoThrough(second, 'resumed-ping');
      await finish(second);
    });

    it('falls back to a full handshake for a ticket another server issued (RFC 8446 §4.6.1)', async () => {
      const issuer = await serve();
      const dir = await scope.tempDir();
      const sessionFile = join(dir, 'session.pem');
      const first = sClient(issuer.port, ...clientCertArgs(), '-sess_out', sessionFile);
      await first.waitFor('Post-Handshake New Session Ticket arrived', { stream: 'stdout' });
      await finish(first);

      const stranger = await serve();
      const second = sClient(stranger.port, ...clientCertArgs(), '-sess_in', sessionFile);
      assert.equal((await second.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' }))[1], 'New');
      const socket = await stranger.nextConnection();
      assert.equal(socket.isResumed, false);
      assert.deepEqual(socket.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
      await echoThrough(second, 'full-again');
      await finish(second);
    });
  });

  describe('resumption across the nodes of a cluster (ticketKeyForPeriod)', () => {
    it('resumes on a second server with the same per-period ticket keys, with the ticket s_client saved from the first', async () => {
      const clusterKeys = (period: number): Uint8Array => createHash('sha256').update(`cluster/${period}`).digest();
      const nodeA = await serve({ ticketKeyForPeriod: clusterKeys });
      const nodeB = await serve({ ticketKeyForPeriod: clusterKeys });
      const dir = await scope.tempDir();
      const sessionFile = join(dir, 'session.pem');
      const first = sClient(nodeA.port, ...clientCertArgs(), '-sess_out', sessionFile);
      await first.waitFor('Post-Handshake New Session Ticket arrived', { stream: 'stdout' });
      await finish(first);

      const second = sClient(nodeB.port, ...clientCertArgs(), '-sess_in', sessionFile);
      const done = await second.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      assert.equal(done[0], `Reused, TLSv1.3, Cipher is ${done[2]!}`);
      const resumed = await nodeB.nextConnection();
      assert.equal(resumed.isResumed, true);
      assert.deepEqual(resumed.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
      await echoThrough(second, 'resumed-on-b');
      await finish(second);
    });
  });

  describe('KeyUpdate', () => {
    it('answers a KeyUpdate with update_requested by updating its own key, and data still echoes (RFC 8446 §4.6.3)', async () => {
      const server = await serve();
      const client = sClient(server.port, ...clientCertArgs(), '-msg');
      await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      const socket = await server.nextConnection();
      await echoThrough(client, 'before-update');
      await client.write('K\n');
      await client.waitFor('KEYUPDATE', { stream: 'stderr' });
      await echoThrough(client, 'after-update');
      await echoThrough(client, 'after-update-again');
      await finish(client);

      const trace = parseMsgTrace(client.stdout);
      assert.deepEqual(
        handshakeMessages(trace, 'KeyUpdate', 'sent').map((m) => m.bytes),
        [KEY_UPDATE_REQUESTED],
      );
      assert.deepEqual(
        handshakeMessages(trace, 'KeyUpdate', 'received').map((m) => m.bytes),
        [KEY_UPDATE_NOT_REQUESTED],
        'the server updated its key once and did not ask back',
      );
      assert.equal(server.received(socket), 'before-update\nafter-update\nafter-update-again\n');
    });

    it('takes a KeyUpdate with update_not_requested without answering, and data still echoes (RFC 8446 §4.6.3)', async () => {
      const server = await serve();
      const client = sClient(server.port, ...clientCertArgs(), '-msg');
      await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      const socket = await server.nextConnection();
      await client.write('k\n');
      await client.waitFor('KEYUPDATE', { stream: 'stderr' });
      await echoThrough(client, 'after-quiet-update');
      await finish(client);

      const trace = parseMsgTrace(client.stdout);
      assert.deepEqual(
        handshakeMessages(trace, 'KeyUpdate', 'sent').map((m) => m.bytes),
        [KEY_UPDATE_NOT_REQUESTED],
      );
      assert.deepEqual(handshakeMessages(trace, 'KeyUpdate', 'received'), []);
      assert.equal(server.received(socket), 'after-quiet-update\n');
    });

    it('makes s_client update its key too when our server calls keyUpdate(true) (RFC 8446 §4.6.3)', async () => {
      const server = await serve();
      const client = sClient(server.port, ...clientCertArgs(), '-msg');
      await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      const socket = await server.nextConnection();
      await echoThrough(client, 'before-server-update');
      socket.keyUpdate(true);
      const from = client.offset('stdout');
      socket.write('pushed-under-new-key\n');
      await client.waitFor('pushed-under-new-key\n', { stream: 'stdout', from });
      // OpenSSL sends its own KeyUpdate with its next write.
      await echoThrough(client, 'reply-under-new-keys');
      await finish(client);

      const trace = parseMsgTrace(client.stdout);
      assert.deepEqual(
        handshakeMessages(trace, 'KeyUpdate', 'received').map((m) => m.bytes),
        [KEY_UPDATE_REQUESTED],
      );
      assert.deepEqual(
        handshakeMessages(trace, 'KeyUpdate', 'sent').map((m) => m.bytes),
        [KEY_UPDATE_NOT_REQUESTED],
      );
      assert.equal(server.received(socket), 'before-server-update\nreply-under-new-keys\n');
    });
  });

  describe('0-RTT', () => {
    /** A session s_client saved from a full handshake with `server`. */
    async function saveSession(server: EchoServer, file: string): Promise<void> {
      const first = sClient(server.port, ...clientCertArgs(), '-sess_out', file);
      await first.waitFor('Post-Handshake New Session Ticket arrived', { stream: 'stdout' });
      await echoThrough(first, 'ticket-ping');
      await finish(first);
      await server.nextConnection();
    }

    it('completes without 0-RTT when the ticket did not allow early data (RFC 8446 §4.6.1)', async () => {
      const server = await serve();
      const dir = await scope.tempDir();
      const sessionFile = join(dir, 'session.pem');
      const earlyFile = join(dir, 'early.txt');
      writeFileSync(earlyFile, 'EARLY-UNSENT\n');
      await saveSession(server, sessionFile);

      const client = sClient(server.port, ...clientCertArgs(), '-sess_in', sessionFile, '-early_data', earlyFile);
      assert.equal((await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' }))[1], 'Reused');
      assert.match(client.stdout, /^Early data was not sent$/m);
      const socket = await server.nextConnection();
      await echoThrough(client, 'late-ping');
      await finish(client);
      assert.equal(server.received(socket), 'late-ping\n');
    });

    it('skips rejected 0-RTT data on resumption and serves data sent after the handshake (RFC 8446 §4.2.10)', async () => {
      const server = await serve();
      const dir = await scope.tempDir();
      const sessionFile = join(dir, 'session.pem');
      const earlyFile = join(dir, 'early.txt');
      const earlySession = join(dir, 'session-early.pem');
      writeFileSync(earlyFile, 'EARLY-SKIPPED\n');
      await saveSession(server, sessionFile);
      writeFileSync(earlySession, withMaxEarlyData(readFileSync(sessionFile, 'latin1'), 16384));

      const client = sClient(server.port, ...clientCertArgs(), '-sess_in', earlySession, '-early_data', earlyFile, '-msg');
      assert.equal((await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' }))[1], 'Reused');
      assert.match(client.stdout, /^Early data was rejected$/m);
      const socket = await server.nextConnection();
      assert.equal(socket.isResumed, true);
      await echoThrough(client, 'late-ping');
      await finish(client);

      // s_client really sent a protected 0-RTT record before the ServerHello arrived.
      const trace = parseMsgTrace(client.stdout);
      const firstServerHello = trace.findIndex((m) => m.kind === 'Handshake' && m.name === 'ServerHello');
      const earlyRecords = trace
        .slice(0, firstServerHello)
        .filter((m) => m.direction === 'sent' && m.kind === 'InnerContent' && m.bytes.equals(Buffer.of(23)));
      assert.equal(earlyRecords.length, 1, 'one early application_data record');
      assert.equal(server.received(socket), 'late-ping\n', 'the early data was not delivered');
    });

    it('skips 0-RTT data it cannot decrypt when the ticket is not accepted, after a full handshake (RFC 8446 §4.2.10)', async () => {
      const issuer = await serve();
      const dir = await scope.tempDir();
      const sessionFile = join(dir, 'session.pem');
      const earlyFile = join(dir, 'early.txt');
      const earlySession = join(dir, 'session-early.pem');
      writeFileSync(earlyFile, 'EARLY-UNREADABLE\n');
      await saveSession(issuer, sessionFile);
      writeFileSync(earlySession, withMaxEarlyData(readFileSync(sessionFile, 'latin1'), 16384));

      const stranger = await serve();
      const client = sClient(stranger.port, ...clientCertArgs(), '-sess_in', earlySession, '-early_data', earlyFile);
      assert.equal((await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' }))[1], 'New');
      assert.match(client.stdout, /^Early data was rejected$/m);
      const socket = await stranger.nextConnection();
      assert.equal(socket.isResumed, false);
      await echoThrough(client, 'late-ping');
      await finish(client);
      assert.equal(stranger.received(socket), 'late-ping\n');
    });
  });

  describe('server key types', () => {
    const keys = [
      { name: 'server-p384', signature: 'ECDSA' },
      { name: 'server-ed25519', signature: 'ed25519' },
      { name: 'server-rsa', signature: 'RSA-PSS' },
    ] as const;
    for (const { name, signature } of keys) {
      it(`presents ${name}.pem, which s_client verifies, signing with ${signature} (RFC 8446 §4.4.3)`, async () => {
        const server = await serve({ key: fixture(`${name}.key`), cert: fixture(`${name}-chain.pem`) });
        const client = sClient(server.port, ...clientCertArgs());
        await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
        assert.match(client.stdout, /^Verification: OK$/m);
        assert.match(client.stdout, /^Verify return code: 0 \(ok\)$/m);
        assert.ok(client.stdout.includes(`Peer signature type: ${signature}\n`), client.describeOutput());
        await server.nextConnection();
        await echoThrough(client, `signed-by-${name}`);
        await finish(client);
      });
    }
  });

  it('refuses a TLS 1.2-only client with protocol_version when the server is TLS 1.3-only (RFC 8446 §4.2.1)', async () => {
    const server = await serve({ minVersion: 'TLSv1.3' });
    const client = sClient(server.port, ...clientCertArgs(), '-tls1_2');
    await expectServerAlert(server, client, 'protocol_version', 70);
    const result = await client.waitForExit();
    assert.notEqual(result.code, 0);
  });
});
