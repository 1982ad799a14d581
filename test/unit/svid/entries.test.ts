import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_JWT_TTL_MS, DEFAULT_X509_TTL_MS } from '../../../src/svid/index.js';
import { countRows, DAY, HOUR, MINUTE, NODE, openBench, SECOND, rejectsWith, service, WEB, type Bench } from './helpers.js';

/** Registration entries through SvidService on a real ledger file: validation, defaults, and that refusals write nothing. */

let bench: Bench;

before(async () => {
  bench = await openBench('svid-entries');
});

after(() => bench.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('SvidService entries: create', () => {
  it('applies the default TTLs (x509 1 h, jwt 5 min), a UUID id, the actor, and lowercases DNS names without duplicates', async () => {
    const svids = service(bench);
    const entry = await svids.createEntry('cli:alice', {
      spiffeId: `${WEB}/defaults`,
      parentId: NODE,
      dnsNames: ['Web.Example.COM', 'web.example.com', 'api.example.com'],
    });
    assert.match(entry.id, UUID);
    assert.equal(entry.x509TtlMs, DEFAULT_X509_TTL_MS);
    assert.equal(entry.x509TtlMs, HOUR);
    assert.equal(entry.jwtTtlMs, DEFAULT_JWT_TTL_MS);
    assert.equal(entry.jwtTtlMs, 5 * MINUTE);
    assert.deepEqual(entry.dnsNames, ['web.example.com', 'api.example.com']);
    assert.equal(entry.admin, false);
    assert.equal(entry.expiresAt, null);
    assert.equal(entry.createdBy, 'cli:alice');
    assert.equal(entry.createdAt, bench.clock.now());
    assert.deepEqual(await svids.getEntry(entry.id), entry);
  });

  it('keeps ids stable across reads, lists and updates, and gives each entry its own', async () => {
    const svids = service(bench);
    const a = await svids.createEntry('cli:alice', { spiffeId: `${WEB}/stable`, parentId: NODE });
    const b = await svids.createEntry('cli:alice', { spiffeId: `${WEB}/stable`, parentId: 'spiffe://example.org/node/agent-9' });
    assert.notEqual(a.id, b.id);
    const listed = (await svids.listEntries({ spiffeId: `${WEB}/stable` })).items.map((entry) => entry.id).sort();
    assert.deepEqual(listed, [a.id, b.id].sort());
    bench.clock.advance(SECOND);
    const updated = await svids.updateEntry(a.id, { x509TtlMs: 2 * HOUR, dnsNames: ['New.Example.org'] });
    assert.equal(updated.id, a.id);
    assert.equal(updated.x509TtlMs, 2 * HOUR);
    assert.deepEqual(updated.dnsNames, ['new.example.org']);
    assert.equal(updated.updatedAt, bench.clock.now());
    assert.equal(updated.createdAt, a.createdAt);
  });

  it('accepts an admin entry exactly when the SPIFFE ID lies under /admin/<name> and the flag is set', async () => {
    const entry = await service(bench).createEntry('cli:root', { spiffeId: 'spiffe://example.org/admin/ops', parentId: NODE, admin: true });
    assert.equal(entry.admin, true);
  });

  it('accepts the configured maximum x509 TTL and refuses one second more', async () => {
    const svids = service(bench, { maxX509TtlMs: 2 * HOUR });
    assert.equal((await svids.createEntry('cli:a', { spiffeId: `${WEB}/max`, parentId: NODE, x509TtlMs: 2 * HOUR })).x509TtlMs, 2 * HOUR);
    await rejectsWith(
      svids.createEntry('cli:a', { spiffeId: `${WEB}/max2`, parentId: NODE, x509TtlMs: 2 * HOUR + SECOND }),
      'malformed',
      /x509 ttl 7201 s exceeds the maximum of 7200 s/,
    );
  });

  it("never configures a maximum above the svid profile's 24 h", () => {
    assert.throws(() => service(bench, { maxX509TtlMs: DAY + SECOND }), RangeError);
    assert.throws(() => service(bench, { maxX509TtlMs: 0 }), RangeError);
  });

  it('refuses a second entry for the same SPIFFE ID and parent (conflict)', async () => {
    const svids = service(bench);
    await svids.createEntry('cli:a', { spiffeId: `${WEB}/dup`, parentId: NODE });
    const rows = countRows(bench, 'registration_entries');
    await rejectsWith(svids.createEntry('cli:a', { spiffeId: `${WEB}/dup`, parentId: NODE }), 'conflict', /./);
    assert.equal(countRows(bench, 'registration_entries'), rows);
  });
});

describe('SvidService entries: refusals write nothing', () => {
  const cases: readonly {
    name: string;
    input: Parameters<ReturnType<typeof service>['createEntry']>[1];
    kind: 'malformed' | 'rejectedIdentifier';
    detail: RegExp;
  }[] = [
    {
      name: 'an invalid SPIFFE ID',
      input: { spiffeId: 'spiffe://example.org/a//b', parentId: NODE },
      kind: 'malformed',
      detail: /invalid SPIFFE ID.*empty segment/,
    },
    {
      name: 'an upper-case scheme',
      input: { spiffeId: 'SPIFFE://example.org/a', parentId: NODE },
      kind: 'malformed',
      detail: /scheme must be lowercase/,
    },
    {
      name: 'an invalid parent ID',
      input: { spiffeId: `${WEB}/x`, parentId: 'https://example.org/node/a' },
      kind: 'malformed',
      detail: /invalid SPIFFE ID/,
    },
    {
      name: 'another trust domain',
      input: { spiffeId: 'spiffe://other.org/web', parentId: NODE },
      kind: 'rejectedIdentifier',
      detail: /not in trust domain example\.org/,
    },
    {
      name: 'a parent in another trust domain',
      input: { spiffeId: `${WEB}/x`, parentId: 'spiffe://other.org/node/a' },
      kind: 'rejectedIdentifier',
      detail: /parent_id .* not in trust domain/,
    },
    {
      name: 'the trust domain itself',
      input: { spiffeId: 'spiffe://example.org', parentId: NODE },
      kind: 'rejectedIdentifier',
      detail: /has no path/,
    },
    {
      name: 'a node identity',
      input: { spiffeId: 'spiffe://example.org/node/agent-7', parentId: NODE },
      kind: 'rejectedIdentifier',
      detail: /node identities come only from join tokens or keysmith issue/,
    },
    {
      name: 'an /admin/ ID without the flag',
      input: { spiffeId: 'spiffe://example.org/admin/ops2', parentId: NODE },
      kind: 'malformed',
      detail: /set admin to true/,
    },
    {
      name: 'the flag outside /admin/',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, admin: true },
      kind: 'malformed',
      detail: /does not lie under \/admin\//,
    },
    {
      name: 'bare /admin',
      input: { spiffeId: 'spiffe://example.org/admin', parentId: NODE, admin: true },
      kind: 'rejectedIdentifier',
      detail: /admin identities are \/admin\/<name>/,
    },
    {
      name: 'an x509 TTL above 24 h',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, x509TtlMs: DAY + SECOND },
      kind: 'malformed',
      detail: /exceeds the maximum of 86400 s/,
    },
    {
      name: 'an x509 TTL under 1 s',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, x509TtlMs: 999 },
      kind: 'malformed',
      detail: /at least 1 s/,
    },
    {
      name: 'a fractional TTL',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, x509TtlMs: 1500.5 },
      kind: 'malformed',
      detail: /whole number/,
    },
    {
      name: 'a jwt TTL above 24 h',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, jwtTtlMs: DAY + SECOND },
      kind: 'malformed',
      detail: /jwt ttl .* exceeds/,
    },
    {
      name: 'a jwt TTL of 0',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, jwtTtlMs: 0 },
      kind: 'malformed',
      detail: /jwt ttl must be at least 1 s/,
    },
    {
      name: '101 DNS names',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, dnsNames: Array.from({ length: 101 }, (_, i) => `h${i}.example.org`) },
      kind: 'malformed',
      detail: /at most 100 DNS names/,
    },
    {
      name: 'an invalid DNS name',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, dnsNames: ['bad_name.example.org'] },
      kind: 'malformed',
      detail: /not a valid DNS name/,
    },
    {
      name: 'a wildcard DNS name',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, dnsNames: ['*.example.org'] },
      kind: 'rejectedIdentifier',
      detail: /wildcard/,
    },
    {
      name: 'an expiry now',
      input: { spiffeId: `${WEB}/x`, parentId: NODE, expiresAt: 0 },
      kind: 'malformed',
      detail: /expires_at .* is not in the future/,
    },
  ];

  for (const { name, input, kind, detail } of cases) {
    it(`refuses ${name} (${kind})`, async () => {
      const rows = countRows(bench, 'registration_entries');
      await rejectsWith(service(bench).createEntry('cli:a', input), kind, detail);
      assert.equal(countRows(bench, 'registration_entries'), rows);
    });
  }

  it('refuses an expiry that is not after now, and takes one a millisecond later', async () => {
    const svids = service(bench);
    await rejectsWith(
      svids.createEntry('cli:a', { spiffeId: `${WEB}/exp`, parentId: NODE, expiresAt: bench.clock.now() }),
      'malformed',
      /not in the future/,
    );
    assert.equal(
      (await svids.createEntry('cli:a', { spiffeId: `${WEB}/exp`, parentId: NODE, expiresAt: bench.clock.now() + 1 })).expiresAt,
      bench.clock.now() + 1,
    );
  });

  it('refuses an unnamed actor', async () => {
    await rejectsWith(service(bench).createEntry('', { spiffeId: `${WEB}/x`, parentId: NODE }), 'malformed', /operator is not named/);
  });
});

describe('SvidService entries: update, get, delete, list', () => {
  it('validates a patch like a new entry and leaves the row as it was on refusal', async () => {
    const svids = service(bench, { maxX509TtlMs: 4 * HOUR });
    const entry = await svids.createEntry('cli:a', { spiffeId: `${WEB}/patch`, parentId: NODE });
    await rejectsWith(svids.updateEntry(entry.id, { x509TtlMs: 5 * HOUR }), 'malformed', /exceeds the maximum/);
    await rejectsWith(svids.updateEntry(entry.id, { parentId: 'spiffe://other.org/node/x' }), 'rejectedIdentifier', /not in trust domain/);
    await rejectsWith(svids.updateEntry(entry.id, { admin: true }), 'malformed', /does not lie under \/admin\//);
    await rejectsWith(svids.updateEntry(entry.id, { expiresAt: bench.clock.now() - 1 }), 'malformed', /not in the future/);
    assert.deepEqual(await svids.getEntry(entry.id), entry);
  });

  it('clears an expiry with null and sets one in the future', async () => {
    const svids = service(bench);
    const entry = await svids.createEntry('cli:a', { spiffeId: `${WEB}/expiry`, parentId: NODE, expiresAt: bench.clock.now() + HOUR });
    assert.equal((await svids.updateEntry(entry.id, { expiresAt: null })).expiresAt, null);
    assert.equal((await svids.updateEntry(entry.id, { expiresAt: bench.clock.now() + DAY })).expiresAt, bench.clock.now() + DAY);
  });

  it('answers notFound for an unknown id on get, update and delete', async () => {
    const svids = service(bench);
    const unknown = '00000000-0000-4000-8000-000000000000';
    await rejectsWith(svids.getEntry(unknown), 'notFound', /no registration entry 00000000-/);
    await rejectsWith(svids.updateEntry(unknown, { jwtTtlMs: MINUTE }), 'notFound', /no registration entry/);
    await rejectsWith(svids.deleteEntry(unknown), 'notFound', /no registration entry/);
  });

  it('deletes an entry once; the second delete is notFound', async () => {
    const svids = service(bench);
    const entry = await svids.createEntry('cli:a', { spiffeId: `${WEB}/delete`, parentId: NODE });
    await svids.deleteEntry(entry.id);
    await rejectsWith(svids.getEntry(entry.id), 'notFound', /./);
    await rejectsWith(svids.deleteEntry(entry.id), 'notFound', /./);
  });

  it('pages through a listing with a cursor and refuses a limit outside 1..500', async () => {
    const svids = service(bench);
    const parent = 'spiffe://example.org/node/pager';
    for (let i = 0; i < 5; i++) await svids.createEntry('cli:a', { spiffeId: `${WEB}/page-${i}`, parentId: parent });
    const first = await svids.listEntries({ parentId: parent, limit: 3 });
    assert.equal(first.items.length, 3);
    assert.ok(first.nextCursor !== null);
    const second = await svids.listEntries({ parentId: parent, limit: 3, cursor: first.nextCursor });
    assert.equal(second.items.length, 2);
    assert.equal(new Set([...first.items, ...second.items].map((entry) => entry.id)).size, 5);
    await rejectsWith(svids.listEntries({ limit: 0 }), 'malformed', /limit must be an integer from 1 to 500/);
    await rejectsWith(svids.listEntries({ limit: 501 }), 'malformed', /limit/);
  });
});
