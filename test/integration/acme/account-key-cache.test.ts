import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FlattenedSign } from 'jose';
import type { AcmeServer } from '../../../src/acme/index.js';
import { acmeStack, BASE_URL, body, newKey, pathOf, ScriptedValidator, TestClient, type AcmeStack } from './protocol-client.js';

/**
 * The account key cache (src/acme/account-keys.ts) through the server: two
 * servers on one ledger stand for two nodes; each has cached an account's
 * key before the other node changes the key or deactivates the account.
 * Neither change may be missed by the cache on the node that did not make it.
 */

const ERR = 'urn:ietf:params:acme:error:';
let stack: AcmeStack;
let otherNode: AcmeServer;

before(async () => {
  stack = await acmeStack();
  otherNode = stack.restart(new ScriptedValidator());
});
after(() => stack.close());

/** A registered account, with the same account seen through the other node too. */
async function account(): Promise<{ here: TestClient; there: TestClient }> {
  const here = new TestClient(stack.server, await newKey());
  assert.equal((await here.register()).status, 201);
  const there = new TestClient(otherNode, here.key);
  there.kid = here.kid;
  // Both nodes verify a signature with the key, so both have it cached.
  assert.equal((await here.post(pathOf(here.kid), '')).status, 200);
  assert.equal((await there.post(pathOf(there.kid), '')).status, 200);
  return { here, there };
}

async function rollOver(client: TestClient): Promise<void> {
  const next = await newKey();
  const inner = await new FlattenedSign(new TextEncoder().encode(JSON.stringify({ account: client.kid, oldKey: client.key.jwk })))
    .setProtectedHeader({ alg: next.alg, jwk: { ...next.jwk }, url: `${BASE_URL}/key-change` })
    .sign(next.privateKey);
  const changed = await client.post('/key-change', inner);
  assert.equal(changed.status, 200, JSON.stringify(changed.body));
  client.key = next;
}

describe('the account key cache', () => {
  it('does not accept a rolled-over key through the cache, on the node that rolled it or on another (RFC 8555 §7.3.5)', async () => {
    const { here, there } = await account();
    const oldKey = here.key;
    await rollOver(there);

    for (const client of [here, there]) {
      const stale = await client.post(pathOf(client.kid), '', { key: oldKey });
      assert.equal(stale.status, 400, 'the old key is refused');
      assert.equal(body(stale)['type'], `${ERR}malformed`);
      assert.match(String(body(stale)['detail']), /does not verify/);
      const fresh = await client.post(pathOf(client.kid), '', { key: there.key });
      assert.equal(fresh.status, 200, 'the new key is accepted');
    }
    assert.deepEqual(stack.internalErrors, []);
  });

  it("refuses a deactivated account's cached key, on the node that deactivated it and on another (RFC 8555 §7.3.6)", async () => {
    const { here, there } = await account();
    const deactivated = await there.post(pathOf(there.kid), { status: 'deactivated' });
    assert.equal(body(deactivated)['status'], 'deactivated');

    for (const client of [here, there]) {
      const refused = await client.post('/new-order', { identifiers: [{ type: 'dns', value: 'gone.example.test' }] });
      assert.equal(refused.status, 403);
      assert.equal(body(refused)['type'], `${ERR}unauthorized`);
      assert.equal(body(refused)['detail'], 'the account is deactivated');
    }
  });

  it('spends a nonce only after the signature verified, with the key cached or not (RFC 8555 §6.5)', async () => {
    for (const cacheSize of [0, 10]) {
      const own = await acmeStack({ accountKeyCacheSize: cacheSize });
      try {
        const client = new TestClient(own.server, await newKey());
        const stranger = await newKey();
        assert.equal((await client.register()).status, 201);
        assert.equal((await client.post(pathOf(client.kid), '')).status, 200);
        const nonce = await client.nonce();
        // Signed with another key under this kid: refused, and the nonce stays unspent.
        const forged = await client.post(pathOf(client.kid), '', { key: stranger, nonce });
        assert.equal(forged.status, 400);
        assert.match(String(body(forged)['detail']), /does not verify/);
        // So the same nonce still works once, in a request the account key signed; then never again.
        assert.equal((await client.post(pathOf(client.kid), '', { nonce })).status, 200, `cache size ${cacheSize}`);
        const replayed = await client.post(pathOf(client.kid), '', { nonce });
        assert.equal(replayed.status, 400);
        assert.equal(body(replayed)['type'], `${ERR}badNonce`);
        assert.deepEqual(own.internalErrors, []);
      } finally {
        own.close();
      }
    }
  });

  it('stays correct when it holds one account and several take turns (every turn evicts the other)', async () => {
    const small = await acmeStack({ accountKeyCacheSize: 1 });
    try {
      const clients = [new TestClient(small.server, await newKey()), new TestClient(small.server, await newKey('ed25519'))];
      for (const client of clients) assert.equal((await client.register()).status, 201);
      for (let turn = 0; turn < 6; turn++) {
        const client = clients[turn % 2];
        assert.ok(client !== undefined);
        assert.equal((await client.post(pathOf(client.kid), '')).status, 200);
        // The other account's key never signs for this one, cached or not.
        const other = clients[(turn + 1) % 2];
        assert.ok(other !== undefined);
        const forged = await client.post(pathOf(client.kid), '', { key: other.key, alg: other.key.alg });
        assert.equal(forged.status, 400);
      }
      assert.deepEqual(small.internalErrors, []);
    } finally {
      small.close();
    }
  });
});
