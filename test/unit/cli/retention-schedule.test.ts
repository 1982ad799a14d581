import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { loadConfig } from '../../../src/config/index.js';
import { pruneUnderLease, retentionMetricsOn, RETENTION_LEASE, startRetention } from '../../../src/cli/prune.js';
import { openLedger } from '../../../src/ledger/index.js';
import type { RetentionReport } from '../../../src/ledger/index.js';
import { systemClock } from '../../../src/shared/clock.js';
import { DAY, makeRecord } from '../ledger/ledger-fixtures.js';

/** The retention schedule `serve` runs (src/cli/prune.ts): a pass under the lease, counted in the metrics registry. */

describe('retention schedule', () => {
  it('runs a pass on its interval, counts the rows in keysmith_retention_pruned_rows_total, and gives the lease back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-retention-'));
    const ledger = openLedger({ path: join(dir, 'keysmith.db') });
    try {
      const now = Date.now();
      for (let i = 0; i < 3; i++)
        ledger.certificates.recordIssued(makeRecord({ notBefore: now - 2 * DAY, notAfter: now - DAY, issuedAt: now - 2 * DAY }));
      const config = loadConfig({ env: { KEYSMITH_DATA_DIR: dir, KEYSMITH_RETENTION_INTERVAL: '1s', KEYSMITH_RETENTION_PERIOD: '0s' } });
      const registry = new Registry();
      const passes: RetentionReport[] = [];
      const errors: unknown[] = [];
      const schedule = startRetention(ledger, {
        config,
        clock: systemClock,
        onBatch: retentionMetricsOn(registry),
        onError: (e) => errors.push(e),
        onPass: (r) => passes.push(r),
      });
      try {
        for (let i = 0; i < 100 && passes.length === 0; i++) await sleep(100);
      } finally {
        await schedule.stop();
      }
      assert.deepEqual(errors, []);
      assert.equal(passes[0]?.['certificates'], 3);
      assert.equal(Number(ledger.certificates.count()), 0);
      const metric = await registry.getSingleMetricAsString('keysmith_retention_pruned_rows_total');
      assert.match(metric, /^keysmith_retention_pruned_rows_total\{table="certificates"\} 3$/m);
      assert.equal(ledger.leases.holderOf(RETENTION_LEASE, Date.now()), undefined);
    } finally {
      ledger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('skips the pass while another process holds the retention lease', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-retention-'));
    const ledger = openLedger({ path: join(dir, 'keysmith.db') });
    try {
      const now = Date.now();
      ledger.certificates.recordIssued(makeRecord({ notBefore: now - 2 * DAY, notAfter: now - DAY, issuedAt: now - 2 * DAY }));
      assert.equal(ledger.leases.acquire(RETENTION_LEASE, 'another-node', now, 60_000), true);
      assert.deepEqual(await pruneUnderLease(ledger, { periodMs: 0 }, systemClock), { report: null });
      assert.equal(Number(ledger.certificates.count()), 1);
      assert.equal(ledger.leases.holderOf(RETENTION_LEASE, Date.now()), 'another-node');
    } finally {
      ledger.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
