import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AcmeServer } from '../../../src/acme/index.js';
import type { ChallengeAttempt, ValidationOutcome } from '../../../src/acme/validation/types.js';
import { acmeStack, body, header, newKey, pathOf, ScriptedValidator, TestClient, type AcmeStack } from './protocol-client.js';

/**
 * A restart in the middle of ACME work (the state is in the ledger, the
 * in-flight work was in the stopped process): a validation left
 * `processing` runs again, and an order whose finalize was never answered
 * is `ready` again, so the client's poll or retry succeeds.
 */

/** Validations that never finish: the process "stops" with them in flight. */
class StuckValidator {
  readonly attempts: ChallengeAttempt[] = [];
  validate(attempt: ChallengeAttempt): Promise<ValidationOutcome> {
    this.attempts.push(attempt);
    return new Promise(() => undefined);
  }
}

describe('ACME after a restart', () => {
  let stack: AcmeStack;
  const stuck = new StuckValidator();

  before(async () => {
    stack = await acmeStack({ validator: stuck });
  });
  after(() => stack.close());

  function restarted(validator: ScriptedValidator): AcmeServer {
    return stack.restart(validator);
  }

  it('validates again a challenge the stopped process left processing', async () => {
    const client = new TestClient(stack.server, await newKey('p256'));
    assert.equal((await client.register()).status, 201);
    const created = await client.post('/new-order', { identifiers: [{ type: 'dns', value: 'resume.example.test' }] });
    const orderId = pathOf(header(created, 'location')).split('/')[2] ?? '';
    const authz = body(await client.post(pathOf((body(created)['authorizations'] as string[])[0]), ''));
    const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === 'http-01');
    assert.equal(body(await client.post(pathOf(challenge?.['url']), {}))['status'], 'processing');
    assert.equal(stuck.attempts.length, 1);

    const validator = new ScriptedValidator();
    const next = restarted(validator);
    await next.settled();
    assert.equal(validator.attempts.length, 1);
    assert.deepEqual(validator.attempts[0], stuck.attempts[0]);
    assert.equal(stack.ledger.acme.orders.findOrder(orderId)?.status, 'ready');
  });

  it('puts an order whose finalize was never answered back to ready', async () => {
    const validator = new ScriptedValidator();
    const next = restarted(validator);
    const client = new TestClient(next, await newKey('p256'));
    assert.equal((await client.register()).status, 201);
    const created = await client.post('/new-order', { identifiers: [{ type: 'dns', value: 'finalize.example.test' }] });
    const orderId = pathOf(header(created, 'location')).split('/')[2] ?? '';
    const authz = body(await client.post(pathOf((body(created)['authorizations'] as string[])[0]), ''));
    const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === 'http-01');
    await client.post(pathOf(challenge?.['url']), {});
    await next.settled();
    // The stopped process had taken the order into processing and died before answering.
    assert.equal(stack.ledger.acme.orders.beginFinalize(orderId), true);
    const before = stack.certificateCount();
    await restarted(new ScriptedValidator()).ready();
    assert.equal(stack.ledger.acme.orders.findOrder(orderId)?.status, 'ready');
    assert.equal(stack.certificateCount(), before);
  });
});
