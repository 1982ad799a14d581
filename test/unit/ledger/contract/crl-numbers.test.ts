import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { openLedgerBackend, type OpenedLedger } from '../../../../src/ledger/index.js';
import { isDomainError } from '../../../../src/shared/errors.js';
import { BACKENDS, type BackendUnderTest } from '../../../helpers/backends.js';
import { createTestDatabase } from '../../../helpers/postgres.js';

/**
 * The CRL number (RFC 5280 §5.2.3: monotonically increasing), kept by the
 * ledger: a row on SQLite, the crl_number sequence on PostgreSQL. The same
 * test body runs on both backends.
 */

/** `count` ledgers ("nodes") on one database, and a disposer. */
async function openNodes(backend: BackendUnderTest, count: number): Promise<{ nodes: OpenedLedger[]; dispose(): Promise<void> }> {
  if (backend.name === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-crlnum-'));
    const nodes: OpenedLedger[] = [];
    for (let i = 0; i < count; i++) nodes.push(await openLedgerBackend({ kind: 'sqlite', path: join(dir, 'ledger.db') }));
    return {
      nodes,
      async dispose() {
        for (const node of nodes) await node.ledger.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const database = await createTestDatabase('crlnum');
  const nodes = await Promise.all(
    Array.from({ length: count }, () => openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 3 })),
  );
  return {
    nodes,
    async dispose() {
      await Promise.all(nodes.map((node) => node.ledger.close()));
      await database.drop();
    },
  };
}

for (const backend of BACKENDS) {
  describe(`CRL numbers: ${backend.name}`, () => {
    it('start at 1 on a new ledger and grow by one', async () => {
      const { opened, dispose } = await backend.open();
      try {
        const taken = [];
        for (let i = 0; i < 5; i++) taken.push(await opened.ledger.crlNumbers.next(1));
        assert.deepEqual(taken, [1, 2, 3, 4, 5]);
      } finally {
        await dispose();
      }
    });

    it('jump to the floor an upgraded state file gives, then continue from there and never go back below it', async () => {
      const { opened, dispose } = await backend.open();
      try {
        const numbers = opened.ledger.crlNumbers;
        assert.equal(await numbers.next(1), 1);
        assert.equal(await numbers.next(1_780_000_000_001), 1_780_000_000_001);
        assert.equal(await numbers.next(1), 1_780_000_000_002);
        assert.equal(await numbers.next(500), 1_780_000_000_003, 'a lower floor never moves the number back');
      } finally {
        await dispose();
      }
    });

    it('refuse a floor that is not a positive safe integer', async () => {
      const { opened, dispose } = await backend.open();
      try {
        for (const bad of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER]) {
          await assert.rejects(
            async () => opened.ledger.crlNumbers.next(bad),
            (err) => isDomainError(err, 'malformed'),
            String(bad),
          );
        }
        assert.equal(await opened.ledger.crlNumbers.next(1), 1, 'nothing was taken by the refused calls');
      } finally {
        await dispose();
      }
    });

    it('are distinct and increasing when several connections take them at once', async () => {
      const { nodes, dispose } = await openNodes(backend, 4);
      try {
        const perNode = 25;
        // Each node takes its numbers one after another; the nodes run at once (on SQLite, interleaved on one thread;
        // on PostgreSQL, four pools racing on the lock and the sequence). Node 2 asks for a floor halfway.
        const taken = await Promise.all(
          nodes.map(async (node, index) => {
            const mine: number[] = [];
            for (let i = 0; i < perNode; i++) {
              mine.push(await node.ledger.crlNumbers.next(index === 2 && i === 10 ? 1_000 : 1));
              await new Promise((resolve) => setImmediate(resolve));
            }
            return mine;
          }),
        );
        for (const mine of taken) {
          for (let i = 1; i < mine.length; i++) assert.ok((mine[i] ?? 0) > (mine[i - 1] ?? 0), `increasing: ${mine.join(',')}`);
        }
        const all = taken.flat();
        assert.equal(new Set(all).size, all.length, 'no number was handed out twice');
        assert.ok((taken[2]?.[10] ?? 0) >= 1_000, 'the floor was honoured');
        // Every number after the jump is above it, and there are no gaps on either side of it.
        const below = all.filter((n) => n < 1_000).sort((a, b) => a - b);
        const above = all.filter((n) => n >= 1_000).sort((a, b) => a - b);
        assert.deepEqual(
          below,
          Array.from({ length: below.length }, (_, i) => i + 1),
        );
        assert.deepEqual(
          above,
          Array.from({ length: above.length }, (_, i) => i + 1_000),
        );
      } finally {
        await dispose();
      }
    });
  });
}
