import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { openLedgerBackend } from '../../../../src/ledger/index.js';
import { isDomainError } from '../../../../src/shared/errors.js';
import { BACKENDS } from '../../../helpers/backends.js';

/**
 * The cluster secret's check value (cluster_key_check, migrations/0007) on
 * both backends: the first value recorded stays, every later caller gets it
 * back to compare with its own, and two nodes racing on an empty ledger
 * agree on one winner.
 */
for (const backend of BACKENDS) {
  describe(`cluster secret check value: ${backend.name}`, () => {
    it('records the first value and hands it back to every later caller, whatever they offer', async () => {
      const { opened, location, dispose } = await backend.open();
      try {
        const first = new Uint8Array(randomBytes(32));
        const other = new Uint8Array(randomBytes(32));
        assert.deepEqual(await opened.ledger.clusterCheck.recordOrGet(first, 1_000), { value: first, isNew: true });
        assert.deepEqual(await opened.ledger.clusterCheck.recordOrGet(first, 2_000), { value: first, isNew: false });
        assert.deepEqual(await opened.ledger.clusterCheck.recordOrGet(other, 3_000), { value: first, isNew: false });
        // Another node (or process) on the same ledger sees the same row.
        const second = await openLedgerBackend(
          location.kind === 'sqlite' ? { kind: 'sqlite', path: location.path } : { kind: 'postgres', url: location.url },
        );
        try {
          assert.deepEqual(await second.ledger.clusterCheck.recordOrGet(other, 4_000), { value: first, isNew: false });
        } finally {
          await second.ledger.close();
        }
      } finally {
        await dispose();
      }
    });

    it('refuses a value that is not 32 bytes, or a time that is not integer milliseconds, and records nothing', async () => {
      const { opened, dispose } = await backend.open();
      try {
        const refusesAsMalformed = (error: unknown): boolean => isDomainError(error, 'malformed');
        await assert.rejects(async () => opened.ledger.clusterCheck.recordOrGet(new Uint8Array(31), 1_000), refusesAsMalformed);
        await assert.rejects(async () => opened.ledger.clusterCheck.recordOrGet(new Uint8Array(33), 1_000), refusesAsMalformed);
        await assert.rejects(async () => opened.ledger.clusterCheck.recordOrGet(new Uint8Array(32), 1.5), refusesAsMalformed);
        const value = new Uint8Array(randomBytes(32));
        assert.deepEqual(await opened.ledger.clusterCheck.recordOrGet(value, 1_000), { value, isNew: true });
      } finally {
        await dispose();
      }
    });

    it('two nodes starting together on an empty ledger: one value wins, both get it back', async () => {
      const { opened, location, dispose } = await backend.open();
      const second = await openLedgerBackend(
        location.kind === 'sqlite' ? { kind: 'sqlite', path: location.path } : { kind: 'postgres', url: location.url },
      );
      try {
        const a = new Uint8Array(randomBytes(32));
        const b = new Uint8Array(randomBytes(32));
        const [fromA, fromB] = await Promise.all([
          opened.ledger.clusterCheck.recordOrGet(a, 1_000),
          second.ledger.clusterCheck.recordOrGet(b, 1_000),
        ]);
        assert.deepEqual(fromA.value, fromB.value);
        assert.equal([fromA.isNew, fromB.isNew].filter(Boolean).length, 1);
        assert.deepEqual(fromA.value, fromA.isNew ? a : b);
      } finally {
        await second.ledger.close();
        await dispose();
      }
    });
  });
}
