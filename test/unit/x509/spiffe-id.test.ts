import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDomainError } from '../../../src/shared/errors.js';
import { formatSpiffeId, isPathUnder, parseSpiffeId, parseTrustDomain } from '../../../src/x509/index.js';

describe('parseSpiffeId (SPIFFE-ID spec §2)', () => {
  it('parses trust domain and path', () => {
    assert.deepEqual(parseSpiffeId('spiffe://example.org/ns/prod/sa/web'), { trustDomain: 'example.org', path: '/ns/prod/sa/web' });
    assert.deepEqual(parseSpiffeId('spiffe://example.org'), { trustDomain: 'example.org', path: '' });
    assert.deepEqual(parseSpiffeId('spiffe://a_b-c.d9/A.b-C_9/x'), { trustDomain: 'a_b-c.d9', path: '/A.b-C_9/x' });
    assert.equal(formatSpiffeId(parseSpiffeId('spiffe://example.org/x/y')), 'spiffe://example.org/x/y');
  });

  const invalid: readonly (readonly [string, RegExp])[] = [
    ['', /empty/],
    ['https://example.org/web', /scheme must be "spiffe:\/\/"/],
    ['SPIFFE://example.org/web', /scheme must be lowercase "spiffe"/],
    ['spiffe:/example.org/web', /scheme must be "spiffe:\/\/"/],
    ['spiffe:///web', /trust domain is missing/],
    ['spiffe://Example.org/web', /lowercase letters, digits/],
    ['spiffe://example.org:8443/web', /a port is not allowed/],
    ['spiffe://user@example.org/web', /user info is not allowed/],
    ['spiffe://example.org/web?x=1', /a query is not allowed/],
    ['spiffe://example.org/web#frag', /a fragment is not allowed/],
    ['spiffe://example.org/', /trailing "\/" is not allowed/],
    ['spiffe://example.org/web/', /trailing "\/" is not allowed/],
    ['spiffe://example.org//web', /empty segment/],
    ['spiffe://example.org/./web', /path segment "\." is not allowed/],
    ['spiffe://example.org/web/..', /path segment "\.\." is not allowed/],
    ['spiffe://example.org/w%20b', /may contain only letters, digits/],
    ['spiffe://example.org/wéb', /may contain only letters, digits/],
    ['spiffe://exa mple.org/web', /lowercase letters, digits/],
    [`spiffe://${'a'.repeat(256)}/web`, /longer than 255/],
    [`spiffe://example.org/${'a'.repeat(2040)}`, /longer than 2048 bytes/],
  ];
  for (const [input, message] of invalid) {
    it(`refuses ${JSON.stringify(input.slice(0, 48))} as malformed`, () => {
      assert.throws(
        () => parseSpiffeId(input),
        (err: unknown) => isDomainError(err, 'malformed') && message.test(err.detail),
      );
    });
  }
});

describe('parseTrustDomain and isPathUnder', () => {
  it('checks a bare trust domain', () => {
    assert.equal(parseTrustDomain('keysmith.local'), 'keysmith.local');
    assert.throws(() => parseTrustDomain('keysmith.local:8443'), /port/);
    assert.throws(() => parseTrustDomain(''), /empty/);
  });

  it('compares paths segment-wise', () => {
    assert.ok(isPathUnder('/node/a', '/node'));
    assert.ok(isPathUnder('/node', '/node'));
    assert.ok(!isPathUnder('/nodes/a', '/node'));
  });
});
