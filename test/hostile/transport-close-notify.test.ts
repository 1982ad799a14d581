import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, runProcess } from '../helpers/processes.js';
import { HostileService } from './harness.js';
import { openTls, readToEnd } from './transport-peers.js';

/**
 * RFC 8446 §6.1: close_notify closes only the sender's
 * write side; requests that came before it are answered, then we send our
 * close_notify and close. gnutls-cli sends close_notify as soon as its
 * stdin ends, which used to get the connection closed without an answer.
 */
const REQUEST = 'GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
const HEALTHY = /HTTP\/1\.1 200 OK\r\n[\s\S]*\{"status":"ok"/;

describe('close_notify right after a request (RFC 8446 §6.1)', { timeout: 120_000 }, () => {
  let service: HostileService;
  before(async () => {
    service = await HostileService.start();
  });
  after(async () => {
    await service.stop();
  });

  for (const withCertificate of [true, false]) {
    it(
      `printf '${REQUEST.replace(/\r\n/g, '\\r\\n')}' | gnutls-cli ... prints the answer (${withCertificate ? 'admin certificate' : 'no client certificate'})`,
      { skip: !hasCommand('gnutls-cli') },
      async () => {
        const { paths } = service;
        const identity = withCertificate ? ['--x509certfile', paths.adminCert, '--x509keyfile', paths.adminKey] : [];
        const result = await runProcess(
          'gnutls-cli',
          ['--x509cafile', paths.bundle, ...identity, '-p', String(service.port), 'localhost'],
          { stdin: REQUEST, timeoutMs: 15_000 },
        );
        assert.match(result.stdout, HEALTHY, result.stdout + result.stderr);
        assert.match(result.stdout + result.stderr, /Peer has closed the GnuTLS connection/, 'we close with our own close_notify');
      },
    );
  }

  it('node:tls (OpenSSL): three pipelined requests, then end() (close_notify, then FIN), get three answers', async () => {
    const socket = await openTls(service.port, await service.bundlePem());
    const text = readToEnd(socket, 10_000);
    socket.end(
      'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    const answers = (await text).match(/HTTP\/1\.1 200 OK\r\n/g) ?? [];
    assert.equal(answers.length, 3);
  });

  it('openssl s_client -ign_eof gets the answer and our close_notify', { skip: !hasCommand('openssl') }, async () => {
    // Without -ign_eof s_client stops reading when its stdin ends, so it could not show an answer whatever the server does.
    const args = [
      's_client',
      '-connect',
      `127.0.0.1:${service.port}`,
      '-servername',
      'localhost',
      '-CAfile',
      service.paths.bundle,
      '-ign_eof',
    ];
    const result = await runProcess('openssl', args, { stdin: REQUEST, timeoutMs: 15_000 });
    assert.match(result.stdout, HEALTHY, result.stdout + result.stderr);
    assert.match(result.stdout + result.stderr, /closed|DONE/);
  });
});
