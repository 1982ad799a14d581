import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import {
  acmeStack,
  body,
  header,
  makeCsr,
  newKey,
  pathOf,
  TestClient,
  BASE_URL,
  type AcmeStack,
  type SigningKey,
} from './protocol-client.js';
import type { AcmeHttpResponse } from '../../../src/acme/index.js';

/**
 * Every refusal the ACME issue lists, each with its exact problem type, and
 * in each case no certificate leaves the server (the ledger row count stays put).
 *
 * Tampered signatures answer `malformed` ("JWS verification error"), as
 * Boulder and Pebble do: the request cannot be tied to any key, so it is
 * undecodable rather than an authorization failure.
 */

const ERR = 'urn:ietf:params:acme:error:';

let stack: AcmeStack;
before(async () => {
  stack = await acmeStack();
});
after(() => {
  assert.deepEqual(stack.internalErrors, []);
  stack.close();
});

async function registered(): Promise<TestClient> {
  const client = new TestClient(stack.server, await newKey());
  assert.equal((await client.register()).status, 201);
  return client;
}

function assertProblem(response: AcmeHttpResponse, type: string, status: number): Record<string, unknown> {
  const problem = body(response);
  assert.equal(problem['type'], `${ERR}${type}`, JSON.stringify(problem));
  assert.equal(response.status, status);
  assert.equal(problem['status'], status);
  assert.equal(header(response, 'content-type'), 'application/problem+json');
  assert.match(header(response, 'replay-nonce') ?? '', /^[A-Za-z0-9_-]{22,}$/);
  return problem;
}

/** Runs `attempt` and checks the ledger gained no certificate. */
async function issuesNothing<T>(attempt: () => Promise<T>): Promise<T> {
  const before = stack.certificateCount();
  const result = await attempt();
  assert.equal(stack.certificateCount(), before, 'a certificate was issued');
  return result;
}

/** A new-account JWS signed with node:crypto directly, for what jose refuses to sign. */
async function handSigned(key: SigningKey, alg: string, hash: string): Promise<AcmeHttpResponse> {
  const client = new TestClient(stack.server, key);
  const encoded = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  const protectedHeader = encoded({ alg, jwk: key.jwk, nonce: await client.nonce(), url: `${BASE_URL}/new-account` });
  const payload = encoded({ termsOfServiceAgreed: true });
  const signature = sign(hash, Buffer.from(`${protectedHeader}.${payload}`), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString(
    'base64url',
  );
  return client.request(
    'POST',
    '/new-account',
    Buffer.from(JSON.stringify({ protected: protectedHeader, payload, signature })),
    'application/jose+json',
  );
}

async function readyOrderFor(client: TestClient, name: string): Promise<{ path: string; order: Record<string, unknown> }> {
  const created = await client.post('/new-order', { identifiers: [{ type: 'dns', value: name }] });
  const order = body(created);
  for (const url of order['authorizations'] as string[]) {
    const authz = body(await client.post(pathOf(url), ''));
    const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === 'http-01');
    await client.post(pathOf(challenge?.['url']), {});
  }
  await stack.server.settled();
  const path = pathOf(header(created, 'location'));
  return { path, order: body(await client.post(path, '')) };
}

describe('ACME request authentication refusals (RFC 8555 §6)', () => {
  it('answers a tampered signature with malformed, and issues nothing', async () => {
    const client = await registered();
    const response = await issuesNothing(() =>
      client.post(
        '/new-order',
        { identifiers: [{ type: 'dns', value: 'a.example.test' }] },
        {
          tamper: (jws) => ({
            ...jws,
            payload: Buffer.from(JSON.stringify({ identifiers: [{ type: 'dns', value: 'b.example.test' }] })).toString('base64url'),
          }),
        },
      ),
    );
    assert.match(String(assertProblem(response, 'malformed', 400)['detail']), /signature/);
    assert.deepEqual(stack.ledger.acme.orders.listOrderIds(pathOf(client.kid).split('/')[2] ?? '', 10), []);
  });

  it('answers a reused nonce with badNonce and a fresh nonce that then works', async () => {
    const client = await registered();
    const nonce = await client.nonce();
    const first = await client.post(pathOf(client.kid), '', { nonce });
    assert.equal(first.status, 200);
    const replay = await issuesNothing(() => client.post(pathOf(client.kid), '', { nonce }));
    assertProblem(replay, 'badNonce', 400);
    const fresh = header(replay, 'replay-nonce');
    assert.ok(fresh !== undefined && fresh !== nonce);
    assert.equal((await client.post(pathOf(client.kid), '', { nonce: fresh })).status, 200);
    assertProblem(await client.post(pathOf(client.kid), '', { nonce: null }), 'badNonce', 400);
  });

  it('answers a url header that is not the request URL with unauthorized', async () => {
    const client = await registered();
    const response = await issuesNothing(() =>
      client.post('/new-order', { identifiers: [{ type: 'dns', value: 'a.example.test' }] }, { url: `${BASE_URL}/new-account` }),
    );
    assertProblem(response, 'unauthorized', 403);
  });

  it('answers an unknown kid with accountDoesNotExist', async () => {
    const client = new TestClient(stack.server, await newKey());
    client.kid = `${BASE_URL}/account/doesNotExist123`;
    const response = await issuesNothing(() => client.post('/new-order', { identifiers: [{ type: 'dns', value: 'a.example.test' }] }));
    assertProblem(response, 'accountDoesNotExist', 400);
  });

  it('answers a jwk where a kid is due with malformed, and a kid on newAccount likewise', async () => {
    const client = await registered();
    const response = await issuesNothing(() =>
      client.post('/new-order', { identifiers: [{ type: 'dns', value: 'a.example.test' }] }, { useJwk: true }),
    );
    assertProblem(response, 'malformed', 400);
    assertProblem(await client.post('/new-account', { termsOfServiceAgreed: true }), 'malformed', 400);
    assertProblem(await client.post('/new-order', {}, { extraHeader: { jwk: client.key.jwk } }), 'malformed', 400);
  });

  it('answers an unsupported algorithm with badSignatureAlgorithm listing the supported ones', async () => {
    const client = new TestClient(stack.server, await newKey('p521'));
    const response = await issuesNothing(() => client.register());
    const problem = assertProblem(response, 'badSignatureAlgorithm', 400);
    assert.deepEqual(problem['algorithms'], ['ES256', 'ES384', 'RS256', 'EdDSA']);
  });

  it('answers an RSA key under 2048 bits with badPublicKey, and an alg that does not fit the key with malformed', async () => {
    // jose will not sign with a short RSA key or a curve that does not fit alg, so these JWSs are made by hand.
    const small = await newKey('rsa1024');
    assertProblem(await handSigned(small, 'RS256', 'sha256'), 'badPublicKey', 400);
    const p256 = await newKey('p256');
    assertProblem(await handSigned(p256, 'ES384', 'sha384'), 'malformed', 400);
  });

  it('refuses a wrong Content-Type (415), an oversized body (413), GET on a POST resource (405) and an unknown path (404)', async () => {
    const client = await registered();
    assertProblem(await client.post(pathOf(client.kid), '', { contentType: 'application/json' }), 'malformed', 415);
    const big = Buffer.alloc(65 * 1024, 0x20);
    assertProblem(await client.request('POST', '/new-order', big, 'application/jose+json'), 'malformed', 413);
    const get = await client.request('GET', pathOf(client.kid));
    assertProblem(get, 'malformed', 405);
    assert.equal(header(get, 'allow'), 'POST');
    assertProblem(await client.request('GET', '/nothing-here'), 'malformed', 404);
    assertProblem(await client.request('POST', '/new-order', Buffer.from('{"protected":1}'), 'application/jose+json'), 'malformed', 400);
  });
});

describe('ACME order and finalize refusals (RFC 8555 §7.4)', () => {
  it('answers a name outside the allowed suffixes with rejectedIdentifier and subproblems', async () => {
    const client = await registered();
    const response = await issuesNothing(() =>
      client.post('/new-order', {
        identifiers: [
          { type: 'dns', value: 'example.com' },
          { type: 'dns', value: 'ok.example.test' },
        ],
      }),
    );
    const problem = assertProblem(response, 'rejectedIdentifier', 400);
    assert.deepEqual(problem['subproblems'], [
      {
        type: `${ERR}rejectedIdentifier`,
        detail: String((problem['subproblems'] as { detail: string }[])[0]?.detail),
        identifier: { type: 'dns', value: 'example.com' },
      },
    ]);
    assertProblem(await client.post('/new-order', { identifiers: [{ type: 'ip', value: '10.0.0.1' }] }), 'rejectedIdentifier', 400);
    assertProblem(await client.post('/new-order', { identifiers: [{ type: 'dns', value: '192.0.2.1' }] }), 'rejectedIdentifier', 400);
    assertProblem(
      await client.post('/new-order', { identifiers: [{ type: 'email', value: 'a@example.test' }] }),
      'unsupportedIdentifier',
      400,
    );
  });

  it('refuses every identifier when no policy is configured, naming the setting (deny by default)', async () => {
    const closed = await acmeStack({ policy: { allowedSuffixes: [], allowedIpRanges: [], eabRequired: false } });
    try {
      const client = new TestClient(closed.server, await newKey());
      await client.register();
      const problem = body(await client.post('/new-order', { identifiers: [{ type: 'dns', value: 'a.example.test' }] }));
      assert.equal(problem['type'], `${ERR}rejectedIdentifier`);
      assert.match(String(problem['detail']), /KEYSMITH_ACME_ALLOWED_SUFFIXES/);
    } finally {
      closed.close();
    }
  });

  it('answers finalize before the order is ready with orderNotReady', async () => {
    const client = await registered();
    const created = body(await client.post('/new-order', { identifiers: [{ type: 'dns', value: 'early.example.test' }] }));
    const response = await issuesNothing(async () =>
      client.post(pathOf(created['finalize']), { csr: makeCsr(stack.dir, { dns: ['early.example.test'] }).csr }),
    );
    assertProblem(response, 'orderNotReady', 403);
  });

  it('answers a CSR naming an extra identifier with badCSR; the order stays ready and a right CSR then succeeds', async () => {
    const client = await registered();
    const { path, order } = await readyOrderFor(client, 'csr.example.test');
    assert.equal(order['status'], 'ready');
    const extra = await issuesNothing(() =>
      client.post(pathOf(order['finalize']), { csr: makeCsr(stack.dir, { dns: ['csr.example.test', 'extra.example.test'] }).csr }),
    );
    assert.match(String(assertProblem(extra, 'badCSR', 400)['detail']), /extra\.example\.test/);
    const cn = await issuesNothing(() =>
      client.post(pathOf(order['finalize']), { csr: makeCsr(stack.dir, { cn: 'other.example.test', dns: ['csr.example.test'] }).csr }),
    );
    assertProblem(cn, 'badCSR', 400);
    assertProblem(await client.post(pathOf(order['finalize']), { csr: 'bm90IGEgY3Ny' }), 'badCSR', 400);
    assert.equal(body(await client.post(path, ''))['status'], 'ready');

    const before = stack.certificateCount();
    const good = await client.post(pathOf(order['finalize']), { csr: makeCsr(stack.dir, { dns: ['csr.example.test'] }).csr });
    assert.equal(body(good)['status'], 'valid');
    assert.equal(stack.certificateCount(), before + 1);
  });

  it('keeps orders, authorizations and certificates private to their account', async () => {
    const owner = await registered();
    const { order } = await readyOrderFor(owner, 'private.example.test');
    const finalized = body(await owner.post(pathOf(order['finalize']), { csr: makeCsr(stack.dir, { dns: ['private.example.test'] }).csr }));
    const other = await registered();
    assertProblem(await other.post(pathOf(finalized['certificate']), ''), 'malformed', 404);
    assertProblem(await other.post(pathOf((order['authorizations'] as string[])[0]), ''), 'malformed', 404);
    assertProblem(await other.post(pathOf(owner.kid), ''), 'unauthorized', 403);
  });

  it('answers rateLimited with Retry-After once the per-account new-order budget is spent', async () => {
    const limited = await acmeStack({ limits: { newOrderPerAccount: { burst: 2, perSecond: 0.001 } } });
    try {
      const client = new TestClient(limited.server, await newKey());
      await client.register();
      const order = { identifiers: [{ type: 'dns', value: 'rl.example.test' }] };
      assert.equal((await client.post('/new-order', order)).status, 201);
      assert.equal((await client.post('/new-order', order)).status, 201);
      const refused = await client.post('/new-order', order);
      assertProblem(refused, 'rateLimited', 429);
      assert.ok(Number(header(refused, 'retry-after')) >= 1);
    } finally {
      limited.close();
    }
  });
});
