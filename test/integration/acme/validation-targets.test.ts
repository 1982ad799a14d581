import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
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

/** A loopback address the tests name routable: validation traffic never leaves 127.0.0.0/8. */
const ROUTABLE_ADDRESS = '127.0.0.2';

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
    for (const address of [
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '100.64.0.1',
      '8.8.8.8',
      'fd00::1',
      '2606:4700::1111',
      '::ffff:10.0.0.1',
    ]) {
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
    for (const cidr of ['127.0.0.2', '127.0.0.0/33', 'fe80::1%eth0/64', 'localhost/8', '10.0.0.0/8/8']) {
      assert.throws(() => createChallengeValidator({ ...base, routableRanges: [cidr] }), TypeError, cidr);
    }
    assert.doesNotThrow(() => createChallengeValidator({ ...base, dnsResolver: '[::1]:5353' }));
    assert.doesNotThrow(() => createChallengeValidator({ ...base, dnsResolver: '127.0.0.1' }));
  });
});

describe('validation without validationAddress (names resolved through DNS)', () => {
  let responder: DnsResponder;
  let http: Server;
  let routableHttp: Server;
  let httpPort: number;
  let tcp: TcpServer;
  let tcpPort: number;
  let httpRequests: number;
  let tcpConnections: number;
  const sockets = new Set<Socket>();
  let served: Map<string, string>;

  before(async () => {
    responder = await startDnsResponder();
    const answer = (request: IncomingMessage, response: ServerResponse): void => {
      httpRequests++;
      const body = served.get(request.url ?? '');
      response.statusCode = body === undefined ? 404 : 200;
      response.end(body ?? '');
    };
    const track = (socket: Socket): void => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    };
    http = createServer(answer).on('connection', track);
    http.listen(0, '127.0.0.1');
    await once(http, 'listening');
    httpPort = portOf(http.address());
    // The same target on 127.0.0.2, an address a test configuration names routable: everything stays on loopback.
    routableHttp = createServer(answer).on('connection', track);
    routableHttp.listen(httpPort, ROUTABLE_ADDRESS);
    await once(routableHttp, 'listening');
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
    await new Promise<void>((resolve) => routableHttp.close(() => resolve()));
    await new Promise<void>((resolve) => tcp.close(() => resolve()));
    await responder.close();
  });

  beforeEach(() => {
    httpRequests = 0;
    tcpConnections = 0;
    served = new Map();
  });

  function validatorOptions() {
    return { http01Port: httpPort, tlsAlpn01Port: tcpPort, dnsResolver: responder.server, timeoutMs: 5_000 };
  }

  function validator(): ReturnType<typeof makeValidator> {
    return makeValidator(validatorOptions());
  }

  it('refuses http-01 to a name that resolves to 127.0.0.1, without connecting', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('loop.example.test'));
    responder.setA('loop.example.test', ['127.0.0.1']);
    served.set(`/.well-known/acme-challenge/${attempt.token}`, attempt.keyAuthorization);
    assertFailed(
      await validator().validate(attempt),
      'connection',
      /Refusing to connect to 127\.0\.0\.1, an address of loop\.example\.test: it is loopback/,
    );
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
    assertFailed(
      await validator().validate(makeAttempt('http-01', dnsIdentifier('txtonly.example.test'))),
      'dns',
      /No valid A or AAAA records/,
    );
    assertFailed(
      await validator().validate(makeAttempt('tls-alpn-01', dnsIdentifier('nowhere.example.test'))),
      'dns',
      /No valid A or AAAA records/,
    );
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

  it('connects to an address the policy refuses when the configuration names it routable, and to nothing else', async () => {
    const attempt = makeAttempt('http-01', dnsIdentifier('routable.example.test'));
    responder.setA('routable.example.test', [ROUTABLE_ADDRESS]);
    served.set(`/.well-known/acme-challenge/${attempt.token}`, attempt.keyAuthorization);
    // Without the exemption 127.0.0.2 is loopback: refused before any connection.
    assertFailed(await validator().validate(attempt), 'connection', /Refusing to connect to 127\.0\.0\.2.*loopback/);
    assert.equal(httpRequests, 0);
    const exempt = makeValidator({ ...validatorOptions(), routableRanges: [`${ROUTABLE_ADDRESS}/32`] });
    assert.deepEqual(await exempt.validate(attempt), { ok: true });
    assert.equal(httpRequests, 1);
    // The exemption is that range only: 127.0.0.1 stays refused.
    responder.setA('loop2.example.test', ['127.0.0.1']);
    assertFailed(
      await exempt.validate(makeAttempt('http-01', dnsIdentifier('loop2.example.test'))),
      'connection',
      /127\.0\.0\.1.*loopback/,
    );
  });

  it('goes past resolution and policy to a connection for an allowed address where nothing listens', async () => {
    // 127.0.0.3 is named routable and nothing listens there: the attempt fails at connect, not at dns or policy.
    const attempt = makeAttempt('http-01', dnsIdentifier('silent.example.test'));
    responder.setA('silent.example.test', ['127.0.0.3']);
    const outcome = await makeValidator({ ...validatorOptions(), routableRanges: ['127.0.0.3/32'], timeoutMs: 2_000 }).validate(attempt);
    assertFailed(outcome, 'connection', /127\.0\.0\.3/);
    assert.doesNotMatch(outcome.ok ? '' : outcome.error.detail, /Refusing/);
    assert.equal(httpRequests, 0);
  });
});
