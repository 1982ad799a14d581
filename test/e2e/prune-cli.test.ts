import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { openLedger } from '../../src/ledger/index.js';
import { DAY, makeRecord } from '../unit/ledger/ledger-fixtures.js';
import { runProcess } from '../helpers/processes.js';
import { testBackend } from '../helpers/test-backend.js';

/** `keysmith prune` (src/cli/prune.ts) on a SQLite data directory, as an operator runs it. */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'keysmith-prune-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

const dataDir = join(scratch, 'data');
const env = { PATH: process.env['PATH'], KEYSMITH_DATA_DIR: dataDir, KEYSMITH_RETENTION_PERIOD: '1d', KEYSMITH_LOG_LEVEL: 'warn' };

async function prune(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runProcess(process.execPath, [MAIN, 'prune', ...args], { env, timeoutMs: 60_000 });
}

function tables(certificates: number): Record<string, number> {
  return { acme_orders: 0, acme_authorizations: 0, certificates, join_tokens: 0, alert_messages: 0, alert_runs: 0, acme_spent_nonces: 0 };
}

describe('keysmith prune', { skip: testBackend() === 'postgres' ? 'SQLite data directory' : false }, () => {
  it('counts with --dry-run, deletes without it, keeps revoked-unexpired and current rows, and waits for a held lease', async () => {
    const init = await runProcess(process.execPath, [MAIN, 'init'], { env, timeoutMs: 60_000 });
    assert.equal(init.code, 0, init.stderr);
    const now = Date.now();
    const expired = makeRecord({ notBefore: now - 3 * DAY, notAfter: now - 2 * DAY, issuedAt: now - 3 * DAY });
    const revoked = makeRecord({ notBefore: now - DAY, notAfter: now + DAY, issuedAt: now - DAY });
    const ledger = openLedger({ path: join(dataDir, 'keysmith.db') });
    const total = (): number => Number(ledger.certificates.count());
    try {
      ledger.certificates.recordIssued(expired);
      ledger.certificates.recordIssued(revoked);
      ledger.certificates.revoke(revoked.serial, 'keyCompromise', now);
      const before = total();

      const dryRun = await prune(['--dry-run', '--json']);
      assert.equal(dryRun.code, 0, dryRun.stderr);
      assert.deepEqual(JSON.parse(dryRun.stdout), { dry_run: true, retention_period_ms: DAY, tables: tables(1) });
      assert.equal(total(), before);

      // Another node holds the retention lease: this run refuses and deletes nothing.
      assert.equal(ledger.leases.acquire('retention', 'other-node', Date.now(), 60_000), true);
      const blocked = await prune(['--json']);
      assert.equal(blocked.code, 1);
      assert.match(
        blocked.stderr,
        /another keysmith process is pruning this ledger right now \(the retention lease is held\); try again later/,
      );
      assert.equal(total(), before);
      ledger.leases.release('retention', 'other-node');

      const run = await prune(['--json']);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(JSON.parse(run.stdout), { dry_run: false, retention_period_ms: DAY, tables: tables(1) });
      assert.equal(total(), before - 1);
      assert.equal(ledger.certificates.findBySerial(expired.serial), undefined);
      assert.equal(ledger.certificates.findBySerial(revoked.serial)?.status, 'revoked');
      // The lease was given back: nobody holds it after the run.
      assert.equal(ledger.leases.holderOf('retention', Date.now()), undefined);
    } finally {
      ledger.close();
    }
  });
});
