import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import type { SvidCaller } from '../../../src/svid/index.js';
import { countRows, MINUTE, NODE, OTHER_NODE, openBench, rejectsWith, SECOND, service, WEB, type Bench } from './helpers.js';

/** JWT-SVIDs: authorization like X.509-SVIDs, claims from the entry, verified by jose against the bundle's JWT authority. */

let bench: Bench;

before(async () => {
  bench = await openBench('svid-jwt');
});

after(() => bench.close());

function caller(spiffeId: string): SvidCaller {
  return { spiffeId, serial: '02', kind: 'workload' };
}

async function verify(token: string, audience: string): Promise<Record<string, unknown>> {
  const [authority] = service(bench).jwtAuthorities();
  assert.ok(authority !== undefined);
  const { payload } = await jwtVerify(token, await importJWK(authority, 'ES256'), {
    audience,
    algorithms: ['ES256'],
    typ: 'JWT',
    currentDate: new Date(bench.clock.now()),
  });
  return payload;
}

describe('SvidService.issueJwt', () => {
  it("signs sub, aud, iat and exp (the entry's jwt TTL) for the caller's own SPIFFE ID by default", async () => {
    const spiffeId = `${WEB}/jwt-self`;
    await service(bench).createEntry('cli:a', { spiffeId, parentId: NODE, jwtTtlMs: 2 * MINUTE });
    const rows = countRows(bench, 'certificates');
    const jwt = await service(bench).issueJwt(caller(spiffeId), { audience: ['https://api.example.org', 'spiffe://example.org/db'] });
    const iat = Math.floor(bench.clock.now() / SECOND);
    assert.equal(jwt.spiffeId, spiffeId);
    assert.equal(jwt.issuedAt, iat * SECOND);
    assert.equal(jwt.expiresAt, (iat + 120) * SECOND);
    const payload = await verify(jwt.token, 'spiffe://example.org/db');
    assert.deepEqual(payload, { sub: spiffeId, aud: ['https://api.example.org', 'spiffe://example.org/db'], iat, exp: iat + 120 });
    assert.equal(decodeProtectedHeader(jwt.token).kid, bench.jwt.kid);
    // A JWT-SVID is not a certificate: the ledger's certificates table is untouched.
    assert.equal(countRows(bench, 'certificates'), rows);
  });

  it("signs for a child SPIFFE ID when the caller is the entry's parent, with the 5 min default", async () => {
    const spiffeId = `${WEB}/jwt-child`;
    await service(bench).createEntry('cli:a', { spiffeId, parentId: NODE });
    const jwt = await service(bench).issueJwt(caller(NODE), { audience: ['aud-1', 'aud-1'], spiffeId });
    const payload = await verify(jwt.token, 'aud-1');
    assert.equal(payload['sub'], spiffeId);
    assert.deepEqual(payload['aud'], ['aud-1']);
    assert.equal(jwt.expiresAt - jwt.issuedAt, 5 * MINUTE);
  });

  it('refuses a caller no entry names, and an expired entry (forbidden)', async () => {
    const spiffeId = `${WEB}/jwt-guarded`;
    const entry = await service(bench).createEntry('cli:a', { spiffeId, parentId: NODE, expiresAt: bench.clock.now() + SECOND });
    await rejectsWith(
      service(bench).issueJwt(caller(OTHER_NODE), { audience: ['a'], spiffeId }),
      'forbidden',
      new RegExp(`no registration entry lets ${OTHER_NODE} obtain ${spiffeId}`),
    );
    bench.clock.advance(SECOND);
    try {
      await rejectsWith(
        service(bench).issueJwt(caller(NODE), { audience: ['a'], spiffeId }),
        'forbidden',
        new RegExp(`entry ${entry.id} expired at`),
      );
    } finally {
      bench.clock.advance(-SECOND);
    }
  });

  it('refuses an empty audience, 17 audiences, an empty audience value and an invalid SPIFFE ID (malformed)', async () => {
    const svids = service(bench);
    await rejectsWith(svids.issueJwt(caller(NODE), { audience: [], spiffeId: `${WEB}/x` }), 'malformed', /audience holds 1 to 16 values/);
    await rejectsWith(
      svids.issueJwt(caller(NODE), { audience: Array.from({ length: 17 }, (_, i) => `a${i}`), spiffeId: `${WEB}/x` }),
      'malformed',
      /1 to 16/,
    );
    await rejectsWith(svids.issueJwt(caller(NODE), { audience: [''], spiffeId: `${WEB}/x` }), 'malformed', /each audience/);
    await rejectsWith(
      svids.issueJwt(caller(NODE), { audience: ['a'], spiffeId: 'spiffe://Example.org/x' }),
      'malformed',
      /invalid SPIFFE ID/,
    );
  });

  it("publishes one JWT authority: the signer's public JWK with use jwt-svid and its kid", () => {
    assert.deepEqual(service(bench).jwtAuthorities(), [bench.jwt.publicJwk()]);
    const [authority] = service(bench).jwtAuthorities();
    assert.equal(authority?.use, 'jwt-svid');
    assert.equal(authority?.kid, bench.jwt.kid);
  });
});
