import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, TlsAlertError, type CipherSuiteName } from '../../src/tls/index.js';
import { nextEvent } from '../helpers/processes.js';
import { alertOf, CLIENT_SPIFFE_ID, fixture, fixturePath, readUntil, Scope, skipUnlessTool } from './harness.js';
import { ourClientAgainstSServer, sServerArgs, type ServerIdentity } from './openssl-server-harness.js';
import { signGoodResponse } from './ocsp-staple.js';

/**
 * Our client (`connect` with minVersion 'TLSv1.2') against `openssl s_server
 * -tls1_2 -Verify 1`, which requires a client certificate under ca.pem:
 * each ECDHE AEAD suite (RFC 5289, RFC 7905) with an ECDSA or RSA server key
 * as the suite needs, resumption with the RFC 5077 ticket from the
 * 'session' event, an OCSP staple in CertificateStatus (RFC 6066 §8), and a
 * HelloRequest refused (RFC 5746 §4.2). `-www` answers "GET /" with a status
 * page that names the version, the suite, whether the session was reused
 * and the client certificate it verified; `-rev` answers lines reversed.
 */

const serverArgs = (name: ServerIdentity, ...extra: string[]): string[] => sServerArgs('-tls1_2', name, ...extra);

const SUITES: readonly { readonly ours: CipherSuiteName; readonly openssl: string; readonly key: 'server' | 'server-rsa' }[] = [
  { ours: 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', openssl: 'ECDHE-ECDSA-AES128-GCM-SHA256', key: 'server' },
  { ours: 'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', openssl: 'ECDHE-ECDSA-AES256-GCM-SHA384', key: 'server' },
  { ours: 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', openssl: 'ECDHE-ECDSA-CHACHA20-POLY1305', key: 'server' },
  { ours: 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', openssl: 'ECDHE-RSA-AES128-GCM-SHA256', key: 'server-rsa' },
  { ours: 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', openssl: 'ECDHE-RSA-AES256-GCM-SHA384', key: 'server-rsa' },
  { ours: 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256', openssl: 'ECDHE-RSA-CHACHA20-POLY1305', key: 'server-rsa' },
];

describe('our client with openssl s_server -tls1_2', skipUnlessTool('openssl'), () => {
  const scope = new Scope();
  afterEach(() => scope.close());

  const { sServer, dial, fetchStatusPage } = ourClientAgainstSServer(scope, { minVersion: 'TLSv1.2' });

  for (const suite of SUITES) {
    it(`completes ${suite.ours} with a client certificate s_server verifies (RFC 5246 §7.3)`, async () => {
      const server = await sServer(serverArgs(suite.key, '-www', '-cipher', suite.openssl));
      const { socket, page } = await fetchStatusPage(server.port);
      assert.equal(socket.protocol, 'TLSv1.2');
      assert.equal(socket.cipher?.standardName, suite.ours);
      assert.equal(socket.cipher?.name, suite.openssl);
      assert.equal(socket.isSessionReused(), false);
      assert.deepEqual(
        socket.peerCertificates.map((c) => c.subject),
        ['CN=localhost', 'CN=keysmith test intermediate', 'CN=keysmith test root'],
      );
      assert.match(page, new RegExp(`^New, TLSv1\\.2, Cipher is ${suite.openssl}$`, 'm'));
      assert.match(page, /^Client certificate$/m);
      assert.ok(page.includes(`URI:${CLIENT_SPIFFE_ID}`), 'the page prints the client certificate we sent');
      assert.match(page, /Verify return code: 0 \(ok\)/);
    });
  }

  for (const key of ['server-p384', 'server-ed25519'] as const) {
    it(`verifies the ServerKeyExchange signature of a ${key.slice(7)} server key (RFC 8422 §5.4)`, async () => {
      const server = await sServer(serverArgs(key, '-www'));
      const { socket, page } = await fetchStatusPage(server.port);
      assert.equal(socket.cipher?.standardName, 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
      assert.match(page, /^New, TLSv1\.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256$/m);
    });
  }

  it('resumes with the RFC 5077 ticket from its ‘session’ event: an abbreviated handshake, the server chain kept', async () => {
    const server = await sServer(serverArgs('server', '-www'));
    const first = await fetchStatusPage(server.port);
    assert.match(first.page, /^New, TLSv1\.2, /m);
    const [ticket] = first.sessions;
    assert.ok(ticket !== undefined, 's_server sent a NewSessionTicket');
    assert.equal(ticket[0], 0x12, 'a TLS 1.2 session');

    const second = await fetchStatusPage(server.port, { session: ticket });
    assert.equal(second.socket.isSessionReused(), true);
    assert.equal(second.socket.protocol, 'TLSv1.2');
    assert.match(second.page, /^Reused, TLSv1\.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256$/m, 's_server reports the session as reused');
    assert.deepEqual(
      second.socket.peerCertificates.map((c) => c.subject),
      ['CN=localhost', 'CN=keysmith test intermediate', 'CN=keysmith test root'],
    );
  });

  it('settles ALPN in the TLS 1.2 ServerHello (RFC 7301 §3.1)', async () => {
    const server = await sServer(serverArgs('server', '-www', '-alpn', 'http/1.1'));
    const { socket, page } = await fetchStatusPage(server.port, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.equal(socket.protocol, 'TLSv1.2');
    assert.equal(socket.alpnProtocol, 'http/1.1');
    assert.match(page, /^New, TLSv1\.2, /m);
  });

  it('prefers TLS 1.3 when the server speaks both, and speaks TLS 1.2 to it when maxVersion says so (its sentinel is no downgrade)', async () => {
    const server = await sServer([
      '-Verify',
      '1',
      '-CAfile',
      fixturePath('ca.pem'),
      '-cert',
      fixturePath('server.pem'),
      '-key',
      fixturePath('server.key'),
      '-cert_chain',
      fixturePath('intermediate.pem'),
      '-www',
    ]);
    const both = await fetchStatusPage(server.port);
    assert.equal(both.socket.protocol, 'TLSv1.3');
    const only12 = await fetchStatusPage(server.port, { maxVersion: 'TLSv1.2' });
    assert.equal(only12.socket.protocol, 'TLSv1.2');
    assert.match(only12.page, /^New, TLSv1\.2, /m);
  });

  it('is refused by s_server -Verify 1 without a client certificate (RFC 5246 §7.4.6)', async () => {
    const server = await sServer(serverArgs('server', '-rev'));
    const socket = scope.socket(
      connect({ host: '127.0.0.1', port: server.port, servername: 'localhost', ca: fixture('ca.pem'), minVersion: 'TLSv1.2' }),
    );
    const [err] = await nextEvent(socket, 'error');
    assert.ok(err instanceof TlsAlertError && err.isRemote, String(err));
    assert.equal(alertOf(err), 'handshake_failure');
  });

  it('answers a HelloRequest with no_renegotiation and never starts a second handshake (RFC 5746 §4.2)', async () => {
    const server = await sServer(serverArgs('server'));
    const socket = dial(server.port);
    await nextEvent(socket, 'secure');
    socket.write('before\n');
    await server.process.waitFor(/^before$/m, { stream: 'stdout' });
    const failed = nextEvent(socket, 'error');
    // s_server's "R": renegotiate, asking for the client certificate again (it sends HelloRequest).
    await server.process.write('R\n');
    const [err] = await failed;
    assert.ok(err instanceof TlsAlertError && !err.isRemote, String(err));
    assert.equal(err.alert, 'no_renegotiation');
    // Warning level (RFC 5246 §7.2.2): s_server reports it as "no renegotiation".
    await server.process.waitFor(/no renegotiation/, { stream: 'both' });
  });

  describe('OCSP stapling (RFC 6066 §8: status_request, CertificateStatus)', () => {
    let dir = '';
    let goodResponse: Buffer = Buffer.alloc(0);
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'keysmith-stapling12-'));
      goodResponse = await signGoodResponse(dir);
    });
    after(() => rm(dir, { recursive: true, force: true }));

    it('hands the staple from s_server -status_file to verifyOcspStaple and keeps it on the socket', async () => {
      const server = await sServer(serverArgs('server', '-rev', '-status_file', join(dir, 'response.der')));
      const seen: Uint8Array[] = [];
      const socket = dial(server.port, {
        verifyOcspStaple: (staple, peer) => {
          assert.equal(peer.leaf.subject, 'CN=localhost');
          if (staple === undefined) throw new Error('must-staple');
          seen.push(staple);
        },
      });
      await nextEvent(socket, 'secure');
      assert.equal(socket.protocol, 'TLSv1.2');
      assert.deepEqual(socket.ocspResponse, goodResponse);
      assert.deepEqual(seen, [goodResponse]);
      socket.write('elpats\n');
      assert.equal(await readUntil(socket, /\n/), 'staple\n');
    });

    it('refuses a server that staples nothing when the hook requires one, with bad_certificate_status_response', async () => {
      const server = await sServer(serverArgs('server', '-rev'));
      const socket = dial(server.port, {
        verifyOcspStaple: (staple) => {
          if (staple === undefined) throw new Error('must-staple');
        },
      });
      const [err] = await nextEvent(socket, 'error');
      assert.ok(err instanceof TlsAlertError && !err.isRemote, String(err));
      assert.equal(err.alert, 'bad_certificate_status_response');
    });
  });
});
