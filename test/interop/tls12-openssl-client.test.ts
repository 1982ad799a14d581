import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TlsAlertError, type TlsServerOptions } from '../../src/tls/index.js';
import { startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import {
  alertOf,
  CLIENT_SPIFFE_ID,
  clientCertArgs,
  echoThrough,
  fixture,
  handshakeMessages,
  parseMsgTrace,
  sClientArgs,
  Scope,
  skipUnlessTool,
  type EchoServer,
  serveEcho,
  finishClient,
} from './harness.js';

/**
 * Our server speaking TLS 1.2 (RFC 5246) to openssl s_client -tls1_2: every
 * suite with the key it needs, mutual TLS, resumption with RFC 5077 tickets,
 * the downgrade sentinel and refused renegotiation, over real processes.
 */

/** s_client's summary line after a TLS 1.2 handshake. */
const DONE_12 = /^(New|Reused), TLSv1\.2, Cipher is (\S+)$/m;
/** RFC 8446 §4.1.3: the last 8 bytes of ServerHello.random when a TLS 1.3 server negotiates TLS 1.2. */
const DOWNGRADE_TLS12 = '444f574e47524401';

const SUITES: readonly { readonly openssl: string; readonly key: 'server' | 'server-rsa' }[] = [
  { openssl: 'ECDHE-ECDSA-AES128-GCM-SHA256', key: 'server' },
  { openssl: 'ECDHE-ECDSA-AES256-GCM-SHA384', key: 'server' },
  { openssl: 'ECDHE-ECDSA-CHACHA20-POLY1305', key: 'server' },
  { openssl: 'ECDHE-RSA-AES128-GCM-SHA256', key: 'server-rsa' },
  { openssl: 'ECDHE-RSA-AES256-GCM-SHA384', key: 'server-rsa' },
  { openssl: 'ECDHE-RSA-CHACHA20-POLY1305', key: 'server-rsa' },
];

describe('our server with openssl s_client -tls1_2', skipUnlessTool('openssl'), () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  const serve = (options: Partial<TlsServerOptions> = {}): Promise<EchoServer> => serveEcho(scope, options);

  function sClient(port: number, ...extra: string[]): ThirdPartyProcess {
    return scope.process(startProcess('openssl', sClientArgs(port, '-tls1_2', ...extra)));
  }

  const finish = finishClient;

  for (const { openssl, key } of SUITES) {
    it(`completes a mutual-TLS 1.2 handshake with ${openssl} (${key} key) and echoes data`, async () => {
      const server = await serve({ key: fixture(`${key}.key`), cert: fixture(`${key}-chain.pem`) });
      const client = sClient(server.port, ...clientCertArgs(), '-cipher', openssl);
      const done = await client.waitFor(DONE_12, { stream: 'stdout' });
      assert.equal(done[0], `New, TLSv1.2, Cipher is ${openssl}`);
      await client.waitFor(/^ {4}Verify return code: 0 \(ok\)$/m, { stream: 'stdout' });
      assert.match(client.stdout, /Extended master secret: yes/);
      assert.match(client.stdout, /Secure Renegotiation IS supported/);
      const socket = await server.nextConnection();
      assert.equal(socket.protocol, 'TLSv1.2');
      assert.equal(socket.cipher?.name, openssl);
      assert.deepEqual(socket.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
      await echoThrough(client, `suite-${openssl}`);
      await finish(client);
    });

    it(`completes a TLS 1.2 handshake with ${openssl} without a client certificate (clientAuth none)`, async () => {
      const server = await serve({ key: fixture(`${key}.key`), cert: fixture(`${key}-chain.pem`), clientAuth: 'none' });
      const client = sClient(server.port, '-cipher', openssl, '-msg');
      assert.equal((await client.waitFor(DONE_12, { stream: 'stdout' }))[2], openssl);
      const socket = await server.nextConnection();
      assert.equal(socket.peerCertificates.length, 0);
      const trace = parseMsgTrace(client.stdout);
      assert.equal(handshakeMessages(trace, 'CertificateRequest', 'received').length, 0);
      await echoThrough(client, 'anonymous');
      await finish(client);
    });
  }

  it('ends ServerHello.random with the TLS 1.2 downgrade sentinel, and not when maxVersion is TLSv1.2 (RFC 8446 §4.1.3)', async () => {
    for (const [maxVersion, expectSentinel] of [
      ['TLSv1.3', true],
      ['TLSv1.2', false],
    ] as const) {
      const server = await serve({ clientAuth: 'none', maxVersion });
      const client = sClient(server.port, '-msg');
      await client.waitFor(DONE_12, { stream: 'stdout' });
      const [hello] = handshakeMessages(parseMsgTrace(client.stdout), 'ServerHello', 'received');
      assert.ok(hello !== undefined, client.describeOutput());
      // header(4) + version(2) + random(32): the sentinel is random[24..32].
      assert.equal(hello.bytes.subarray(30, 38).toString('hex') === DOWNGRADE_TLS12, expectSentinel, maxVersion);
      await finish(client);
    }
  });

  it('accepts an empty client Certificate under clientAuth request, and refuses it under require with handshake_failure', async () => {
    const optional = await serve({ clientAuth: 'request' });
    const anonymous = sClient(optional.port);
    await anonymous.waitFor(DONE_12, { stream: 'stdout' });
    assert.equal((await optional.nextConnection()).peerCertificates.length, 0);
    await finish(anonymous);

    const required = await serve({ clientAuth: 'require' });
    const refused = sClient(required.port);
    const err = await required.nextClientError();
    assert.equal(alertOf(err), 'handshake_failure', String(err));
    await refused.waitFor('SSL alert number 40', { stream: 'stderr' });
  });

  it('resumes with the RFC 5077 ticket s_client saved (-sess_out/-sess_in), keeping the client identity', async () => {
    const server = await serve();
    const sessionFile = join(await scope.tempDir(), 'session.pem');
    const first = sClient(server.port, ...clientCertArgs(), '-sess_out', sessionFile);
    assert.equal((await first.waitFor(DONE_12, { stream: 'stdout' }))[1], 'New');
    const full = await server.nextConnection();
    assert.equal(full.isResumed, false);
    await echoThrough(first, 'first');
    await finish(first);
    assert.ok(existsSync(sessionFile), 's_client saved the session');

    const second = sClient(server.port, ...clientCertArgs(), '-sess_in', sessionFile);
    const done = await second.waitFor(DONE_12, { stream: 'stdout' });
    assert.equal(done[1], 'Reused', second.describeOutput());
    const resumed = await server.nextConnection();
    assert.equal(resumed.isResumed, true);
    assert.equal(resumed.protocol, 'TLSv1.2');
    assert.equal(resumed.peerCertificates[0]?.fingerprint256, full.peerCertificates[0]?.fingerprint256);
    assert.deepEqual(resumed.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
    await echoThrough(second, 'resumed');
    await finish(second);
  });

  it('never resumes a TLS 1.2 ticket as TLS 1.3: the same server gives a full TLS 1.3 handshake', async () => {
    const server = await serve();
    const sessionFile = join(await scope.tempDir(), 'session.pem');
    const first = sClient(server.port, ...clientCertArgs(), '-sess_out', sessionFile);
    await first.waitFor(DONE_12, { stream: 'stdout' });
    await finish(first);
    const second = scope.process(startProcess('openssl', sClientArgs(server.port, ...clientCertArgs(), '-sess_in', sessionFile)));
    assert.match((await second.waitFor(/^(New|Reused), (TLSv1\.[23]),/m, { stream: 'stdout' }))[0], /^New, TLSv1\.3,/);
    await finish(second);
  });

  it('refuses renegotiation (s_client R) with no_renegotiation; the connection ends and the server stays up (RFC 5746 §4.4)', async () => {
    const server = await serve();
    const client = sClient(server.port, ...clientCertArgs());
    await client.waitFor(DONE_12, { stream: 'stdout' });
    const socket = await server.nextConnection();
    const closed = new Promise<unknown>((resolve) => socket.once('error', resolve));
    await client.write('R\n');
    // A warning-level no_renegotiation (RFC 5246 §7.2.2) ends s_client's renegotiation with "no renegotiation".
    await client.waitFor(/no renegotiation/, { stream: 'stderr' });
    const err = await closed;
    assert.ok(err instanceof TlsAlertError && err.alert === 'no_renegotiation' && !err.isRemote, String(err));
    const result = await client.waitForExit();
    assert.notEqual(result.code, 0);
    const next = sClient(server.port, ...clientCertArgs());
    await next.waitFor(DONE_12, { stream: 'stdout' });
    await echoThrough(next, 'still-up');
    await finish(next);
  });

  it('answers a CBC-only and an RSA-key-transport-only offer with handshake_failure (no suite in common)', async () => {
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'AES128-GCM-SHA256']) {
      const server = await serve();
      const client = sClient(server.port, ...clientCertArgs(), '-cipher', cipher);
      const err = await server.nextClientError();
      assert.equal(alertOf(err), 'handshake_failure', `${cipher}: ${String(err)}`);
      await client.waitFor('SSL alert number 40', { stream: 'stderr' });
    }
  });
});
