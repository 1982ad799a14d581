import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crlIssuerFor } from '../../src/ca/index.js';
import { WorkerCrlBuilder } from '../../src/cli/crl-builder.js';
import { openRevokedReader } from '../../src/ledger/index.js';
import { encodeCrlTbs, encodeCrlTbsWithSchemas } from '../../src/x509/index.js';
import { envNumber } from '../common/env.js';
import { revokedLedger } from './revoked-ledger.js';
import { StallMonitor } from './stall.js';

/*
 * bench/crl: building the CRL of a large revoked set (100,000 revoked
 * entries) without stalling /healthz.
 *
 *   npm run build && node dist/bench/crl/run.js          # 100,000 revoked rows
 *   BENCH_REVOKED=20000 node dist/bench/crl/run.js       # quicker
 *
 * Reports, on the main thread: the periodic change check (count and latest
 * revocation over the partial index); the read of the rows; the hand-written
 * DER encoder against the asn1-x509 schema builder (per entry); and the whole
 * build in a worker thread (as `serve` runs it), unsharded and with 8 shards:
 * wall time, CRL size, and the longest event-loop stall while it ran.
 */

const REVOKED = envNumber('BENCH_REVOKED', 100_000, 1, 1_000_000);
const SCHEMA_SAMPLE = Math.min(REVOKED, envNumber('BENCH_SCHEMA_SAMPLE', 5_000, 1, 100_000));

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(process.env['BENCH_DIR'] ?? tmpdir(), 'keysmith-crl-bench-'));
  try {
    const seeding = performance.now();
    const seeded = await revokedLedger(dataDir, REVOKED);
    console.log(`seeded ${REVOKED} revoked rows in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
    const now = Date.now();

    const probeTimes: number[] = [];
    for (let i = 0; i < 9; i++) {
      const t = performance.now();
      seeded.ledger.certificates.revokedSummary(seeded.issuerName, now);
      probeTimes.push(performance.now() - t);
    }
    console.log(
      `change check (count + max(revoked_at) over the partial index) if it ran on the main thread: median ${median(probeTimes).toFixed(2)} ms`,
    );

    const reader = openRevokedReader(seeded.databasePath);
    const readStart = performance.now();
    const rows = reader.listing.revokedUnexpired(seeded.issuerName, now);
    const readMs = performance.now() - readStart;
    reader.close();
    console.log(`read ${rows.length} rows: ${readMs.toFixed(0)} ms`);

    const { issuer } = crlIssuerFor(seeded.material);
    const content = { thisUpdate: now, nextUpdate: now + 86_400_000, crlNumber: now, entries: rows };
    const handStart = performance.now();
    const tbs = encodeCrlTbs(content, issuer);
    const handMs = performance.now() - handStart;
    const sample = { ...content, entries: rows.slice(0, SCHEMA_SAMPLE) };
    const schemaStart = performance.now();
    encodeCrlTbsWithSchemas(sample, issuer);
    const schemaMs = performance.now() - schemaStart;
    console.log(
      `encode TBS: hand-written ${handMs.toFixed(0)} ms for ${rows.length} (${((handMs * 1000) / rows.length).toFixed(1)} us/entry, ${tbs.byteLength} bytes); ` +
        `asn1-x509 schemas ${schemaMs.toFixed(0)} ms for ${SCHEMA_SAMPLE} (${((schemaMs * 1000) / SCHEMA_SAMPLE).toFixed(1)} us/entry)`,
    );

    for (const shardCount of [1, 8]) {
      const builder = new WorkerCrlBuilder({
        ledger: { kind: 'sqlite', path: seeded.databasePath },
        issuerName: seeded.issuerName,
        issuer,
        signingKey: seeded.material.intermediate.keyObject,
        shardCount,
        crlUrl: 'http://127.0.0.1/crl',
      });
      try {
        for (let run = 0; run < 3; run++) {
          const monitor = new StallMonitor();
          const started = performance.now();
          const set = await builder.build({ now, thisUpdate: now, nextUpdate: now + 86_400_000, crlNumber: now + run });
          const wallMs = performance.now() - started;
          const stallMs = monitor.stop();
          const shardBytes = set.shards.map((s) => s.der.byteLength);
          console.log(
            `worker build, ${shardCount === 1 ? 'unsharded' : `${shardCount} shards`} (run ${run + 1}${run === 0 ? ', thread start' : ''}): ${wallMs.toFixed(0)} ms wall ` +
              `(read ${set.timings.readMs.toFixed(0)}, encode ${set.timings.encodeMs.toFixed(0)}, sign ${set.timings.signMs.toFixed(0)} ms in the worker); ` +
              `full CRL ${set.full.der.byteLength} bytes, ${set.full.entries} entries` +
              (shardBytes.length > 0 ? `; shards ${Math.min(...shardBytes)}-${Math.max(...shardBytes)} bytes` : '') +
              `; longest main-thread stall ${stallMs.toFixed(1)} ms`,
          );
        }
        if (shardCount === 1) {
          const monitor = new StallMonitor();
          const started = performance.now();
          await builder.revokedSummary(seeded.issuerName, now);
          console.log(
            `change check in the worker (as serve runs it): ${(performance.now() - started).toFixed(1)} ms wall; longest main-thread stall ${monitor.stop().toFixed(1)} ms`,
          );
        }
      } finally {
        await builder.close();
      }
    }
    seeded.ledger.close();
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
