import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { join } from 'node:path';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { createServer as createNodeTlsServer } from 'node:tls';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { ChallengeAttempt, ValidationOutcome } from '../../../src/acme/validation/index.js';
import { ACME_IDENTIFIER_OID, fromPem, readTlsAlpnCertificate, reverseDnsName } from '../../../src/x509/index.js';
import { handshakeMessages, parseMsgTrace, Scope, skipUnlessTool } from '../../interop/harness.js';
import { portOf, runProcess, startOpensslServer, type OpensslServer } from '../../helpers/processes.js';
import { createTlsAlpnCertificate, encodeAcmeIdentifierValue } from '../../helpers/tls-alpn-certificate.js';
import { assertEndedAtDeadline, dnsIdentifier, ipIdentifier, makeAttempt, makeValidator, timed } from './validation-fixtures.js';

/**
 * tls-alpn-01 (RFC 8737, RFC 8738 §6) with keysmith's own TLS client against
 * openssl s_server presenting certificates made by `openssl req`, and
 * against node:tls presenting ones made by createTlsAlpnCertificate.
 */

function assertFailed(outcome: ValidationOutcome, type: string, detail: RegExp): void {
  assert.equal(outcome.ok, false, 'validation should fail');
  if (outcome.ok) return;
  assert.equal(outcome.error.type, type, outcome.error.detail);
  assert.match(outcome.error.detail, detail);
}

function digestOf(attempt: ChallengeAttempt): Buffer {
  return createHash('sha256').update(attempt.keyAuthorization).digest();
}

interface CertificateSpec {
  /** openssl subjectAltName text, e.g. "DNS:a.example.test" or "IP:127.0.0.1". */
  readonly san: string;
  /** The 32 octets to put in acmeIdentifier; undefined leaves the extension out. */
  readonly digest: Buffer | undefined;
  readonly isCritical?: boolean;
}

describe('tls-alpn-01 validation against openssl s_server', skipUnlessTool('openssl'), () => {
  let scope: Scope;
  let dir: string;

  beforeEach(async () => {
    scope = new Scope();
    dir = await scope.tempDir();
  });
  afterEach(() => scope.close());

  let serial = 0;
  /** `openssl req -x509` with the extension written as raw DER, as the brief's recipe (RFC 8737 §3). */
  async function makeCertificate(spec: CertificateSpec): Promise<{ readonly cert: string; readonly key: string }> {
    const name = `responder-${++serial}`;
    const cert = join(dir, `${name}.pem`);
    const key = join(dir, `${name}.key`);
    const args = [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=acme-responder',
    ];
    args.push('-addext', `subjectAltName=${spec.san}`);
    if (spec.digest !== undefined) {
      const hex = [...spec.digest].map((b) => b.toString(16).padStart(2, '0')).join(':');
      args.push('-addext', `${ACME_IDENTIFIER_OID}=${spec.isCritical === false ? '' : 'critical,'}DER:04:20:${hex}`);
    }
    const result = await runProcess('openssl', args);
    assert.equal(result.code, 0, result.stderr);
    return { cert, key };
  }

  /** s_server (with -msg, to read back the ClientHello it got) offering acme-tls/1 unless told not to. */
  async function sServer(certificate: { cert: string; key: string }, options: { alpn?: boolean } = {}): Promise<OpensslServer> {
    const args = ['-cert', certificate.cert, '-key', certificate.key, '-tls1_3', '-msg'];
    if (options.alpn !== false) args.push('-alpn', 'acme-tls/1');
    const server = await startOpensslServer(args);
    scope.process(server.process);
    return server;
  }

  /** The ClientHello s_server received, from its -msg trace. */
  async function clientHello(server: OpensslServer): Promise<Buffer> {
    await server.process.waitFor(/ClientHello/);
    const [hello] = handshakeMessages(parseMsgTrace(server.process.stdout), 'ClientHello', 'received');
    assert.ok(hello !== undefined, 'the trace holds the ClientHello');
    return hello.bytes;
  }

  /** RFC 6066 §3 server_name extension: type 0, list length, host_name(0), name length, name. */
  function sniExtension(name: string): Buffer {
    const host = Buffer.from(name, 'ascii');
    const entry = Buffer.concat([Buffer.from([0]), u16(host.length), host]);
    const list = Buffer.concat([u16(entry.length), entry]);
    return Buffer.concat([u16(0), u16(list.length), list]);
  }

  /** RFC 7301 §3.1 ALPN extension offering exactly acme-tls/1. */
  const ALPN_ACME_ONLY = Buffer.from('0010000d000b0a', 'hex');

  function u16(value: number): Buffer {
    return Buffer.from([value >> 8, value & 0xff]);
  }

  function validator(port: number, timeoutMs = 5_000): ReturnType<typeof makeValidator> {
    return makeValidator({ validationAddress: '127.0.0.1', http01Port: 80, tlsAlpn01Port: port, timeoutMs });
  }

  it('passes with the right SAN and a critical extension holding SHA-256(keyAuthorization), sending SNI = the name', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    const server = await sServer(await makeCertificate({ san: 'DNS:app.example.test', digest: digestOf(attempt) }));
    assert.deepEqual(await validator(server.port).validate(attempt), { ok: true });
    const hello = await clientHello(server);
    assert.ok(hello.includes(sniExtension('app.example.test')), 'SNI is the identifier');
    assert.ok(hello.includes(Buffer.concat([ALPN_ACME_ONLY, Buffer.from('acme-tls/1')])), 'ALPN offers exactly acme-tls/1');
  });

  it('validates an IP identifier with SNI = its reverse-mapping name (RFC 8738 §6)', async () => {
    const attempt = makeAttempt('tls-alpn-01', ipIdentifier('127.0.0.1'));
    const server = await sServer(await makeCertificate({ san: 'IP:127.0.0.1', digest: digestOf(attempt) }));
    assert.deepEqual(await validator(server.port).validate(attempt), { ok: true });
    assert.ok((await clientHello(server)).includes(sniExtension('1.0.0.127.in-addr.arpa')), 'SNI is the reverse-mapping name');
  });

  it('fails with incorrectResponse when the extension holds another digest', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    const { port } = await sServer(
      await makeCertificate({ san: 'DNS:app.example.test', digest: createHash('sha256').update('something else').digest() }),
    );
    assertFailed(await validator(port).validate(attempt), 'incorrectResponse', new RegExp(`expected ${digestOf(attempt).toString('hex')}`));
  });

  it('fails with unauthorized when the acmeIdentifier extension is missing', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    const { port } = await sServer(await makeCertificate({ san: 'DNS:app.example.test', digest: undefined }));
    assertFailed(await validator(port).validate(attempt), 'unauthorized', /no acmeIdentifier extension/);
  });

  it('fails with unauthorized when the extension is not critical (RFC 8737 §3)', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    const { port } = await sServer(await makeCertificate({ san: 'DNS:app.example.test', digest: digestOf(attempt), isCritical: false }));
    assertFailed(await validator(port).validate(attempt), 'unauthorized', /non-critical/);
  });

  it('fails with tls when the server does not select acme-tls/1', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    const { port } = await sServer(await makeCertificate({ san: 'DNS:app.example.test', digest: digestOf(attempt) }), { alpn: false });
    assertFailed(await validator(port).validate(attempt), 'tls', /did not negotiate ALPN acme-tls\/1 \(selected none\)/);
  });

  it('fails with unauthorized when the SAN names something else', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    const { port } = await sServer(await makeCertificate({ san: 'DNS:other.example.test', digest: digestOf(attempt) }));
    assertFailed(await validator(port).validate(attempt), 'unauthorized', /names dns "other\.example\.test" instead/);
  });

  it('fails with unauthorized when there is a second SAN besides the identifier', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    const { port } = await sServer(
      await makeCertificate({ san: 'DNS:app.example.test,DNS:extra.example.test', digest: digestOf(attempt) }),
    );
    assertFailed(await validator(port).validate(attempt), 'unauthorized', /exactly one subjectAltName.*it has 2/);
  });

  it('fails with unauthorized when an IP identifier is named as a DNS SAN', async () => {
    const attempt = makeAttempt('tls-alpn-01', ipIdentifier('127.0.0.1'));
    const { port } = await sServer(await makeCertificate({ san: 'DNS:127.0.0.1', digest: digestOf(attempt) }));
    assertFailed(await validator(port).validate(attempt), 'unauthorized', /names dns "127\.0\.0\.1" instead/);
  });
});

describe('tls-alpn-01 validation against node:tls and raw TCP', () => {
  let scope: Scope;
  beforeEach(() => {
    scope = new Scope();
  });
  afterEach(() => scope.close());

  /** A node:tls server offering acme-tls/1 that records the SNI of each ClientHello (before it answers, so no race). */
  async function nodeTlsServer(certPem: string, keyPem: string, alpn: readonly string[]): Promise<{ port: number; servernames: string[] }> {
    const servernames: string[] = [];
    const server = createNodeTlsServer(
      {
        cert: certPem,
        key: keyPem,
        ALPNProtocols: [...alpn],
        minVersion: 'TLSv1.3',
        SNICallback: (servername, callback) => {
          servernames.push(servername);
          callback(null);
        },
      },
      (socket) => {
        socket.on('error', () => {});
        socket.end();
      },
    );
    server.on('tlsClientError', () => {});
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    scope.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { port: portOf(server.address()), servernames };
  }

  it('passes against a certificate from createTlsAlpnCertificate, with SNI the ip6.arpa name of an IPv6 identifier', async () => {
    const attempt = makeAttempt('tls-alpn-01', ipIdentifier('2001:db8::1'));
    const { certPem, keyPem } = await createTlsAlpnCertificate({ identifier: attempt.identifier, digest: digestOf(attempt) });
    const server = await nodeTlsServer(certPem, keyPem, ['acme-tls/1']);
    const validator = makeValidator({ validationAddress: '127.0.0.1', tlsAlpn01Port: server.port });
    assert.deepEqual(await validator.validate(attempt), { ok: true });
    assert.deepEqual(server.servernames, ['1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa']);
  });

  it('fails with a wrong digest from createTlsAlpnCertificate (the test builder can fail too)', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('node.example.test'));
    const { certPem, keyPem } = await createTlsAlpnCertificate({ identifier: attempt.identifier, digest: Buffer.alloc(32, 7) });
    const server = await nodeTlsServer(certPem, keyPem, ['acme-tls/1']);
    const outcome = await makeValidator({ validationAddress: '127.0.0.1', tlsAlpn01Port: server.port }).validate(attempt);
    assertFailed(outcome, 'incorrectResponse', /Incorrect acmeIdentifier/);
    assert.deepEqual(server.servernames, ['node.example.test']);
  });

  it('times out, within its bound, against a server that accepts TCP and never answers', async () => {
    const sockets: Socket[] = [];
    const server = createTcpServer((socket) => sockets.push(socket));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    scope.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    scope.defer(() => sockets.forEach((s) => s.destroy()));
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    const { value: outcome, ms } = await timed(
      makeValidator({ validationAddress: '127.0.0.1', tlsAlpn01Port: portOf(server.address()), timeoutMs: 300 }).validate(attempt),
    );
    assertFailed(outcome, 'connection', /timed out|Timeout/);
    assertEndedAtDeadline(ms, 300, 'tls-alpn-01 against a silent server');
  });

  it('fails with connection when nothing listens', async () => {
    const probe = createTcpServer();
    probe.listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const port = portOf(probe.address());
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    assertFailed(
      await makeValidator({ validationAddress: '127.0.0.1', tlsAlpn01Port: port }).validate(attempt),
      'connection',
      /connection refused/,
    );
  });
});

/**
 * Targets that break TLS itself, from raw TCP: each answers our ClientHello
 * with fixed bytes. A failure of the TLS exchange is a `tls` error naming the
 * alert (RFC 8555 §6.7); one below TLS stays `connection`.
 */
describe('tls-alpn-01 validation against targets that break TLS', () => {
  let scope: Scope;
  beforeEach(() => {
    scope = new Scope();
  });
  afterEach(() => scope.close());

  /** A target that answers the first bytes it reads with `answer`, then closes (or resets) the connection. */
  async function target(answer: Buffer, ending: 'end' | 'reset' = 'end'): Promise<number> {
    const server = createTcpServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        if (ending === 'reset') socket.resetAndDestroy();
        else socket.end(answer);
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    scope.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return portOf(server.address());
  }

  /** One TLSPlaintext record (RFC 8446 §5.1): type, legacy_record_version 0x0303, length, fragment. */
  function record(type: number, fragment: Buffer): Buffer {
    const header = Buffer.from([type, 0x03, 0x03, 0, 0]);
    header.writeUInt16BE(fragment.length, 3);
    return Buffer.concat([header, fragment]);
  }

  async function validateAgainst(port: number): Promise<ValidationOutcome> {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('app.example.test'));
    return makeValidator({ validationAddress: '127.0.0.1', tlsAlpn01Port: port, timeoutMs: 5_000 }).validate(attempt);
  }

  it('fails with tls naming decode_error when the ServerHello is malformed (RFC 8446 §6: we send decode_error)', async () => {
    // A ServerHello (type 2) of 10 bytes: legacy_version and 8 bytes where 32 of random belong.
    const serverHello = Buffer.from([0x02, 0x00, 0x00, 0x0a, 0x03, 0x03, 1, 2, 3, 4, 5, 6, 7, 8]);
    const outcome = await validateAgainst(await target(record(22, serverHello)));
    assertFailed(
      outcome,
      'tls',
      /^tls-alpn-01: the target's TLS handshake from 127\.0\.0\.1:\d+ is malformed \(decode_error: random: need 32 bytes, have 8\); we sent alert decode_error$/,
    );
  });

  it('fails with tls naming the alert the target sent', async () => {
    const outcome = await validateAgainst(await target(record(21, Buffer.from([2, 40]))));
    assertFailed(
      outcome,
      'tls',
      /^tls-alpn-01: the target at 127\.0\.0\.1:\d+ ended the TLS handshake \(handshake_failure: peer sent handshake_failure\)$/,
    );
  });

  it('fails with tls naming unexpected_message when the target answers with something else than a ServerHello', async () => {
    const outcome = await validateAgainst(await target(record(22, Buffer.from([0xff, 0, 0, 0]))));
    assertFailed(outcome, 'tls', /was refused \(unexpected_message: .*\); we sent alert unexpected_message$/);
  });

  it('fails with tls when the target is not speaking TLS at all', async () => {
    const outcome = await validateAgainst(await target(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n')));
    assertFailed(outcome, 'tls', /we sent alert unexpected_message$/);
  });

  it('keeps connection for a reset below TLS', async () => {
    const outcome = await validateAgainst(await target(Buffer.alloc(0), 'reset'));
    assertFailed(outcome, 'connection', /connection reset by peer/);
  });
});

describe('the acmeIdentifier extension codec (src/x509/acme-identifier.ts)', () => {
  it('encodes Authorization as the DER OCTET STRING 04 20 || digest (RFC 8737 §3)', () => {
    const digest = Buffer.alloc(32, 0xab);
    assert.deepEqual(Buffer.from(encodeAcmeIdentifierValue(digest)), Buffer.concat([Buffer.from([0x04, 0x20]), digest]));
    assert.throws(() => encodeAcmeIdentifierValue(Buffer.alloc(31)), TypeError);
  });

  it('reads back what createTlsAlpnCertificate wrote, critical or not', async () => {
    const digest = createHash('sha256').update('abc').digest();
    for (const isCritical of [true, false]) {
      const { certPem } = await createTlsAlpnCertificate({ identifier: { type: 'dns', value: 'App.Example.Test' }, digest, isCritical });
      const facts = readTlsAlpnCertificate(fromPem(certPem, 'CERTIFICATE'));
      assert.deepEqual(facts.altNames, [{ type: 'dns', value: 'app.example.test' }]);
      assert.equal(facts.subjectAltNameExtensions, 1);
      assert.equal(facts.acmeIdentifiers.length, 1);
      assert.equal(facts.acmeIdentifiers[0]?.isCritical, isCritical);
      assert.deepEqual(Buffer.from(facts.acmeIdentifiers[0]?.digest ?? []), digest);
    }
  });

  it('refuses input that is not a certificate', () => {
    assert.throws(() => readTlsAlpnCertificate(Buffer.from('30030201', 'hex')), { name: 'TlsAlpnCertificateError' });
    assert.throws(() => readTlsAlpnCertificate(new Uint8Array(0)), { name: 'TlsAlpnCertificateError' });
  });

  it('names IP addresses for SNI by their reverse mapping (RFC 8738 §6; vector from RFC 3596 §2.5)', () => {
    assert.equal(reverseDnsName('192.0.2.5'), '5.2.0.192.in-addr.arpa');
    assert.equal(reverseDnsName('4321:0:1:2:3:4:567:89ab'), 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa');
  });
});
