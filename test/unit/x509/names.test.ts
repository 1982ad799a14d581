import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDomainError } from '../../../src/shared/errors.js';
import { normalizeDnsName, normalizeIpAddress } from '../../../src/x509/index.js';

describe('normalizeDnsName (RFC 1034 §3.5)', () => {
  it('lowercases valid names and allows a leading wildcard label only when asked', () => {
    assert.equal(normalizeDnsName('WWW.Example.COM'), 'www.example.com');
    assert.equal(normalizeDnsName('localhost'), 'localhost');
    assert.equal(normalizeDnsName('xn--bcher-kva.example'), 'xn--bcher-kva.example');
    assert.equal(normalizeDnsName('*.example.com', { allowWildcard: true }), '*.example.com');
    assert.throws(
      () => normalizeDnsName('*.example.com'),
      (err: unknown) => isDomainError(err, 'rejectedIdentifier'),
    );
  });

  it('refuses what is not a host name', () => {
    for (const bad of [
      '',
      'a..b',
      '-a.example',
      'a-.example',
      'under_score.example',
      'example.com.',
      'a.*.example',
      '*',
      `${'a'.repeat(64)}.example`,
      `${'a.'.repeat(127)}a`,
    ]) {
      assert.throws(
        () => normalizeDnsName(bad, { allowWildcard: true }),
        (err: unknown) => isDomainError(err),
        bad,
      );
    }
  });
});

describe('normalizeIpAddress', () => {
  it('gives dotted quads and RFC 5952 IPv6', () => {
    assert.equal(normalizeIpAddress('192.0.2.1'), '192.0.2.1');
    assert.equal(normalizeIpAddress('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.equal(normalizeIpAddress('::1'), '::1');
    assert.equal(normalizeIpAddress('::'), '::');
    assert.equal(normalizeIpAddress('::ffff:192.0.2.1'), '::ffff:c000:201');
  });

  it('refuses zone ids, leading zeros and non-addresses', () => {
    for (const bad of ['fe80::1%eth0', '010.0.0.1', '1.2.3', 'example.com', '']) {
      assert.throws(
        () => normalizeIpAddress(bad),
        (err: unknown) => isDomainError(err, 'malformed'),
        bad,
      );
    }
  });
});
