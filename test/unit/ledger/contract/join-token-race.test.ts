import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { openLedgerBackend, PostgresDatabase, type LedgerBackend } from '../../../../src/ledger/index.js';
import { POSTGRES_BACKEND } from '../../../helpers/backends.js';
import { HOUR, NOW } from '../ledger-fixtures.js';

/**
 * Join-token redemption by several nodes on one PostgreSQL database, all at
 * the same instant. To make "at once" certain rather than likely, a third
 * connection holds the token's row lock while every node sends its
 * redemption; the test waits (bounded) until the server reports each node's
 * UPDATE waiting on that lock, then lets go. Exactly one node wins.
 */

const NODES = 4;
const WAIT_LIMIT_MS = 10_000;
const POLL_MS = 20;

function freshHash(): string {
  return createHash('sha256').update(randomBytes(32).toString('base64url')).digest('hex');
}

/** Redemptions of join_tokens blocked on a row lock in this database, as pg_stat_activity reports them. */
async function waitingRedemptions(probe: PostgresDatabase): Promise<number> {
  const row = await probe.row<{ waiting: number }>(
    `SELECT count(*)::int AS waiting FROM pg_stat_activity
      WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'UPDATE join_tokens SET used_at%'`,
  );
  return row?.waiting ?? 0;
}

describe('PostgreSQL: one join token redeemed by several nodes at once', () => {
  it(`lets exactly one of ${NODES} nodes blocked on the same row win; the others answer used`, async () => {
    const { opened, location, dispose } = await POSTGRES_BACKEND.open();
    assert.equal(location.kind, 'postgres');
    const others = await Promise.all(Array.from({ length: NODES - 1 }, () => openLedgerBackend(location)));
    const nodes: LedgerBackend[] = [opened.ledger, ...others.map((other) => other.ledger)];
    const probe = new PostgresDatabase({ url: location.url, poolSize: 1 });
    const blocker = await probe.dedicatedClient();
    try {
      const tokenHash = freshHash();
      await opened.ledger.joinTokens.create({
        id: 'jt-000000000000000001',
        tokenHash,
        spiffeId: 'spiffe://keysmith.local/node/racer',
        expiresAt: NOW + HOUR,
        createdAt: NOW,
        createdBy: 'cli:race',
        usedAt: null,
        usedBySerial: null,
        revokedAt: null,
      });

      await blocker.query('BEGIN');
      await blocker.query('SELECT 1 FROM join_tokens WHERE token_hash = $1 FOR UPDATE', [tokenHash]);
      const racing = nodes.map((node, index) => node.joinTokens.redeem(tokenHash, NOW + 1 + index));
      let waiting = 0;
      for (const started = Date.now(); Date.now() - started < WAIT_LIMIT_MS;) {
        waiting = await waitingRedemptions(probe);
        if (waiting === NODES) break;
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      }
      assert.equal(waiting, NODES, "every node's redemption is waiting on the row at the same moment");
      await blocker.query('COMMIT');

      const outcomes = await Promise.all(racing);
      const winners = outcomes.flatMap((outcome, index) => (outcome.ok ? [{ index, usedAt: outcome.record.usedAt }] : []));
      assert.equal(winners.length, 1);
      const [winner] = winners;
      assert.ok(winner !== undefined);
      assert.equal(winner.usedAt, NOW + 1 + winner.index);
      assert.deepEqual(
        outcomes.filter((outcome) => !outcome.ok),
        Array.from({ length: NODES - 1 }, () => ({ ok: false, reason: 'used' })),
      );
      const stored = await probe.rows<{ used_at: number }>('SELECT used_at FROM join_tokens WHERE token_hash = $1', [tokenHash]);
      assert.deepEqual(stored, [{ used_at: winner.usedAt }]);
    } finally {
      await blocker.end();
      await probe.close();
      await Promise.all(others.map((other) => other.ledger.close()));
      await dispose();
    }
  });
});
