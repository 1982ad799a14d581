import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_PRUNE_BATCH, type LedgerBackend } from '../../../../src/ledger/index.js';
import { DomainError } from '../../../../src/shared/errors.js';
import { BACKENDS, type BackendUnderTest } from '../../../helpers/backends.js';
import { NOW } from '../ledger-fixtures.js';

/** The spent-nonce record (migrations/0007) on both backends: one contract, one test body. */

async function withNonces(backend: BackendUnderTest, use: (nonces: LedgerBackend['nonces']) => Promise<void>): Promise<void> {
  const { opened, dispose } = await backend.open();
  try {
    await use(opened.ledger.nonces);
  } finally {
    await dispose();
  }
}

function isMalformed(error: unknown): boolean {
  return error instanceof DomainError && error.kind === 'malformed';
}

for (const backend of BACKENDS) {
  describe(`nonce repository: ${backend.name}`, () => {
    it('spends an id once: the first spend is fresh, every later one is a replay (RFC 8555 §6.5)', async () => {
      await withNonces(backend, async (nonces) => {
        assert.equal(await nonces.spend('nonce-a', NOW + 60_000, NOW), true);
        assert.equal(await nonces.spend('nonce-a', NOW + 60_000, NOW + 1), false);
        // The expiry given again is irrelevant: the id is what was spent.
        assert.equal(await nonces.spend('nonce-a', NOW + 120_000, NOW + 2), false);
        assert.equal(await nonces.spend('nonce-b', NOW + 60_000, NOW + 3), true);
      });
    });

    it('lets exactly one of eight concurrent spends of one id through', async () => {
      await withNonces(backend, async (nonces) => {
        const outcomes = await Promise.all(Array.from({ length: 8 }, (_, i) => nonces.spend('contended', NOW + 60_000, NOW + i)));
        assert.deepEqual(outcomes.filter((fresh) => fresh).length, 1);
      });
    });

    it('answers false for a nonce expired at now, and writes nothing', async () => {
      await withNonces(backend, async (nonces) => {
        // expiresAt is the first instant at which the nonce no longer works.
        assert.equal(await nonces.spend('late', NOW, NOW), false);
        assert.equal(await nonces.pruneExpired(NOW + 1, 10), 0);
        // Nothing was recorded: the same id with a later expiry is fresh.
        assert.equal(await nonces.spend('late', NOW + 60_000, NOW), true);
      });
    });

    it('prunes expired rows oldest first, in batches of at most limit, and keeps the rest spent', async () => {
      await withNonces(backend, async (nonces) => {
        for (const [id, expiresAt] of [
          ['e100', 100],
          ['e200', 200],
          ['e300', 300],
          ['e400', 400],
        ] as const) {
          assert.equal(await nonces.spend(id, NOW + expiresAt, NOW), true);
        }
        assert.equal(await nonces.pruneExpired(NOW + 300, 2), 2);
        assert.equal(await nonces.pruneExpired(NOW + 300, 2), 1);
        assert.equal(await nonces.pruneExpired(NOW + 300, 2), 0);
        // e100 went in the first batch (oldest first): spending it again is fresh; e400 is still spent.
        assert.equal(await nonces.spend('e100', NOW + 100, NOW), true);
        assert.equal(await nonces.spend('e400', NOW + 400, NOW), false);
      });
    });

    it('refuses malformed ids, times and batch sizes with DomainError malformed, before any SQL', async () => {
      await withNonces(backend, async (nonces) => {
        for (const id of ['', 'x'.repeat(65), 'has space', 'plus+slash/', 'pad=']) {
          await assert.rejects(async () => nonces.spend(id, NOW + 1, NOW), isMalformed, JSON.stringify(id));
        }
        await assert.rejects(async () => nonces.spend('ok', NOW + 0.5, NOW), isMalformed);
        await assert.rejects(async () => nonces.spend('ok', NOW + 1, Number.NaN), isMalformed);
        await assert.rejects(async () => nonces.pruneExpired(NOW, 0), isMalformed);
        await assert.rejects(async () => nonces.pruneExpired(NOW, MAX_PRUNE_BATCH + 1), isMalformed);
        await assert.rejects(async () => nonces.pruneExpired(Number.POSITIVE_INFINITY, 1), isMalformed);
        // The longest id the column takes is fine.
        assert.equal(await nonces.spend('y'.repeat(64), NOW + 1, NOW), true);
      });
    });
  });
}
