import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import { networkInterfaces } from 'node:os';
import { after, before, beforeEach, describe, it } from 'node:test';
import { createChallengeValidator, refusalReason, type ValidationOutcome } from '../../../src/acme/validation/index.js';
import { startDnsResponder, type DnsResponder } from '../../helpers/dns-responder.js';
import { portOf } from '../../helpers/processes.js';
import { dnsIdentifier, ipIdentifier, makeAttempt, makeValidator, tlsConnect } from './validation-fixtures.js';

/**
 * Where validation may connect (no server-side request forgery): without
 * validationAddress, names are resolved through the in-test DNS responder
 * and the answers are checked before any connection is made.
 */

function assertFailed(outcome: ValidationOutcome, type: string, detail: RegExp): void {
  assert.equal(outcome.ok, false, 'validation should fail');
  if (outcome.ok) return;
  assert.equal(outcome.error.type, type, outcome.error.detail);
  assert.match(outcome.error.detail, detail);
}

/** A non-loopback IPv4 address of this machine, if it has one (the positive resolution test needs a routable target). */
function localRoutableAddress(): string | undefined {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal && refusalReason(address.address, false) === undefined) return address.address;
    }
  }
  return undefined;
}

describe('the validation address policy', () => {
  it('refuses loopback, unspecified, link-local, multicast and reserved addresses from DNS', () => {
    const refused: [string, RegExp][] = [
      ['127.0.0.1', /loopback/],
      ['127.255.0.9', /loopback/],
      ['::1', /loopback/],
      ['0.0.0.0', /unspecified/],
      ['::', /unspecified/],
      ['169.254.169.254', /link-local.*metadata/],
      ['fe80::1', /link-local/],
      ['224.0.0.251', /multicast/],
      ['ff02::1', /multicast/],
      ['255.255.255.255', /broadcast/],
      ['240.0.0.1', /reserved/],
      ['192.0.2.10', /documentation/],
      ['2001:db8::5', /documentation/],
      ['198.18.0.1', /benchmarking/],
      ['::ffff:127.0.0.1', /loopback/],
      ['::ffff:169.254.169.254', /link-local/],
      ['64:ff9b::7f00:1', /loopback/],
      ['2002:7f00:1::', /6to4/],
      ['::7f00:1', /IPv4-compatible/],
    ];
    for (const [address, reason] of refused) {
      assert.match(refusalReason(address, false) ?? 'allowed', reason, address);
    }
  });

  it('allows private and public unicast addresses: an internal CA validates internal hosts', () => {
    for (const address of ['10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '8.8.8.8', 'fd00::1', '2606:4700::1111', '::ffff:10.0.0.1']) {
      assert.equal(refusalReason(address, false), undefined, address);
    }
  });

  it('allows a loopback IP identifier (the order policy allowed it) but never link-local or unspecified', () => {
    assert.equal(refusalReason('127.0.0.1', true), undefined);
    assert.equal(refusalReason('::1', true), undefined);
    assert.match(refusalReason('169.254.169.254', true) ?? 'allowed', /link-local/);
    assert.match(refusalReason('0.0.0.0', true) ?? 'allowed', /unspecified/);
  });

  it('refuses bad options when the validator is built', () => {
    const base = { tlsConnect };
    assert.throws(() => createChallengeValidator({ ...base, validationAddress: 'localhost' }), TypeError);
    assert.throws(() => createChallengeValidator({ ...base, dnsResolver: 'dns.example.test:53' }), TypeError);
    assert.throws(() => createChallengeValidator({ ...base, dnsResolver: '::1:53' }), TypeError);
    assert.throws(() => createChallengeValidator({ ...base, http01Port: 0 }), TypeError);
    assert.throws(() => createChallengeValidator({ ...base, timeoutMs: 0 }), TypeError);
    assert.doesNotThrow(() => createChallengeValidator({ ...base, dnsResolver: '[::1]:5353' }));
    assert.doesNotThrow(() => createChallengeValidator({ ...base, dnsResolver: '127.0.0.1' }));
  });
});

describe('validation without validationAddress (names resolved through DNS)', () => {
  let responder: DnsResponder;
  let http: Server;
  let httpPort: number;
  let tcp: TcpServer;
  let tcpPort: number;
  let httpRequests: number;
  let tcpConnections: number;
  const sockets = new Set<Socket>();
  let served: Map<string, string>;

  before(async () => {
    responder = await startDnsResponder();
    // Listens on every interface so the positive test can reach it through a routable address.
    http = createServer((request, response) => {
      httpRequests++;
      const body = served.get(request.url ?? '');
      response.statusCode = body === undefined ? 404 : 200;
      response.end(body ?? '');
    });
    http.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    http.listen(0);
    await once(http, 'listening');
    httpPort = portOf(http.address());
    tcp = createTcpServer((socket) => {
      tcpConnections++;
      sockets.add(socket);
      socket.destroy();
    });
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    tcpPort = portOf(tcp.address());
  });

  after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => http.close(() => resolve()));
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    await responder.close();
  });

  beforeEach(() => {
    httpRequests = 0;
    tcpConnections = 0;
    served = new Map();
  });

  function validator(): ReturnType<typeof makeValidator> {
    return makeValidator({ http01Port: httpPort, tlsAlpn01Port: tcpPort, dnsResolver: responder.server, timeoutMs: 5_000 });
  }

  it('refuses http-01 to a name that resolves to 127.0.0.1, without connecting', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('loop.example.test'));
    responder.setA('loop.example.test', ['127.0.0.1']);
    served.set(`/.well-known/acme-challenge/${attempt.token}`, attempt.keyAuthorization);
    assertFailed(await validator().validate(attempt), 'connection', /Refusing to connect to 127\.0\.0\.1, an address of loop\.example\.test: it is loopback/);
    assert.equal(httpRequests, 0, 'nothing reached the server');
    assert.ok(responder.queries.includes('A loop.example.test'), 'the name was resolved through the configured resolver');
  });

  it('refuses tls-alpn-01 to a name that resolves to ::1, without connecting', async () => {
    const attempt = makeAttempt('tls-alpn-01', dnsIdentifier('loop6.example.test'));
    responder.setAaaa('loop6.example.test', ['::1']);
    assertFailed(await validator().validate(attempt), 'connection', /loopback/);
    assert.equal(tcpConnections, 0);
  });

  it('refuses the cloud metadata address and IPv4-mapped loopback', async () => {
    const metadata = makeAttempt('http-01', dnsIdentifier('meta.example.test'));
    responder.setA('meta.example.test', ['169.254.169.254']);
    assertFailed(await validator().validate(metadata), 'connection', /169\.254\.169\.254.*link-local/);
    const mapped = makeAttempt('http-01', dnsIdentifier('mapped.example.test'));
    responder.setAaaa('mapped.example.test', ['::ffff:127.0.0.1']);
    assertFailed(await validator().validate(mapped), 'connection', /loopback/);
    assert.equal(httpRequests, 0);
  });

  it('refuses a name whose answers mix a routable address with a forbidden one', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('mixed.example.test'));
    responder.setA('mixed.example.test', ['10.9.8.7', '127.0.0.1']);
    assertFailed(await validator().validate(attempt), 'connection', /127\.0\.0\.1.*loopback/);
    assert.equal(httpRequests, 0);
  });

  it('fails with dns when the name has no A or AAAA records, or does not exist', async () => {
    responder.setTxt('txtonly.example.test', ['hello']);
    assertFailed(await validator().validate(makeAttempt('http-01', dnsIdentifier('txtonly.example.test'))), 'dns', /No valid A or AAAA records/);
    assertFailed(await validator().validate(makeAttempt('tls-alpn-01', dnsIdentifier('nowhere.example.test'))), 'dns', /No valid A or AAAA records/);
  });

  it('fails with dns when the resolver answers SERVFAIL', async () => {
    responder.failWith('servfail.example.test', 'SERVFAIL');
    assertFailed(await validator().validate(makeAttempt('http-01', dnsIdentifier('servfail.example.test'))), 'dns', /SERVFAIL/);
  });

  it('refuses an IP identifier in a never-allowed range without connecting', async () => {
    assertFailed(await validator().validate(makeAttempt('http-01', ipIdentifier('169.254.169.254'))), 'connection', /link-local/);
    assertFailed(await validator().validate(makeAttempt('tls-alpn-01', ipIdentifier('0.0.0.0'))), 'connection', /unspecified/);
    assert.equal(httpRequests + tcpConnections, 0);
  });

  it('connects to a loopback IP identifier itself (allowed by the order policy), with no DNS lookup', async () => {
    const attempt = makeAttempt('http-01', ipIdentifier('127.0.0.1'));
    served.set(`/.well-known/acme-challenge/${attempt.token}`, attempt.keyAuthorization);
    const before = responder.queries.length;
    assert.deepEqual(await validator().validate(attempt), { ok: true });
    assert.equal(httpRequests, 1);
    assert.equal(responder.queries.length, before);
  });

  it('goes on to connect when a name resolves to an allowed private address', async () => {
    // 10.255.255.1 passes the policy. What answers there depends on the host's network (nothing, an
    // unreachable error, or a transparent proxy), so the test checks only that the attempt got past
    // resolution and policy to a connection, and that it did not reach our server.
    const attempt = makeAttempt('http-01', dnsIdentifier('private.example.test'));
    responder.setA('private.example.test', ['10.255.255.1']);
    const outcome = await makeValidator({ http01Port: httpPort, dnsResolver: responder.server, timeoutMs: 500 }).validate(attempt);
    assert.equal(outcome.ok, false);
    if (!outcome.ok) {
      assert.notEqual(outcome.error.type, 'dns', outcome.error.detail);
      assert.doesNotMatch(outcome.error.detail, /Refusing/);
    }
    assert.equal(httpRequests, 0);
  });

  const routable = localRoutableAddress();
  it('validates a name that resolves to a routable address of this machine', { skip: routable === undefined ? 'no non-loopback IPv4 interface' : false }, async () => {
    const address = routable ?? '';
    const attempt = makeAttempt('http-01', dnsIdentifier('routable.example.test'));
    responder.setA('routable.example.test', [address]);
    served.set(`/.well-known/acme-challenge/${attempt.token}`, attempt.keyAuthorization);
    assert.deepEqual(await validator().validate(attempt), { ok: true });
    assert.equal(httpRequests, 1);
  });
});
