import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, TlsAlertError, type TlsConnectOptions, type TlsServerOptions, type TlsSocket } from '../../src/tls/index.js';
import { ExtensionType } from '../../src/tls/codec/enums.js';
import { decodeCertificateStatus, findExtension } from '../../src/tls/codec/extensions.js';
import { decodeCertificate } from '../../src/tls/codec/messages/certificate.js';
import { nextEvent, startOpensslServer, startProcess, type OpensslServer, type ThirdPartyProcess } from '../helpers/processes.js';
import {
  clientCertArgs,
  echoThrough,
  fixture,
  fixturePath,
  handshakeMessages,
  parseMsgTrace,
  S_CLIENT_HANDSHAKE_DONE,
  sClientArgs,
  Scope,
  skipUnlessTool,
  type EchoServer,
  serveEcho,
  finishClient,
} from './harness.js';
import { signGoodResponse } from './ocsp-staple.js';

/**
 * OCSP stapling (RFC 8446 §4.4.2.1, RFC 6066 §8) against OpenSSL 3.0: our
 * server with `openssl s_client -status`, and our client with `openssl
 * s_server -status_file`. The staple is a real response for server.pem,
 * signed by the test intermediate with `openssl ocsp` (as a CA-signed
 * response, RFC 6960 §4.2.2.2), or the minimal tryLater response.
 */

/** SEQUENCE { responseStatus ENUMERATED tryLater(3) } (RFC 6960 §4.2.1). */
const TRY_LATER = Buffer.from('30030a0103', 'hex');

describe('OCSP stapling with openssl', skipUnlessTool('openssl'), () => {
  let dir = '';
  let goodResponse: Buffer = Buffer.alloc(0);
  let goodResponsePath = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-stapling-'));
    goodResponse = await signGoodResponse(dir);
    goodResponsePath = join(dir, 'response.der');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const scope = new Scope();
  afterEach(() => scope.close());

  describe('our server with s_client -status', () => {
    const serve = (options: Partial<TlsServerOptions> = {}): Promise<EchoServer> => serveEcho(scope, options);

    function sClient(port: number, ...extra: string[]): ThirdPartyProcess {
      return scope.process(startProcess('openssl', sClientArgs(port, ...clientCertArgs(), ...extra)));
    }

    const finish = finishClient;

    /** The CertificateStatus in the leaf's entry of the Certificate s_client received (its -msg trace), if any. */
    function receivedStaple(client: ThirdPartyProcess): Buffer | undefined {
      const [certificate] = handshakeMessages(parseMsgTrace(client.stdout), 'Certificate', 'received');
      assert.ok(certificate !== undefined, 's_client traced the server Certificate');
      const entries = decodeCertificate(certificate.bytes.subarray(4)).entries;
      assert.ok(
        entries.slice(1).every((e) => e.extensions.length === 0),
        'no staple on the intermediate',
      );
      const data = findExtension(entries[0]!.extensions, ExtensionType.status_request);
      return data === undefined ? undefined : decodeCertificateStatus(data).ocspResponse;
    }

    it('staples a signed response that s_client prints as successful and good, byte for byte what the callback gave', async () => {
      let calls = 0;
      const server = await serve({
        ocspResponse: () => {
          calls++;
          return goodResponse;
        },
      });
      const client = sClient(server.port, '-status', '-msg');
      await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      await echoThrough(client, 'stapled-ping');
      await finish(client);
      assert.equal(calls, 1);
      const out = client.stdout;
      assert.match(
        out,
        /^OCSP response: ?\n=+\nOCSP Response Data:\n\s+OCSP Response Status: successful \(0x0\)$/m,
        client.describeOutput(),
      );
      assert.match(out, /^\s+Cert Status: good$/m);
      assert.match(out, new RegExp(`^\\s+Serial Number: ${new X509Certificate(fixture('server.pem')).serialNumber.toUpperCase()}$`, 'm'));
      assert.match(out, /^\s+Responder Id: CN = keysmith test intermediate$/m);
      assert.deepEqual(receivedStaple(client), goodResponse);
    });

    it('staples in TLS 1.2 too: status_request in ServerHello and a CertificateStatus message after Certificate (RFC 6066 §8)', async () => {
      let calls = 0;
      const server = await serve({
        ocspResponse: () => {
          calls++;
          return goodResponse;
        },
      });
      const client = sClient(server.port, '-tls1_2', '-status', '-msg');
      await client.waitFor(/^New, TLSv1\.2, Cipher is /m, { stream: 'stdout' });
      await echoThrough(client, 'stapled-tls12');
      await finish(client);
      assert.equal(calls, 1);
      assert.match(client.stdout, /^\s+Cert Status: good$/m);
      const [status] = handshakeMessages(parseMsgTrace(client.stdout), 'CertificateStatus', 'received');
      assert.ok(status !== undefined, client.describeOutput());
      // HandshakeType certificate_status(22), then status_type ocsp(1) and the response<1..2^24-1>, byte for byte.
      const length = Buffer.alloc(3);
      length.writeUIntBE(goodResponse.length, 0, 3);
      assert.deepEqual(status.bytes.subarray(4), Buffer.concat([Buffer.of(1), length, goodResponse]));
    });

    it('sends no CertificateStatus in TLS 1.2 when the client did not ask', async () => {
      const server = await serve({ ocspResponse: () => goodResponse });
      const client = sClient(server.port, '-tls1_2', '-msg');
      await client.waitFor(/^New, TLSv1\.2, Cipher is /m, { stream: 'stdout' });
      await finish(client);
      assert.equal(handshakeMessages(parseMsgTrace(client.stdout), 'CertificateStatus', 'received').length, 0);
    });

    it('staples the minimal tryLater response, which s_client prints as such', async () => {
      const server = await serve({ ocspResponse: () => TRY_LATER });
      const client = sClient(server.port, '-status', '-msg');
      await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      await finish(client);
      assert.match(client.stdout, /^\s+OCSP Response Status: trylater \(0x3\)$/im, client.describeOutput());
      assert.deepEqual(receivedStaple(client), TRY_LATER);
    });

    it('sends no staple when the callback has none: s_client prints "no response sent"', async () => {
      const server = await serve({ ocspResponse: () => undefined });
      const client = sClient(server.port, '-status', '-msg');
      await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      await finish(client);
      assert.match(client.stdout, /^OCSP response: no response sent$/m, client.describeOutput());
      assert.equal(receivedStaple(client), undefined);
    });

    it('never calls the callback for s_client without -status, which sends no status_request', async () => {
      let calls = 0;
      const server = await serve({
        ocspResponse: () => {
          calls++;
          return goodResponse;
        },
      });
      const client = sClient(server.port, '-msg');
      await client.waitFor(S_CLIENT_HANDSHAKE_DONE, { stream: 'stdout' });
      await finish(client);
      assert.equal(calls, 0);
      assert.doesNotMatch(client.stdout, /OCSP response/);
      assert.equal(receivedStaple(client), undefined);
    });
  });

  describe('our client with s_server -status_file', () => {
    async function sServer(...extra: string[]): Promise<OpensslServer> {
      const server = await startOpensslServer([
        '-tls1_3',
        '-CAfile',
        fixturePath('ca.pem'),
        '-cert',
        fixturePath('server.pem'),
        '-key',
        fixturePath('server.key'),
        '-cert_chain',
        fixturePath('intermediate.pem'),
        '-rev',
        ...extra,
      ]);
      scope.process(server.process);
      return server;
    }

    function dial(port: number, options: Partial<TlsConnectOptions>): TlsSocket {
      return scope.socket(connect({ host: '127.0.0.1', port, servername: 'localhost', ca: fixture('ca.pem'), ...options }));
    }

    it('asks for a staple, receives the file’s response in the leaf’s entry, and hands it to verifyOcspStaple', async () => {
      const server = await sServer('-status_file', goodResponsePath);
      const seen: Uint8Array[] = [];
      const socket = dial(server.port, {
        verifyOcspStaple: (staple, peer) => {
          assert.equal(peer.leaf.subject, 'CN=localhost');
          if (staple === undefined) throw new Error('must-staple');
          seen.push(staple);
        },
      });
      await nextEvent(socket, 'secure');
      assert.deepEqual(socket.ocspResponse, goodResponse);
      assert.deepEqual(seen, [goodResponse]);
      // Data still flows: s_server -rev answers each line reversed.
      const answer = nextEvent(socket, 'data');
      socket.write('elpats\n');
      assert.match(String((await answer)[0]), /^staple$/m);
    });

    it('refuses a server that staples nothing when the hook requires a staple, with bad_certificate_status_response', async () => {
      const server = await sServer();
      const socket = dial(server.port, {
        verifyOcspStaple: (staple) => {
          if (staple === undefined) throw new Error('must-staple');
        },
      });
      const [err] = await nextEvent(socket, 'error');
      assert.ok(err instanceof TlsAlertError && !err.isRemote, String(err));
      assert.equal(err.alert, 'bad_certificate_status_response');
      await server.process.waitFor(/alert bad certificate status response|SSL alert number 113/i, { stream: 'both' });
    });
  });
});
