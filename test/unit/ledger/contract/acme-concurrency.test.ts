import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openLedgerBackend, type OpenedLedger } from '../../../../src/ledger/index.js';
import type { PostgresLedger } from '../../../../src/ledger/postgres/ledger.js';
import { isDomainError } from '../../../../src/shared/errors.js';
import { createTestDatabase, type TestDatabase } from '../../../helpers/postgres.js';
import { NOW } from '../ledger-fixtures.js';
import { DAY, recordCertificate, newAccount, newAuthorization, newOrder, uniqueId } from './acme-fixtures.js';

/**
 * The ACME store with several nodes on one PostgreSQL database: two ledgers
 * (two pools, as two keysmith processes have) race on the same rows. Where
 * SQLite serialized writers, these show PostgreSQL settling each race the way
 * one node would: exactly one winner, no lost update.
 */

const ROUNDS = 12;

describe('ACME store, two nodes on one PostgreSQL database', () => {
  let database: TestDatabase;
  let nodeA: PostgresLedger;
  let nodeB: PostgresLedger;

  before(async () => {
    database = await createTestDatabase('acme_race');
    nodeA = postgres(await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 4 }));
    nodeB = postgres(await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 4 }));
  });
  after(async () => {
    await nodeA.close();
    await nodeB.close();
    await database.drop();
  });

  function postgres(opened: OpenedLedger): PostgresLedger {
    if (opened.kind !== 'postgres') throw new Error('expected a PostgreSQL ledger');
    return opened.ledger;
  }

  /** A ready order (its one authorization reused as valid) of a new account. */
  async function readyOrder(): Promise<{ orderId: string; accountId: string }> {
    const account = await nodeA.acme.accounts.createAccount(newAccount());
    const order = newOrder(account.id, []);
    await nodeA.acme.orders.createOrder(order, NOW);
    return { orderId: order.id, accountId: account.id };
  }

  it('two concurrent beginFinalize calls on one order, one per node: exactly one is true, and one certificate is recorded', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const { orderId, accountId } = await readyOrder();
      const results = await Promise.all([nodeA.acme.orders.beginFinalize(orderId), nodeB.acme.orders.beginFinalize(orderId)]);
      assert.equal(results.filter((started) => started).length, 1, `round ${round}: ${JSON.stringify(results)}`);
      const winner = results[0] === true ? nodeA : nodeB;
      const loser = winner === nodeA ? nodeB : nodeA;
      const serial = await recordCertificate({ kind: 'postgres', ledger: winner }, `acme:${accountId}`);
      assert.equal((await winner.acme.orders.completeFinalize(orderId, serial)).certificateSerial, serial);
      assert.equal(await loser.acme.orders.beginFinalize(orderId), false, 'a valid order is never finalized again');
    }
  });

  it('two nodes validating the two authorizations of one order at once: the order becomes ready (no lost update)', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const account = await nodeA.acme.accounts.createAccount(newAccount());
      const a = newAuthorization(account.id, `a${round}.example.test`);
      const b = newAuthorization(account.id, `b${round}.example.test`);
      const order = newOrder(account.id, [a, b]);
      await nodeA.acme.orders.createOrder(order, NOW);
      const aChallenge = a.challenges[0]?.id ?? '';
      const bChallenge = b.challenges[0]?.id ?? '';
      assert.equal(await nodeA.acme.authorizations.startChallenge(aChallenge, NOW), true);
      assert.equal(await nodeB.acme.authorizations.startChallenge(bChallenge, NOW), true);
      const valid = { ok: true, validatedAt: NOW + 1, authorizationExpiresAt: NOW + 30 * DAY } as const;
      await Promise.all([
        nodeA.acme.authorizations.recordValidation(aChallenge, valid),
        nodeB.acme.authorizations.recordValidation(bChallenge, valid),
      ]);
      assert.equal((await nodeA.acme.orders.findOrder(order.id))?.status, 'ready', `round ${round}`);
    }
  });

  it('two nodes starting two challenges of one authorization at once: exactly one starts', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const account = await nodeA.acme.accounts.createAccount(newAccount());
      const authz = newAuthorization(account.id, `s${round}.example.test`);
      await nodeA.acme.orders.createOrder(newOrder(account.id, [authz]), NOW);
      const [http, dns] = authz.challenges.map((c) => c.id);
      const results = await Promise.all([
        nodeA.acme.authorizations.startChallenge(http ?? '', NOW),
        nodeB.acme.authorizations.startChallenge(dns ?? '', NOW),
      ]);
      assert.equal(results.filter((started) => started).length, 1, `round ${round}: ${JSON.stringify(results)}`);
      const processing = (await nodeA.acme.authorizations.findAuthorization(authz.id))?.challenges.filter((c) => c.status === 'processing');
      assert.equal(processing?.length, 1);
    }
  });

  it('two nodes placing orders that replace one certificate at once: exactly one order is placed (RFC 9773 §5)', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const account = await nodeA.acme.accounts.createAccount(newAccount());
      const serial = await recordCertificate({ kind: 'postgres', ledger: nodeA }, `acme:${account.id}`);
      const replacing = { replaces: `aki.${serial}`, replacesSerial: serial };
      const first = newOrder(account.id, [newAuthorization(account.id, 'x.example.test')], replacing);
      const second = newOrder(account.id, [newAuthorization(account.id, 'x.example.test')], replacing);
      const outcomes = await Promise.all([nodeA.acme.orders.createOrder(first, NOW), nodeB.acme.orders.createOrder(second, NOW)]);
      assert.equal(outcomes.filter((outcome) => outcome.ok).length, 1, `round ${round}`);
      assert.deepEqual(
        outcomes.find((outcome) => !outcome.ok),
        { ok: false, reason: 'alreadyReplaced' },
      );
    }
  });

  it('two nodes binding one EAB key to two accounts at once: one account is created, the other is a conflict and absent', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const keyId = uniqueId('eab');
      await nodeA.acme.eabKeys.createEabKey({
        keyId,
        hmacKey: new Uint8Array(32).fill(round),
        createdAt: NOW,
        createdBy: 'cli:test',
        boundAccount: null,
        boundAt: null,
        revokedAt: null,
      });
      const first = newAccount({ eabKeyId: keyId });
      const second = newAccount({ eabKeyId: keyId });
      const settled = await Promise.allSettled([nodeA.acme.accounts.createAccount(first), nodeB.acme.accounts.createAccount(second)]);
      const created = settled.filter((result) => result.status === 'fulfilled');
      const refused = settled.filter((result) => result.status === 'rejected');
      assert.equal(created.length, 1, `round ${round}`);
      assert.equal(refused.length, 1);
      assert.ok(
        refused[0]?.status === 'rejected' && isDomainError(refused[0].reason, 'conflict'),
        String(refused[0]?.status === 'rejected' ? refused[0].reason : ''),
      );
      const winner = created[0]?.status === 'fulfilled' ? created[0].value.id : '';
      const loser = winner === first.id ? second.id : first.id;
      assert.equal(await nodeB.acme.accounts.findAccount(loser), undefined);
      assert.equal((await nodeB.acme.eabKeys.findEabKey(keyId))?.boundAccount, winner);
    }
  });
});
