import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { openLedger, RETENTION_STEPS } from '../../../src/ledger/index.js';
import { deleteBatchSql } from '../../../src/ledger/retention-sql.js';

/**
 * Every retention batch finds its rows through an index (migrations/0009), never by
 * scanning the table: a batch of 500 on a ledger of millions must cost what 500 rows cost.
 */
describe('retention query plans (SQLite)', () => {
  it('searches an index for every step, and for every foreign key its deletes check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-retention-plans-'));
    try {
      const path = join(dir, 'keysmith.db');
      openLedger({ path }).close();
      const db = new Database(path, { readonly: true });
      try {
        for (const step of RETENTION_STEPS) {
          const plan = db
            .prepare<Record<string, number | string>, { detail: string }>(`EXPLAIN QUERY PLAN ${deleteBatchSql(step, 2)}`)
            .all({ now: 1, cutoff: 1, limit: 500, keep0: 'aa', keep1: 'bb' })
            .map((row) => row.detail);
          assert.deepEqual(
            plan.filter((detail) => /^SCAN /.test(detail) || detail.includes('TEMP B-TREE')),
            [],
            `${step}: ${plan.join(' | ')}`,
          );
        }
      } finally {
        db.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
