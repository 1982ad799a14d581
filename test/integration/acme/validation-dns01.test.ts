import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createSocket, type Socket } from 'node:dgram';
import { promises as dns } from 'node:dns';
import { after, before, describe, it } from 'node:test';
import { dns01Digest, type ValidationOutcome } from '../../../src/acme/validation/index.js';
import { startDnsResponder, type DnsResponder } from '../../helpers/dns-responder.js';
import { portOf } from '../../helpers/processes.js';
import { assertEndedAtDeadline, dnsIdentifier, ipIdentifier, makeAttempt, makeValidator, timed } from './validation-fixtures.js';

/** dns-01 (RFC 8555 §8.4) through the in-test DNS responder on 127.0.0.1. */

function assertFailed(outcome: ValidationOutcome, type: string, detail: RegExp): void {
  assert.equal(outcome.ok, false, 'validation should fail');
  if (outcome.ok) return;
  assert.equal(outcome.error.type, type, outcome.error.detail);
  assert.match(outcome.error.detail, detail);
}

describe('the in-test DNS responder', () => {
  let responder: DnsResponder;
  before(async () => {
    responder = await startDnsResponder();
  });
  after(() => responder.close());

  it('answers TXT, A and AAAA from its maps, NXDOMAIN otherwise, case-insensitively', async () => {
    const resolver = new dns.Resolver({ timeout: 2_000, tries: 1 });
    resolver.setServers([responder.server]);
    responder.setTxt('_acme-challenge.Host.Example.Test', ['one', 'x'.repeat(300)]);
    responder.setA('host.example.test', ['192.0.2.7']);
    responder.setAaaa('host.example.test', ['2001:db8::7']);
    const txt = (await resolver.resolveTxt('_acme-challenge.host.example.test')).map((chunks) => chunks.join(''));
    assert.deepEqual(txt.sort(), ['one', 'x'.repeat(300)].sort());
    assert.deepEqual(await resolver.resolve4('HOST.example.test'), ['192.0.2.7']);
    assert.deepEqual(await resolver.resolve6('host.example.test'), ['2001:db8::7']);
    await assert.rejects(resolver.resolveTxt('absent.example.test'), { code: 'ENOTFOUND' });
    responder.clear('host.example.test');
    await assert.rejects(resolver.resolve4('host.example.test'), { code: 'ENOTFOUND' });
    assert.ok(responder.queries.includes('A HOST.example.test') || responder.queries.includes('A host.example.test'));
  });
});

describe('dns-01 validation', () => {
  let responder: DnsResponder;
  let silent: Socket;

  before(async () => {
    responder = await startDnsResponder();
    // A UDP port that takes queries and never answers: a DNS server that hangs.
    silent = createSocket('udp4');
    silent.bind(0, '127.0.0.1');
    await once(silent, 'listening');
  });

  after(async () => {
    await responder.close();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  function validator(timeoutMs = 5_000): ReturnType<typeof makeValidator> {
    return makeValidator({ http01Port: 80, tlsAlpn01Port: 443, dnsResolver: responder.server, timeoutMs });
  }

  it('passes when one of the TXT records is base64url(SHA-256(keyAuthorization))', async () => {
    const attempt = makeAttempt('dns-01', dnsIdentifier('pass.example.test'));
    responder.setTxt('_acme-challenge.pass.example.test', ['v=spf1 -all', dns01Digest(attempt.keyAuthorization), 'another-challenge']);
    assert.deepEqual(await validator().validate(attempt), { ok: true });
    assert.ok(responder.queries.includes('TXT _acme-challenge.pass.example.test'));
  });

  it('computes the digest as RFC 8555 §8.4 says (base64url, no padding, of SHA-256)', () => {
    // SHA-256("abc") = ba7816bf...f20015ad (FIPS 180-2 appendix B.1), in base64url without '='.
    assert.equal(dns01Digest('abc'), 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0');
  });

  it('checks the base name for a wildcard order (the identifier arrives without "*.")', async () => {
    const attempt = makeAttempt('dns-01', dnsIdentifier('wild.example.test'));
    responder.setTxt('_acme-challenge.wild.example.test', [dns01Digest(attempt.keyAuthorization)]);
    assert.deepEqual(await validator().validate(attempt), { ok: true });
  });

  it('fails with incorrectResponse when only other values are published, quoting one', async () => {
    const attempt = makeAttempt('dns-01', dnsIdentifier('wrong.example.test'));
    const other = makeAttempt('dns-01', dnsIdentifier('wrong.example.test'));
    responder.setTxt('_acme-challenge.wrong.example.test', [dns01Digest(other.keyAuthorization)]);
    const outcome = await validator().validate(attempt);
    assertFailed(outcome, 'incorrectResponse', /Incorrect TXT record/);
    if (!outcome.ok) assert.ok(outcome.error.detail.includes(dns01Digest(other.keyAuthorization)));
  });

  it('does not accept the key authorization itself in place of its digest', async () => {
    const attempt = makeAttempt('dns-01', dnsIdentifier('raw.example.test'));
    responder.setTxt('_acme-challenge.raw.example.test', [attempt.keyAuthorization]);
    assertFailed(await validator().validate(attempt), 'incorrectResponse', /Incorrect TXT record/);
  });

  it('fails with unauthorized when the name does not exist (NXDOMAIN)', async () => {
    const attempt = makeAttempt('dns-01', dnsIdentifier('absent.example.test'));
    assertFailed(
      await validator().validate(attempt),
      'unauthorized',
      /No TXT record found at _acme-challenge\.absent\.example\.test \(NXDOMAIN\)/,
    );
  });

  it('fails with unauthorized when the name exists without TXT records', async () => {
    const attempt = makeAttempt('dns-01', dnsIdentifier('notxt.example.test'));
    responder.setA('_acme-challenge.notxt.example.test', ['192.0.2.1']);
    assertFailed(await validator().validate(attempt), 'unauthorized', /No TXT record found/);
  });

  it('fails with dns when the server answers SERVFAIL', async () => {
    const attempt = makeAttempt('dns-01', dnsIdentifier('broken.example.test'));
    responder.failWith('_acme-challenge.broken.example.test', 'SERVFAIL');
    assertFailed(await validator().validate(attempt), 'dns', /SERVFAIL/);
  });

  it('fails with dns, within its bound, when the DNS server never answers', async () => {
    const attempt = makeAttempt('dns-01', dnsIdentifier('slow.example.test'));
    const hanging = makeValidator({ dnsResolver: `127.0.0.1:${portOf(silent.address())}`, timeoutMs: 400 });
    const { value, ms } = await timed(hanging.validate(attempt));
    assertFailed(value, 'dns', /timed out|timeout/);
    assertEndedAtDeadline(ms, 400, 'dns-01 against a silent resolver');
  });

  it('refuses an IP identifier (RFC 8738 §7)', async () => {
    const attempt = makeAttempt('dns-01', ipIdentifier('192.0.2.1'));
    assertFailed(await validator().validate(attempt), 'unauthorized', /RFC 8738/);
  });
});
