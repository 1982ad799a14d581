import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeysmithMetrics } from '../../../src/http/index.js';
import { acmeStack, body, header, makeCsr, newKey, pathOf, TestClient, type AcmeStack } from './protocol-client.js';

/**
 * keysmith_acme_orders_total{outcome}: counted where orders end, on the real
 * ledger (onOrderEnded, as `serve` wires it to KeysmithMetrics): valid when
 * finalize issues, invalid once per order a failed validation invalidates.
 */
describe('ACME orders by outcome (keysmith_acme_orders_total)', () => {
  let stack: AcmeStack;
  const metrics = new KeysmithMetrics();

  before(async () => {
    stack = await acmeStack({ onOrderEnded: (outcome) => metrics.countAcmeOrder(outcome) });
  });
  after(() => {
    assert.deepEqual(stack.internalErrors, []);
    stack.close();
  });

  async function counted(): Promise<string[]> {
    return (await metrics.render()).split('\n').filter((line) => line.startsWith('keysmith_acme_orders_total'));
  }

  /** new-order for one name, its http-01 challenge answered and validated; the order as it is afterwards. */
  async function orderFor(client: TestClient, name: string): Promise<{ path: string; order: Record<string, unknown> }> {
    const created = await client.post('/new-order', { identifiers: [{ type: 'dns', value: name }] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const path = pathOf(header(created, 'location'));
    for (const authzUrl of body(created)['authorizations'] as string[]) {
      const authz = body(await client.post(pathOf(authzUrl), ''));
      const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === 'http-01');
      assert.ok(challenge !== undefined);
      assert.equal((await client.post(pathOf(challenge['url']), {})).status, 200);
    }
    await stack.server.settled();
    return { path, order: body(await client.post(path, '')) };
  }

  it('counts nothing before an order ends, then valid at finalize and invalid at a failed validation', async () => {
    const client = new TestClient(stack.server, await newKey());
    assert.equal((await client.register()).status, 201);
    assert.deepEqual(await counted(), []);

    const ready = await orderFor(client, 'good.example.test');
    assert.equal(ready.order['status'], 'ready');
    assert.deepEqual(await counted(), [], 'a ready order has not ended');
    const finalized = await client.post(pathOf(ready.order['finalize']), { csr: makeCsr(stack.dir, { dns: ['good.example.test'] }).csr });
    assert.equal(finalized.status, 200, JSON.stringify(finalized.body));
    assert.equal(body(finalized)['status'], 'valid');
    assert.deepEqual(await counted(), ['keysmith_acme_orders_total{outcome="valid"} 1']);

    stack.validator.failing.add('bad.example.test');
    const failed = await orderFor(client, 'bad.example.test');
    assert.equal(failed.order['status'], 'invalid');
    assert.deepEqual(await counted(), ['keysmith_acme_orders_total{outcome="valid"} 1', 'keysmith_acme_orders_total{outcome="invalid"} 1']);
  });
});
