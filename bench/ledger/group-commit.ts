/**
 * Durable ledger writes per second: one row per transaction against group commit.
 *
 *   npm run build && node dist/bench/ledger/group-commit.js [directory]
 *
 * Every commit is synchronous=FULL, so each waits for the disk. Measured:
 *  - `single`: CertificateRepository.recordIssued in a loop, one transaction per row;
 *  - `callers=C`: C concurrent callers, each awaiting GroupCommit.recordIssued in a
 *    loop (a closed loop like issuance: a caller's next row waits for its last
 *    commit), so each flush carries about C rows;
 *  - `burst`: every row queued in one turn, written in batches of maxBatchRows (256).
 * Rows (random ~700-byte DER) are made before the clock starts. Environment:
 * BENCH_ROWS (per measurement, default 5000), BENCH_ROUNDS (3; the median is shown).
 * Use a directory on the disk the ledger will live on (tmpfs makes fsync free).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { GroupCommit, openLedger, type Ledger } from '../../src/ledger/index.js';
import type { NewCertificateRecord } from '../../src/domain/certificates.js';
import { envNumber } from '../common/env.js';
import { benchRecords, NOW } from './records.js';

const ROWS = envNumber('BENCH_ROWS', 5000, 100, 1_000_000);
const ROUNDS = envNumber('BENCH_ROUNDS', 3, 1, 20);
const CALLER_COUNTS = [1, 16, 64, 256] as const;

let serialCounter = 0;

function makeRecords(count: number): NewCertificateRecord[] {
  return benchRecords(
    count,
    () => {
      serialCounter += 1;
      // A leading 0x40 octet keeps serials canonical (no leading zero octet) and unique across the run.
      return `40${serialCounter.toString(16).padStart(12, '0')}${randomBytes(8).toString('hex')}`;
    },
    () => NOW + 3_600_000,
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface Measurement {
  readonly rowsPerSecond: number;
  readonly rowsPerTransaction: number;
}

function measureSingle(ledger: Ledger, rows: readonly NewCertificateRecord[]): Measurement {
  const start = performance.now();
  for (const record of rows) ledger.certificates.recordIssued(record);
  return { rowsPerSecond: rows.length / ((performance.now() - start) / 1000), rowsPerTransaction: 1 };
}

async function measureCallers(ledger: Ledger, rows: readonly NewCertificateRecord[], callers: number): Promise<Measurement> {
  const committer = new GroupCommit(ledger.certificates);
  let next = 0;
  const caller = async (): Promise<void> => {
    for (let record = rows[next++]; record !== undefined; record = rows[next++]) await committer.recordIssued(record);
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: callers }, caller));
  const seconds = (performance.now() - start) / 1000;
  await committer.close();
  const { transactions, rowsCommitted } = committer.stats();
  return { rowsPerSecond: rows.length / seconds, rowsPerTransaction: rowsCommitted / transactions };
}

async function measureBurst(ledger: Ledger, rows: readonly NewCertificateRecord[]): Promise<Measurement> {
  const committer = new GroupCommit(ledger.certificates);
  const start = performance.now();
  await Promise.all(rows.map((record) => committer.recordIssued(record)));
  const seconds = (performance.now() - start) / 1000;
  await committer.close();
  const { transactions, rowsCommitted } = committer.stats();
  return { rowsPerSecond: rows.length / seconds, rowsPerTransaction: rowsCommitted / transactions };
}

async function main(): Promise<void> {
  const parent = process.argv[2] ?? tmpdir();
  const dir = mkdtempSync(join(parent, 'keysmith-group-commit-bench-'));
  const results = new Map<string, Measurement[]>();
  const note = (name: string, measurement: Measurement): void => {
    results.set(name, [...(results.get(name) ?? []), measurement]);
  };
  try {
    for (let round = 0; round < ROUNDS; round += 1) {
      // A fresh file per round so every measurement starts from the same size.
      const ledger = openLedger({ path: join(dir, `round-${round}.db`) });
      try {
        note('single', measureSingle(ledger, makeRecords(ROWS)));
        for (const callers of CALLER_COUNTS) note(`callers=${callers}`, await measureCallers(ledger, makeRecords(ROWS), callers));
        note('burst', await measureBurst(ledger, makeRecords(ROWS)));
      } finally {
        ledger.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const single = median((results.get('single') ?? []).map((m) => m.rowsPerSecond));
  console.log(`durable rows/s, ${ROWS} rows per measurement, median of ${ROUNDS} (directory ${parent})`);
  for (const [name, measurements] of results) {
    const rate = median(measurements.map((m) => m.rowsPerSecond));
    const perTransaction = median(measurements.map((m) => m.rowsPerTransaction));
    console.log(
      `${name.padEnd(12)} ${Math.round(rate).toString().padStart(8)} rows/s  ` +
        `${perTransaction.toFixed(1).padStart(6)} rows/transaction  ${(rate / single).toFixed(1)}x single`,
    );
  }
}

await main();
