import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { SPENT_NONCE_RETENTION_MS } from '../../../src/acme/index.js';
import { startNoncePruning } from '../../../src/cli/nonce-pruning.js';
import { openLedger } from '../../../src/ledger/index.js';
import { tempDir } from '../ca/helpers.js';

const NOW = Date.UTC(2026, 0, 1);

describe('startNoncePruning (serve)', () => {
  it('deletes spent nonces past their retention on its own, keeps the younger ones, and stops', async () => {
    const dir = tempDir('nonce-pruning');
    const ledger = openLedger({ path: join(dir.path, 'ledger.db') });
    const errors: unknown[] = [];
    const pruning = startNoncePruning(ledger.nonces, { now: () => NOW }, (error) => errors.push(error), 10);
    try {
      const old = randomBytes(16).toString('base64url');
      const young = randomBytes(16).toString('base64url');
      assert.equal(ledger.nonces.spend(old, NOW - SPENT_NONCE_RETENTION_MS, NOW - 2 * SPENT_NONCE_RETENTION_MS), true);
      assert.equal(ledger.nonces.spend(young, NOW - SPENT_NONCE_RETENTION_MS + 1, NOW - 2 * SPENT_NONCE_RETENTION_MS), true);
      // Bounded wait for the timer's pass: while the old row is there, spending its id again is a replay (false);
      // once the pass deleted it, the spend goes through (and its new row is far from the pruning threshold).
      let isGone = false;
      for (let attempt = 0; attempt < 200 && !isGone; attempt++) {
        await sleep(10);
        isGone = ledger.nonces.spend(old, NOW + 1, NOW);
      }
      assert.equal(isGone, true, 'the pass ran within 2 s');
      assert.equal(ledger.nonces.spend(young, NOW + 1, NOW), false);
      assert.deepEqual(errors, []);
    } finally {
      await pruning.stop();
      ledger.close();
      dir.remove();
    }
  });
});
