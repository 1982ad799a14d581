import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { principalOf, principalOfCached, type PeerLeaf } from '../../../src/http/plugins/mtls-peer.js';
import { plainJsonFor200 } from '../../../src/http/plugins/fast-serializer.js';

const Body = z.object({ name: z.string() });

describe('plainJsonFor200', () => {
  it('writes a 200 body with JSON.stringify as given', () => {
    const serialize = plainJsonFor200({ schema: Body, method: 'POST', url: '/x', httpStatus: '200' });
    assert.equal(serialize({ name: 'a', extra: 1 }), '{"name":"a","extra":1}');
  });

  it('keeps the zod serializer for other statuses: unknown keys stripped, bad bodies refused', () => {
    const serialize = plainJsonFor200({ schema: Body, method: 'POST', url: '/x', httpStatus: '400' });
    assert.equal(serialize({ name: 'a', extra: 1 }), '{"name":"a"}');
    assert.throws(() => serialize({ name: 1 }), { code: 'FST_ERR_RESPONSE_SERIALIZATION' });
  });

  it('refuses at compile time a non-200 response without a zod schema', () => {
    assert.throws(() => plainJsonFor200({ schema: { type: 'object' }, method: 'GET', url: '/y', httpStatus: '500' }), /no zod schema/);
  });
});

describe('principalOfCached', () => {
  const leaf = (uris: string[]): PeerLeaf => ({ serialNumber: '0a', uris, isCA: false, notAfter: new Date(0) });

  it('answers as principalOf, per leaf and per trust domain', () => {
    const admin = leaf(['spiffe://example.org/admin/alice']);
    assert.deepEqual(principalOfCached(admin, 'example.org'), principalOf(admin, 'example.org'));
    assert.equal(principalOfCached(admin, 'example.org')?.kind, 'admin');
    // A memo for one trust domain never answers for another.
    assert.equal(principalOfCached(admin, 'other.org'), undefined);
    assert.equal(principalOfCached(leaf(['spiffe://example.org/a', 'spiffe://example.org/b']), 'example.org'), undefined);
  });
});
