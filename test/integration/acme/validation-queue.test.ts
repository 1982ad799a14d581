import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { AcmeServer } from '../../../src/acme/index.js';
import type { ChallengeAttempt, ChallengeValidator, ValidationOutcome } from '../../../src/acme/validation/types.js';
import { acmeStack, body, header, newKey, pathOf, TestClient, type AcmeStack } from './protocol-client.js';

/**
 * The validation scheduler inside the ACME server (RFC 8555 §7.5.1, §8.2):
 * challenge responses past the caps are queued (`processing`, with
 * Retry-After on the challenge, its authorization and its order), past the
 * queue bounds they are refused with rateLimited and stay pending, and the
 * validations a stopped process left `processing` go through the same caps.
 * The validator is gated: the test decides when each validation ends.
 */

class GatedValidator implements ChallengeValidator {
  readonly attempts: ChallengeAttempt[] = [];
  private readonly waiting: (() => void)[] = [];

  validate(attempt: ChallengeAttempt): Promise<ValidationOutcome> {
    this.attempts.push(attempt);
    return new Promise((resolve) => this.waiting.push(() => resolve({ ok: true })));
  }

  get running(): number {
    return this.waiting.length;
  }

  /** Ends every validation running now; the scheduler then starts the next ones. */
  async releaseAll(): Promise<void> {
    for (const release of this.waiting.splice(0)) release();
    for (let i = 0; i < 20; i++) await Promise.resolve();
  }
}

interface OrderChallenges {
  readonly orderPath: string;
  readonly authzPaths: readonly string[];
  readonly challengePaths: readonly string[];
}

/** An order for `names` and the http-01 challenge of each of its authorizations. */
async function orderFor(client: TestClient, names: readonly string[]): Promise<OrderChallenges> {
  const created = await client.post('/new-order', { identifiers: names.map((value) => ({ type: 'dns', value })) });
  assert.equal(created.status, 201);
  const authzPaths = (body(created)['authorizations'] as string[]).map(pathOf);
  const challengePaths: string[] = [];
  for (const path of authzPaths) {
    const authz = body(await client.post(path, ''));
    const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === 'http-01');
    challengePaths.push(pathOf(challenge?.['url']));
  }
  return { orderPath: pathOf(header(created, 'location')), authzPaths, challengePaths };
}

describe('ACME validations through the scheduler', () => {
  let stack: AcmeStack;
  const gated = new GatedValidator();

  before(async () => {
    stack = await acmeStack({
      validator: gated,
      validationLimits: { maxInFlight: 3, maxInFlightPerAccount: 2, maxQueued: 5, maxQueuedPerAccount: 3 },
    });
  });
  after(() => stack.close());

  it('runs two of one account at once, queues three as processing with Retry-After, refuses the sixth with rateLimited', async () => {
    const client = new TestClient(stack.server, await newKey('p256'));
    assert.equal((await client.register()).status, 201);
    const names = ['q1', 'q2', 'q3', 'q4', 'q5', 'q6'].map((n) => `${n}.example.test`);
    const order = await orderFor(client, names);

    const answers = [];
    for (const path of order.challengePaths.slice(0, 5)) answers.push(await client.post(path, {}));
    assert.deepEqual(
      answers.map((a) => [a.status, body(a)['status']]),
      Array.from({ length: 5 }, () => [200, 'processing']),
    );
    // RFC 8555 §8.2: every processing challenge carries Retry-After.
    assert.ok(answers.every((a) => Number(header(a, 'retry-after')) >= 1));
    assert.equal(gated.attempts.length, 2, 'the per-account cap: two validations run, three wait');
    assert.deepEqual(stack.server.validationLoad, { inFlight: 2, queued: 3, accounts: 1 });

    // Past the account's queue bound: 429 rateLimited with Retry-After, and the challenge stays pending.
    const sixth = order.challengePaths[5] ?? '';
    const refused = await client.post(sixth, {});
    assert.equal(refused.status, 429);
    assert.equal(body(refused)['type'], 'urn:ietf:params:acme:error:rateLimited');
    assert.match(String(body(refused)['detail']), /this account has 3 validations waiting already; the challenge stays pending/);
    assert.ok(Number(header(refused, 'retry-after')) >= 1);
    assert.equal(body(await client.post(sixth, ''))['status'], 'pending');

    // A queued challenge's authorization (pending) and the order (pending) answer with Retry-After.
    const queuedAuthz = await client.post(order.authzPaths[4] ?? '', '');
    assert.equal(body(queuedAuthz)['status'], 'pending');
    assert.ok(Number(header(queuedAuthz, 'retry-after')) >= 1);
    const pendingOrder = await client.post(order.orderPath, '');
    assert.equal(body(pendingOrder)['status'], 'pending');
    assert.ok(Number(header(pendingOrder, 'retry-after')) >= 1);
    // The sixth's authorization has nothing processing: no Retry-After.
    assert.equal(header(await client.post(order.authzPaths[5] ?? '', ''), 'retry-after'), undefined);

    // Another account is not stuck behind the first one's backlog: the free global slot is its.
    const other = new TestClient(stack.server, await newKey('p256'));
    assert.equal((await other.register()).status, 201);
    const otherOrder = await orderFor(other, ['other.example.test']);
    assert.equal(body(await other.post(otherOrder.challengePaths[0] ?? '', {}))['status'], 'processing');
    assert.equal(gated.attempts.length, 3);
    assert.equal(gated.attempts[2]?.identifier.value, 'other.example.test');

    // Drain: each release lets the next ones in, never more than the caps.
    while (gated.running > 0) {
      assert.ok(gated.running <= 3);
      await gated.releaseAll();
    }
    await stack.server.settled();
    assert.equal(gated.attempts.length, 6);
    assert.deepEqual(stack.server.validationLoad, { inFlight: 0, queued: 0, accounts: 0 });
    for (const path of order.authzPaths.slice(0, 5)) assert.equal(body(await client.post(path, ''))['status'], 'valid');
    // Room again: the refused challenge is taken now.
    assert.equal(body(await client.post(sixth, {}))['status'], 'processing');
    await gated.releaseAll();
    await stack.server.settled();
    assert.equal(body(await client.post(order.orderPath, ''))['status'], 'ready');
    assert.deepEqual(stack.internalErrors, []);
  });
});

describe('ACME validations left processing by a stopped process', () => {
  let stack: AcmeStack;
  const stopped = new GatedValidator();

  before(async () => {
    stack = await acmeStack({
      validator: stopped,
      validationLimits: { maxInFlight: 64, maxInFlightPerAccount: 8, maxQueued: 64, maxQueuedPerAccount: 64 },
    });
  });
  after(() => stack.close());

  function restarted(validator: ChallengeValidator): AcmeServer {
    // Smaller than what was left: recovery goes through the caps, and past the queue bound.
    return stack.restart(validator, {
      validationLimits: { maxInFlight: 4, maxInFlightPerAccount: 2, maxQueued: 2, maxQueuedPerAccount: 2 },
    });
  }

  it('runs them again through the same caps, and refuses new work while the recovered backlog is over the bound', async () => {
    const client = new TestClient(stack.server, await newKey('p256'));
    assert.equal((await client.register()).status, 201);
    const order = await orderFor(
      client,
      ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((n) => `${n}.example.test`),
    );
    for (const path of order.challengePaths.slice(0, 5)) assert.equal(body(await client.post(path, {}))['status'], 'processing');
    assert.equal(stopped.attempts.length, 5, 'all five were running when the process "stopped"');

    const validator = new GatedValidator();
    const next = restarted(validator);
    await next.ready();
    assert.equal(validator.attempts.length, 2, 'two run at start-up, three wait');
    assert.deepEqual(next.validationLoad, { inFlight: 2, queued: 3, accounts: 1 });
    const again = new TestClient(next, client.key);
    again.kid = client.kid;
    const refused = await again.post(order.challengePaths[5] ?? '', {});
    assert.equal(refused.status, 429);
    assert.equal(body(refused)['type'], 'urn:ietf:params:acme:error:rateLimited');

    while (validator.running > 0) {
      assert.ok(validator.running <= 2);
      await validator.releaseAll();
    }
    await next.settled();
    assert.deepEqual(
      validator.attempts.map((a) => a.identifier.value).sort(),
      ['r1', 'r2', 'r3', 'r4', 'r5'].map((n) => `${n}.example.test`),
    );
    for (const path of order.authzPaths.slice(0, 5)) assert.equal(body(await again.post(path, ''))['status'], 'valid');
  });
});
