import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CipherSuiteName, GroupName, TlsServerOptions } from '../../src/tls/index.js';
import { startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import { CLIENT_SPIFFE_ID, fixture, fixturePath, Scope, skipUnlessTool, type EchoServer, serveEcho } from './harness.js';

/**
 * Our server against GnuTLS's `gnutls-cli` (a second, independent TLS 1.3
 * client). gnutls-cli connects to 127.0.0.1 with SNI and name checks for
 * "localhost" (so the test does not depend on how localhost resolves), sends
 * each stdin line as data and prints what it receives.
 */

const TLS13_ONLY = 'NORMAL:-VERS-ALL:+VERS-TLS1.3';

describe('our server with gnutls-cli', skipUnlessTool('gnutls-cli'), () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  const serve = (options: Partial<TlsServerOptions> = {}): Promise<EchoServer> => serveEcho(scope, options);

  function gnutlsCli(port: number, ...extra: string[]): ThirdPartyProcess {
    const args = [
      '--x509cafile',
      fixturePath('ca.pem'),
      '--x509certfile',
      fixturePath('client-chain.pem'),
      '--x509keyfile',
      fixturePath('client.key'),
      '--sni-hostname',
      'localhost',
      '--verify-hostname',
      'localhost',
      '-p',
      String(port),
      ...extra,
      '127.0.0.1',
    ];
    return scope.process(startProcess('gnutls-cli', args));
  }

  /** Waits for the handshake, sends a line, expects it echoed, then closes stdin and expects exit 0. */
  async function echoAndFinish(client: ThirdPartyProcess, token: string): Promise<void> {
    await client.waitFor('- Simple Client Mode:', { stream: 'stdout' });
    const from = client.offset('stdout');
    await client.write(`${token}\n`);
    await client.waitFor(`${token}\n`, { stream: 'stdout', from });
    client.endInput();
    const result = await client.waitForExit();
    assert.equal(result.code, 0, client.describeOutput());
  }

  /** gnutls-cli's "- Description: (TLS1.3-X.509)-(ECDHE-X25519)-(ECDSA-SECP256R1-SHA256)-(AES-128-GCM)". */
  async function description(client: ThirdPartyProcess): Promise<string> {
    const match = await client.waitFor(/^- Description: (.*)$/m, { stream: 'stdout' });
    return match[1]!;
  }

  it('completes a mutual-TLS handshake with gnutls-cli’s default priorities and echoes data (RFC 8446 §2)', async () => {
    const server = await serve();
    const client = gnutlsCli(server.port);
    await client.waitFor('- Handshake was completed', { stream: 'stdout' });
    assert.match(await description(client), /^\(TLS1\.3-X\.509\)-/);
    assert.match(client.stdout, /- Status: The certificate is trusted\./);
    assert.match(client.stdout, /- Successfully sent 2 certificate\(s\) to server\./);
    const socket = await server.nextConnection();
    assert.deepEqual(socket.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
    await echoAndFinish(client, 'gnutls-default-ping');
    assert.equal(server.received(socket), 'gnutls-default-ping\n');
  });

  it(`completes with --priority ${TLS13_ONLY} and echoes data (RFC 8446 §4.2.1)`, async () => {
    const server = await serve();
    const client = gnutlsCli(server.port, '--priority', TLS13_ONLY);
    await client.waitFor('- Handshake was completed', { stream: 'stdout' });
    assert.match(await description(client), /^\(TLS1\.3-X\.509\)-/);
    const socket = await server.nextConnection();
    await echoAndFinish(client, 'gnutls-tls13-ping');
    assert.equal(server.received(socket), 'gnutls-tls13-ping\n');
  });

  describe('cipher suites', () => {
    const suites: readonly { gnutls: string; ours: CipherSuiteName }[] = [
      { gnutls: 'AES-128-GCM', ours: 'TLS_AES_128_GCM_SHA256' },
      { gnutls: 'AES-256-GCM', ours: 'TLS_AES_256_GCM_SHA384' },
      { gnutls: 'CHACHA20-POLY1305', ours: 'TLS_CHACHA20_POLY1305_SHA256' },
    ];
    for (const suite of suites) {
      it(`completes with ${suite.ours} when gnutls-cli allows only ${suite.gnutls} (RFC 8446 §B.4)`, async () => {
        const server = await serve();
        const client = gnutlsCli(server.port, '--priority', `${TLS13_ONLY}:-CIPHER-ALL:+${suite.gnutls}`);
        assert.ok((await description(client)).endsWith(`-(${suite.gnutls})`));
        const socket = await server.nextConnection();
        assert.equal(socket.cipher?.standardName, suite.ours);
        await echoAndFinish(client, `gnutls-suite-${suite.gnutls}`);
      });
    }
  });

  describe('key exchange groups', () => {
    const groups = ['X25519', 'SECP256R1', 'SECP384R1', 'X448', 'SECP521R1', 'FFDHE2048', 'FFDHE3072', 'FFDHE4096'] as const;
    for (const group of groups) {
      it(`completes over ${group} when gnutls-cli allows only it (RFC 8446 §4.2.7, RFC 7919)`, async () => {
        const server = await serve();
        const client = gnutlsCli(server.port, '--priority', `${TLS13_ONLY}:-GROUP-ALL:+GROUP-${group}`);
        const kind = group.startsWith('FFDHE') ? 'DHE' : 'ECDHE';
        assert.ok((await description(client)).includes(`-(${kind}-${group})-`));
        await server.nextConnection();
        await echoAndFinish(client, `gnutls-group-${group}`);
      });
    }
  });

  it('sends a HelloRetryRequest for secp384r1 when gnutls-cli’s only share is SECP256R1, then completes (RFC 8446 §4.1.4)', async () => {
    const onlyP384: readonly GroupName[] = ['secp384r1'];
    const server = await serve({ groups: onlyP384 });
    // -d 4 logs the retry; gnutls sends one share for SECP256R1 and only lists SECP384R1.
    const client = gnutlsCli(server.port, '-d', '4', '--priority', `${TLS13_ONLY}:-GROUP-ALL:+GROUP-SECP256R1:+GROUP-SECP384R1`);
    assert.ok((await description(client)).includes('-(ECDHE-SECP384R1)-'));
    assert.match(client.stderr, /HELLO RETRY REQUEST \(\d+\) was received/);
    assert.match(client.stderr, /sending key share for SECP384R1/);
    await server.nextConnection();
    await echoAndFinish(client, 'gnutls-after-retry');
  });

  it('resumes with --resume, keeping the client’s identity on the resumed connection (RFC 8446 §2.2)', async () => {
    const server = await serve();
    const client = gnutlsCli(server.port, '--resume', '--waitresumption');
    await client.waitFor('*** This is a resumed session', { stream: 'stdout' });
    const full = await server.nextConnection();
    const resumed = await server.nextConnection();
    assert.equal(full.isResumed, false);
    assert.equal(resumed.isResumed, true);
    assert.equal(resumed.peerCertificates[0]?.fingerprint256, full.peerCertificates[0]?.fingerprint256);
    await echoAndFinish(client, 'gnutls-resumed-ping');
    assert.equal(server.received(resumed), 'gnutls-resumed-ping\n');
  });
  describe('TLS 1.2 (RFC 5246)', () => {
    const TLS12_ONLY = 'NORMAL:-VERS-ALL:+VERS-TLS1.2';

    for (const { key, description: expected } of [
      { key: 'server', description: /^\(TLS1\.2-X\.509\)-\(ECDHE-X25519\)-\(ECDSA-SHA256\)-\(AES-128-GCM\)$/ },
      { key: 'server-rsa', description: /^\(TLS1\.2-X\.509\)-\(ECDHE-X25519\)-\(RSA-PSS-RSAE-SHA256\)-\(AES-128-GCM\)$/ },
    ]) {
      it(`completes a mutual-TLS 1.2 handshake with --priority ${TLS12_ONLY} (${key} key) and echoes data`, async () => {
        const server = await serve({ key: fixture(`${key}.key`), cert: fixture(`${key}-chain.pem`) });
        const client = gnutlsCli(server.port, '--priority', TLS12_ONLY);
        assert.match(await description(client), expected);
        assert.match(client.stdout, /- Successfully sent 2 certificate\(s\) to server\./);
        const socket = await server.nextConnection();
        assert.equal(socket.protocol, 'TLSv1.2');
        assert.deepEqual(socket.peerCertificates[0]?.uris, [CLIENT_SPIFFE_ID]);
        await echoAndFinish(client, `gnutls-tls12-${key}`);
        assert.equal(server.received(socket), `gnutls-tls12-${key}\n`);
      });
    }

    it('resumes a TLS 1.2 session with --resume (RFC 5077 ticket), keeping the client identity', async () => {
      const server = await serve();
      const client = gnutlsCli(server.port, '--priority', TLS12_ONLY, '--resume');
      await client.waitFor('*** This is a resumed session', { stream: 'stdout' });
      const full = await server.nextConnection();
      const resumed = await server.nextConnection();
      assert.equal(resumed.isResumed, true);
      assert.equal(resumed.protocol, 'TLSv1.2');
      assert.equal(resumed.peerCertificates[0]?.fingerprint256, full.peerCertificates[0]?.fingerprint256);
      await echoAndFinish(client, 'gnutls-tls12-resumed');
    });
  });
});
