import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isDomainError } from '../../../../src/shared/errors.js';
import { openLedgerBackend, type OpenedLedger } from '../../../../src/ledger/index.js';
import { BACKENDS, type OpenedTestLedger } from '../../../helpers/backends.js';
import { createTestDatabase } from '../../../helpers/postgres.js';

const now = Date.UTC(2025, 4, 1);

/** Named leases, one body for both backends. */
for (const backend of BACKENDS) {
  describe(`leases: ${backend.name}`, () => {
    let test: OpenedTestLedger;
    let opened: OpenedLedger;
    beforeEach(async () => {
      test = await backend.open();
      opened = test.opened;
    });
    afterEach(() => test.dispose());

    it('one holder at a time, renewable by it, free again on release or expiry', async () => {
      const leases = opened.ledger.leases;
      assert.equal(await leases.acquire('alerts', 'a', now, 1_000), true);
      assert.equal(await leases.acquire('alerts', 'b', now + 999, 1_000), false);
      assert.equal(await leases.acquire('alerts', 'a', now + 500, 1_000), true, 'the holder may take it again');
      assert.equal(await leases.renew('alerts', 'a', now + 600, 1_000), true);
      assert.equal(await leases.renew('alerts', 'b', now + 600, 1_000), false);
      await leases.release('alerts', 'b');
      assert.equal(await leases.holderOf('alerts', now + 700), 'a', 'only the holder releases');
      assert.equal(await leases.holderOf('alerts', now + 1_600), undefined, 'renewed until now + 1600, not past it');
      assert.equal(await leases.acquire('alerts', 'b', now + 1_600, 1_000), true, 'expired');
      assert.equal(await leases.renew('alerts', 'a', now + 1_700, 1_000), false, 'lost to b');
      await leases.release('alerts', 'b');
      assert.equal(await leases.holderOf('alerts', now + 1_700), undefined);
      assert.equal(await leases.acquire('other', 'a', now, 1_000), true, 'leases are independent by name');
    });

    it('a holder whose lease ran out cannot renew it back, even while nobody took it', async () => {
      const leases = opened.ledger.leases;
      assert.equal(await leases.acquire('alerts', 'a#1', now, 1_000), true);
      assert.equal(await leases.renew('alerts', 'a#1', now + 1_000, 1_000), false);
      assert.equal(await leases.holderOf('alerts', now + 1_000), undefined);
    });

    it('refuses an empty name or holder and a lifetime that is not a positive whole number', async () => {
      const leases = opened.ledger.leases;
      for (const attempt of [
        () => leases.acquire('', 'a', now, 1_000),
        () => leases.acquire('alerts', '', now, 1_000),
        () => leases.acquire('alerts', 'a', now, 0),
        () => leases.renew('alerts', 'a', now, 1.5),
      ]) {
        await assert.rejects(
          async () => attempt(),
          (err: unknown) => isDomainError(err, 'malformed'),
        );
      }
      assert.equal(await leases.holderOf('alerts', now), undefined);
    });
  });
}

describe('leases on PostgreSQL across nodes', () => {
  it('three nodes racing for one lease: exactly one holds it, round after round', async () => {
    const database = await createTestDatabase('leases');
    try {
      // Three pools on one database, as three keysmith nodes would have.
      const nodes = await Promise.all([1, 2, 3].map(() => openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 2 })));
      try {
        for (let round = 0; round < 20; round += 1) {
          // Each round starts after the previous lease expired, so every node may take it.
          const at = now + round * 10_000;
          const won = await Promise.all(
            nodes.map((node, index) => node.ledger.leases.acquire('alerts', `node${index + 1}#${round}`, at, 5_000)),
          );
          assert.equal(won.filter(Boolean).length, 1, `round ${round}: ${JSON.stringify(won)}`);
          const winner = won.indexOf(true);
          assert.equal(await nodes[0]?.ledger.leases.holderOf('alerts', at), `node${winner + 1}#${round}`);
          const renewed = await Promise.all(
            nodes.map((node, index) => node.ledger.leases.renew('alerts', `node${index + 1}#${round}`, at + 1, 5_000)),
          );
          assert.deepEqual(renewed, won, 'only the winner renews');
        }
      } finally {
        await Promise.all(nodes.map((node) => node.ledger.close()));
      }
    } finally {
      await database.drop();
    }
  });
});
