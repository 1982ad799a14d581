import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { makeFleetLedger } from '../../bench/ledger/fleet-ledger.js';
import { exchange, jsonHeaders, type Exchange } from '../helpers/exchange.js';
import { HostileService, type LatencyReport } from './harness.js';

/**
 * A fleet-sized ledger must not stall the service. A 100,000-row
 * ledger (what CI can afford; made by bench/ledger's own library from real
 * certificates: 95% 1-hour SVIDs over 30 days, 2% revoked) under `keysmith
 * serve` as a child: the listener opens quickly, and /healthz, probed every
 * 20 ms on one keep-alive connection, keeps its p99 under the bound through
 * start-up (alert catch-up, CRL, OCSP signer), a revocation, the periodic
 * checks (alert ticks every 10 s, WAL checkpoints every second) and an alert
 * run (POST /v1/alerts/run). The 1,000,000-row figures are bench/ledger's.
 */

/** LEDGER_SCALE_ROWS=1000000 runs the same test on a million rows (~2-3 minutes more to make them). */
const ROWS = Number(process.env['LEDGER_SCALE_ROWS'] ?? 100_000);
/** /healthz p99 bound: tens of milliseconds, with margin on a busy 2-core machine (measured 5-6 ms quiet, 27 ms busy). */
const P99_BOUND_MS = 60;
/** The listener's curl line, from spawn: a fleet ledger must not hold it back (measured 0.6-1.9 s at 100k rows). */
const LISTEN_BOUND_MS = 10_000;

async function adminRequest(service: HostileService, method: 'GET' | 'POST', path: string, body?: string): Promise<Exchange> {
  const [cert, key, ca] = await Promise.all([
    readFile(service.paths.adminCert),
    readFile(service.paths.adminKey),
    readFile(service.paths.bundle),
  ]);
  const options = {
    host: '127.0.0.1',
    port: service.port,
    path,
    method,
    cert,
    key,
    ca,
    servername: 'localhost',
    headers: jsonHeaders(body),
  };
  return exchange(request, options, body, 30_000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('a fleet-sized ledger under keysmith serve', () => {
  let dataDir: string;
  let service: HostileService | undefined;
  let listenMs = 0;

  before(
    async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'keysmith-ledger-scale-'));
      const made = await makeFleetLedger({ dataDir, rows: ROWS });
      console.log(`# made ${made.rows} rows in ${made.seconds.toFixed(1)} s (${JSON.stringify(made.byProfile)}, ${made.revoked} revoked)`);
    },
    { timeout: 900_000 },
  );
  after(async () => {
    if (service !== undefined) await service.stop();
    else await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'opens its listener quickly and keeps /healthz p99 under the bound through start-up, a revocation, the periodic checks and an alert run',
    { timeout: 240_000 },
    async () => {
      const started = performance.now();
      service = await HostileService.startOn(dataDir, {
        env: {
          KEYSMITH_ALERTS_SCHEDULE: '*/10 * * * * *',
          KEYSMITH_LEDGER_CHECKPOINT_INTERVAL: '1s',
          KEYSMITH_CRL_REFRESH_INTERVAL: '1m',
        },
      });
      listenMs = performance.now() - started;
      console.log(`# listener open (curl line) ${listenMs.toFixed(0)} ms after spawn on ${ROWS} rows`);
      assert.ok(listenMs < LISTEN_BOUND_MS, `the listener took ${listenMs.toFixed(0)} ms`);

      const probe = await service.startLatencyProbe(20);
      const probeStarted = performance.now();
      const phases: string[] = [];
      const mark = (name: string): void => {
        phases.push(name);
        marks.push(`${name} ends at ${(performance.now() - probeStarted).toFixed(0)} ms`);
      };
      const marks: string[] = [];
      // Start-up work after the listener opened: the alert catch-up run, the first checkpoints.
      await sleep(3_000);
      mark('start-up');

      const db = new Database(service.paths.database, { readonly: true });
      const serial = db
        .prepare<[], string>("SELECT serial FROM certificates WHERE status = 'valid' AND profile = 'svid' ORDER BY issued_at DESC LIMIT 1")
        .pluck()
        .get();
      db.close();
      assert.ok(serial !== undefined);
      const revoked = await adminRequest(service, 'POST', `/v1/certificates/${serial}/revoke`, JSON.stringify({ reason: 'keyCompromise' }));
      assert.equal(revoked.status, 200, revoked.body);
      await sleep(2_000);
      mark('revocation');

      const run = await adminRequest(service, 'POST', '/v1/alerts/run');
      // 200 with the run, or 409 when a scheduled tick holds the run right now: both leave the loop free.
      assert.ok(run.status === 200 || run.status === 409, `${run.status} ${run.body}`);
      const listing = await adminRequest(service, 'GET', '/v1/certificates?expiring_within=7d&limit=500');
      assert.equal(listing.status, 200, listing.body);
      // Two alert ticks (every 10 s) and ~20 checkpoint passes.
      await sleep(21_000);
      mark('alert run, listing, periodic checks');

      const report: LatencyReport = await probe.stop();
      console.log(`# /healthz through ${phases.join(', ')}: ${report.describe()}`);
      const slowest = [...report.probes].sort((a, b) => b.ms - a.ms).slice(0, 5);
      console.log(
        `# slowest probes: ${slowest.map((p) => `${p.ms.toFixed(0)} ms at ${p.at.toFixed(0)} ms`).join(', ')}; ${marks.join(', ')}`,
      );
      await service.assertHealthy('after the run');
      assert.deepEqual(report.failures, [], report.describe());
      assert.ok(report.probes.length > 500, report.describe());
      assert.ok(report.p99 < P99_BOUND_MS, `p99 ${report.p99.toFixed(1)} ms is over ${P99_BOUND_MS} ms: ${report.describe()}`);
    },
  );
});
