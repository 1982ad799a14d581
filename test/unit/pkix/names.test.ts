import '../../helpers/fast-check-seed.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isDomainError } from '../../../src/shared/errors.js';
import {
  constraintViolation,
  dnsWithin,
  formatIpAddress,
  ipWithin,
  matchesDnsName,
  nameWithin,
  octetsToIp,
  parseIpAddress,
  uriHost,
  type DistinguishedName,
  type GeneralName,
  type NameConstraints,
} from '../../../src/pkix/index.js';

/** The one IP parser, DNS and URI matching, and RFC 5280 §4.2.1.10 name constraints. */

const hex = (text: string | undefined): string | undefined => parseIpAddress(text ?? '')?.toString('hex');

describe('IP addresses (RFC 5280 §4.2.1.6, RFC 5952)', () => {
  it('parses IPv4 and every IPv6 form to octets', () => {
    assert.equal(hex('192.0.2.1'), 'c0000201');
    assert.equal(hex('::'), '0'.repeat(32));
    assert.equal(hex('1::'), `0001${'0'.repeat(28)}`);
    assert.equal(hex('2001:DB8::1'), '20010db8000000000000000000000001');
    assert.equal(hex('::ffff:192.0.2.1'), '00000000000000000000ffffc0000201');
    assert.equal(hex('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
  });

  it('refuses leading zeros, zone ids, out-of-range parts and non-addresses', () => {
    const bad4 = ['010.0.0.1', '1.2.3.04', '256.1.1.1', '1.2.3', ' 1.2.3.4', 'example.com', ''];
    for (const bad of [...bad4, 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '1::2::3', '::ffff:01.2.3.4']) {
      assert.equal(parseIpAddress(bad), undefined, bad);
    }
  });

  it('formats RFC 5952 §4: lowercase, no leading zeros, the first longest zero run as ::', () => {
    const format = (text: string): string | undefined => formatIpAddress(parseIpAddress(text) ?? Uint8Array.of());
    assert.equal(format('2001:0DB8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
    assert.equal(format('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
    assert.equal(format('2001:db8:1:1:1:1:0:1'), '2001:db8:1:1:1:1:0:1');
    assert.equal(format('0:0:0:0:0:0:0:0'), '::');
    assert.equal(format('10.0.0.1'), '10.0.0.1');
    assert.equal(formatIpAddress(Uint8Array.of(1, 2, 3, 4, 5)), undefined);
    assert.throws(
      () => octetsToIp(Uint8Array.of(1, 2, 3)),
      (error: unknown) => isDomainError(error, 'malformed'),
    );
  });

  it('round-trips any 4 or 16 octets through text', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), (octets) => {
        const text = formatIpAddress(octets);
        assert.ok(text !== undefined);
        assert.deepEqual([...(parseIpAddress(text) ?? [])], [...octets], text);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('DNS and URI names', () => {
  it('matches a wildcard as exactly one whole left-most label (RFC 6125 §6.4.3)', () => {
    assert.equal(matchesDnsName('*.example.com', 'a.example.com'), true);
    assert.equal(matchesDnsName('*.Example.COM', 'a.example.com'), true);
    assert.equal(matchesDnsName('*.example.com', 'example.com'), false);
    assert.equal(matchesDnsName('*.example.com', 'a.b.example.com'), false);
    assert.equal(matchesDnsName('*.com', 'example.com'), false);
    assert.equal(matchesDnsName('a*.example.com', 'ab.example.com'), false);
    assert.equal(matchesDnsName('WWW.example.com', 'www.example.com'), true);
  });

  it('takes the host of a URI, lowercased, and nothing from URIs without one', () => {
    assert.equal(uriHost('spiffe://example.org/ns/web'), 'example.org');
    assert.equal(uriHost('https://user@Host.Example:8443/path?q#f'), 'host.example');
    assert.equal(uriHost('https://[::1]/'), undefined);
    assert.equal(uriHost('https://10.0.0.1/'), undefined);
    assert.equal(uriHost('urn:uuid:1234'), undefined);
    assert.equal(uriHost('mailto:a@example.com'), undefined);
  });
});

function dn(...rdns: string[]): DistinguishedName {
  const parts = rdns.map((r) => Buffer.from(r, 'latin1'));
  return { der: Buffer.concat(parts), rdns: parts };
}

const ipConstraint = (address: number[], mask: number[]): GeneralName => ({ kind: 'iPAddress', value: Buffer.from([...address, ...mask]) });

describe('name constraints (RFC 5280 §4.2.1.10)', () => {
  it('dNSName: labels added on the left satisfy the constraint, a suffix of a label does not', () => {
    assert.equal(dnsWithin('example.com', 'example.com'), true);
    assert.equal(dnsWithin('www.Example.com', 'example.COM'), true);
    assert.equal(dnsWithin('badexample.com', 'example.com'), false);
    assert.equal(dnsWithin('example.com', '.example.com'), false);
    assert.equal(dnsWithin('a.example.com', '.example.com'), true);
    assert.equal(dnsWithin('anything.test', ''), true);
  });

  it('URI: ".example.com" is any subdomain host, "host.example.com" that host only; no host never matches', () => {
    const base = (value: string): GeneralName => ({ kind: 'uniformResourceIdentifier', value });
    const uri = (value: string) => ({ kind: 'uniformResourceIdentifier', value }) as const;
    assert.equal(nameWithin(uri('https://www.example.com/x'), base('.example.com')), true);
    assert.equal(nameWithin(uri('https://example.com/'), base('.example.com')), false);
    assert.equal(nameWithin(uri('https://host.example.com:443/'), base('host.example.com')), true);
    assert.equal(nameWithin(uri('https://www.host.example.com/'), base('host.example.com')), false);
    assert.equal(nameWithin(uri('urn:x:host.example.com'), base('host.example.com')), false);
    assert.equal(nameWithin(uri('https://[2001:db8::1]/'), base('.example.com')), false);
  });

  it('iPAddress: address and mask of the same family; IPv4 never matches an IPv6 range', () => {
    const net = Buffer.from([192, 0, 2, 0, 255, 255, 255, 0]);
    assert.equal(ipWithin(Buffer.from([192, 0, 2, 77]), net), true);
    assert.equal(ipWithin(Buffer.from([192, 0, 3, 1]), net), false);
    assert.equal(ipWithin(parseIpAddress('::ffff:192.0.2.77') ?? Buffer.alloc(0), net), false);
    const v6 = Buffer.concat([parseIpAddress('2001:db8::') ?? Buffer.alloc(16), parseIpAddress('ffff:ffff::') ?? Buffer.alloc(16)]);
    assert.equal(ipWithin(parseIpAddress('2001:db8:1::5') ?? Buffer.alloc(16), v6), true);
    assert.equal(ipWithin(parseIpAddress('2001:db9::5') ?? Buffer.alloc(16), v6), false);
  });

  it('directoryName: the constraint RDNs are a prefix of the name', () => {
    const base: GeneralName = { kind: 'directoryName', value: dn('C=US', 'O=Example') };
    assert.equal(nameWithin({ kind: 'directoryName', value: dn('C=US', 'O=Example', 'CN=a') }, base), true);
    assert.equal(nameWithin({ kind: 'directoryName', value: dn('C=US', 'O=Other', 'CN=a') }, base), false);
    assert.equal(nameWithin({ kind: 'directoryName', value: dn('C=US') }, base), false);
  });

  it('excluded wins over permitted; permitted restricts only its own form; constrained unknown forms are refused', () => {
    const constraints: NameConstraints = {
      permitted: [{ kind: 'dNSName', value: 'example.com' }],
      excluded: [
        { kind: 'dNSName', value: 'bad.example.com' },
        { kind: 'other', tag: 0x81 },
      ],
    };
    assert.equal(constraintViolation([{ kind: 'dNSName', value: 'www.example.com' }], [], constraints), undefined);
    assert.equal(constraintViolation([{ kind: 'dNSName', value: 'x.bad.example.com' }], [], constraints), 'x.bad.example.com is excluded');
    assert.equal(constraintViolation([{ kind: 'dNSName', value: 'example.org' }], [], constraints), 'example.org is not permitted');
    // No permitted iPAddress subtree: any address passes (§4.2.1.10 applies each form separately).
    assert.equal(constraintViolation([{ kind: 'iPAddress', value: Buffer.from([10, 0, 0, 1]) }], [], constraints), undefined);
    assert.equal(constraintViolation([], [0x81], constraints), 'cannot check names of tag 0x81');
    assert.equal(constraintViolation([], [0xa0], constraints), undefined);
    const byIp: NameConstraints = { permitted: [ipConstraint([10, 0, 0, 0], [255, 0, 0, 0])], excluded: [] };
    assert.equal(constraintViolation([{ kind: 'iPAddress', value: Buffer.from([11, 0, 0, 1]) }], [], byIp), '11.0.0.1 is not permitted');
  });
});
