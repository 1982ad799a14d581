/**
 * Ledger throughput on this machine's disk.
 *
 *   npm run build && node dist/bench/ledger/run.js [directory]
 *
 * recordIssued is measured as the issuance pipeline uses it: one certificate
 * per transaction, synchronous=FULL, so each commit waits for the disk. Rows
 * and their DER (random bytes, ~700 B) are made before the clock starts.
 * Environment: BENCH_ROWS (per round, default 5000), BENCH_ROUNDS (3). The
 * file lives in a fresh temporary directory unless one is given; use a
 * directory on the disk the ledger will live on (tmpfs makes fsync free).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openLedger } from '../../src/ledger/index.js';
import type { NewCertificateRecord } from '../../src/domain/certificates.js';
import { benchRecords, NOW } from './records.js';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 5000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const HOUR = 3_600_000;

function makeRecords(count: number, round: number): NewCertificateRecord[] {
  const prefix = (round + 1).toString(16).padStart(2, '0');
  return benchRecords(
    count,
    () => `${prefix}${randomBytes(15).toString('hex')}`,
    (i) => NOW + (i % 168) * HOUR,
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function main(): void {
  const parent = process.argv[2] ?? tmpdir();
  const dir = mkdtempSync(join(parent, 'keysmith-ledger-bench-'));
  const writeRates: number[] = [];
  const statusRates: number[] = [];
  const pageMs: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      const records = makeRecords(ROWS, round);
      const ledger = openLedger({ path: join(dir, `round-${round}.db`) });
      try {
        let start = performance.now();
        for (const record of records) ledger.certificates.recordIssued(record);
        writeRates.push(ROWS / ((performance.now() - start) / 1000));

        const lookups = 50_000;
        start = performance.now();
        for (let i = 0; i < lookups; i += 1) ledger.certificates.statusOf(records[i % ROWS]?.serial ?? '00');
        statusRates.push(lookups / ((performance.now() - start) / 1000));

        start = performance.now();
        const pages = 200;
        for (let i = 0; i < pages; i += 1) ledger.certificates.list({ expiringWithinMs: 7 * 24 * HOUR, now: NOW, limit: 100 });
        pageMs.push((performance.now() - start) / pages);
      } finally {
        ledger.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  console.log(`ledger bench: ${ROWS} rows x ${ROUNDS} rounds in ${parent} (medians)`);
  console.log(
    `  recordIssued, 1 row per transaction, synchronous=FULL: ${fmt(median(writeRates))} rows/s  [${writeRates.map(fmt).join(', ')}]`,
  );
  console.log(`  statusOf (hits):                                       ${fmt(median(statusRates))} lookups/s`);
  console.log(`  list expiring within 7 d, first page of 100:           ${median(pageMs).toFixed(2)} ms`);
}

main();
