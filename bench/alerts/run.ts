/**
 * Expiry detection over a large ledger: the real migrations, the real
 * detection transaction (AlertOutboxRepository.enqueueExpiring: the partial
 * index on valid rows by notAfter, the lifetime rule, the successor checks
 * in SQL, the inserts), timed on this machine's disk.
 *
 *   npm run build && node dist/bench/alerts/run.js
 *   BENCH_ROWS=200000 BENCH_DIR=/var/lib/keysmith-bench node dist/bench/alerts/run.js
 *
 * Two ledgers are made:
 * - "fleet": what a busy deployment accumulates. 10k workloads renewing
 *   1-hour SVIDs every 30 minutes for days (the bulk of the rows, nearly all
 *   expired), 10k TLS server identities on 90-day certificates renewed at
 *   day 60 (one in a hundred not renewed), node certificates, admin
 *   identities, the CA. Detection runs with 7d, then with 7d + 30d for the
 *   CA and TLS servers; first run (enqueues) and steady state (nothing new).
 * - "stress": every row a valid certificate expiring within the threshold
 *   window (a million live 1-hour SVIDs), the worst case for the index range.
 *
 * Rows are seeded through a second connection in large transactions with
 * synchronous=OFF (seeding is not what is measured); DER is a few bytes.
 * Environment: BENCH_ROWS (default 1000000), BENCH_REPEAT (steady-state
 * runs, 15), BENCH_DIR (parent of the temporary directory).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { alertKey } from '../../src/alerts/index.js';
import { openLedger, type ExpiryThresholdSpec, type Ledger } from '../../src/ledger/index.js';

const ROWS = envNumber('BENCH_ROWS', 1_000_000, 1_000, 50_000_000);
const REPEAT = envNumber('BENCH_REPEAT', 15, 1, 1_000);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const NOW = Date.UTC(2025, 5, 1, 9);
const TRUST_DOMAIN = 'bench.keysmith.local';

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer in [${min}, ${max}]`);
  return value;
}

interface Row {
  readonly profile: string;
  readonly spiffeId: string | null;
  readonly dns: readonly string[];
  readonly subject: string;
  readonly issuedAt: number;
  readonly lifetimeMs: number;
}

/** Seeds rows through its own connection: raw inserts in big transactions, no fsync. */
class Seeder {
  private readonly db: Database.Database;
  private readonly insertCertificate: Database.Statement<unknown[]>;
  private readonly insertName: Database.Statement<unknown[]>;
  private readonly batch: Row[] = [];
  private serial = 0x10_0000_0000;
  count = 0;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('synchronous = OFF');
    this.insertCertificate = this.db.prepare(
      `INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after, issued_at, status, der, fingerprint, sans)
       VALUES (?, 'CN=bench intermediate', ?, ?, ?, 'system', ?, ?, ?, 'valid', ?, ?, ?)`,
    );
    this.insertName = this.db.prepare('INSERT INTO certificate_names (serial, type, value) VALUES (?, ?, ?)');
  }

  add(row: Row): void {
    this.count += 1;
    this.batch.push(row);
    if (this.batch.length >= 50_000) this.flush();
  }

  flush(): void {
    const rows = this.batch.splice(0);
    this.db.transaction(() => {
      for (const row of rows) {
        this.serial += 1;
        const serial = this.serial.toString(16);
        const sans = [
          ...(row.spiffeId === null ? [] : [{ type: 'uri', value: row.spiffeId }]),
          ...row.dns.map((value) => ({ type: 'dns', value })),
        ];
        this.insertCertificate.run(
          serial,
          row.subject,
          row.spiffeId,
          row.profile,
          row.issuedAt - 60_000,
          row.issuedAt + row.lifetimeMs,
          row.issuedAt,
          Buffer.from(serial, 'hex'),
          createHash('sha256').update(serial).digest('hex'),
          JSON.stringify(sans),
        );
        for (const san of sans) this.insertName.run(serial, san.type, san.value);
      }
    })();
  }

  close(): void {
    this.flush();
    this.db.close();
  }
}

/** A fleet's history, `total` rows: mostly expired SVIDs, a live TLS server estate, the CA. */
function seedFleet(seeder: Seeder, total: number): void {
  const workloads = 10_000;
  const servers = 10_000;
  // CA: a root and an intermediate with years left.
  seeder.add({ profile: 'root', spiffeId: null, dns: [], subject: 'CN=bench root', issuedAt: NOW - 400 * DAY, lifetimeMs: 3650 * DAY });
  seeder.add({
    profile: 'intermediate',
    spiffeId: null,
    dns: [],
    subject: 'CN=bench intermediate',
    issuedAt: NOW - 400 * DAY,
    lifetimeMs: 1825 * DAY,
  });
  // TLS servers: 90 days, renewed at day 60; three generations each; one in a hundred was not renewed.
  for (let s = 0; s < servers; s += 1) {
    const dns = [`svc-${s}.bench.internal`, ...(s % 3 === 0 ? [`svc-${s}.bench.example`] : [])];
    const phase = (s * 7919) % (60 * 24); // spread renewals over 60 days, in hours
    const latestIssue = NOW - phase * HOUR;
    const isStale = s % 100 === 0;
    for (let g = isStale ? 1 : 0; g < 3; g += 1) {
      seeder.add({
        profile: 'tls-server',
        spiffeId: null,
        dns,
        subject: `CN=svc-${s}`,
        issuedAt: latestIssue - g * 60 * DAY,
        lifetimeMs: 90 * DAY,
      });
    }
  }
  // Admins: 90 days, 200 of them, a few not renewed.
  for (let a = 0; a < 200; a += 1) {
    const spiffeId = `spiffe://${TRUST_DOMAIN}/admin/a${a}`;
    seeder.add({
      profile: 'svid',
      spiffeId,
      dns: [],
      subject: `CN=admin ${a}`,
      issuedAt: NOW - ((a * 13) % 89) * DAY - HOUR,
      lifetimeMs: 90 * DAY,
    });
  }
  // Nodes: 1-day certificates renewed every 12 hours over the last 10 days.
  for (let n = 0; n < 1_000; n += 1) {
    for (let k = 0; k < 20; k += 1) {
      seeder.add({
        profile: 'node',
        spiffeId: `spiffe://${TRUST_DOMAIN}/node/n${n}`,
        dns: [],
        subject: `CN=node ${n}`,
        issuedAt: NOW - k * 12 * HOUR - (n % 720) * 60_000,
        lifetimeMs: DAY,
      });
    }
  }
  // SVIDs fill the rest: 1 hour, renewed at half-life, newest first back in time.
  const remaining = total - seeder.count;
  for (let i = 0; i < remaining; i += 1) {
    const w = i % workloads;
    const generation = Math.floor(i / workloads);
    seeder.add({
      profile: 'svid',
      spiffeId: `spiffe://${TRUST_DOMAIN}/workload/w${w}`,
      dns: [],
      subject: `CN=w${w}`,
      issuedAt: NOW - generation * 30 * 60_000 - (w % 1800) * 1_000,
      lifetimeMs: HOUR,
    });
  }
}

/** The worst case: every row valid and inside the window (a million live SVIDs expiring within the hour). */
function seedStress(seeder: Seeder, total: number): void {
  for (let i = 0; i < total; i += 1) {
    seeder.add({
      profile: 'svid',
      spiffeId: `spiffe://${TRUST_DOMAIN}/workload/w${i}`,
      dns: [],
      subject: `CN=w${i}`,
      issuedAt: NOW - (i % 3_600) * 1_000,
      lifetimeMs: HOUR,
    });
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

interface Timed {
  readonly ms: number;
  readonly enqueued: number;
}

function detectOnce(ledger: Ledger, thresholds: readonly ExpiryThresholdSpec[], now: number): Timed {
  const runId = ledger.alerts.startRun({ reason: 'manual', holder: 'bench', now });
  if (runId === null) throw new Error('run refused');
  const start = performance.now();
  const enqueued = ledger.alerts.enqueueExpiring({
    runId,
    now,
    thresholds,
    targets: [{ channel: 'webhook', recipient: 'https://hooks.bench/' }],
    keyFor: alertKey,
  });
  const ms = performance.now() - start;
  ledger.alerts.finishRun(runId, now, enqueued.length);
  return { ms, enqueued: enqueued.length };
}

function measure(label: string, ledger: Ledger, thresholds: readonly ExpiryThresholdSpec[]): string[] {
  const first = detectOnce(ledger, thresholds, NOW);
  const steady: number[] = [];
  for (let i = 0; i < REPEAT; i += 1) steady.push(detectOnce(ledger, thresholds, NOW + (i + 1) * 1_000).ms);
  return [
    `  ${label}`,
    `    first run (detects and enqueues ${first.enqueued.toLocaleString('en-US')}, one durable transaction): ${first.ms.toFixed(1)} ms`,
    `    steady state (nothing new), median of ${REPEAT}: ${median(steady).toFixed(1)} ms  [min ${Math.min(...steady).toFixed(1)}, max ${Math.max(...steady).toFixed(1)}]`,
  ];
}

function main(): void {
  const parent = process.env['BENCH_DIR'] ?? tmpdir();
  const dir = mkdtempSync(join(parent, 'keysmith-alerts-bench-'));
  const lines: string[] = [];
  try {
    for (const scenario of ['fleet', 'stress'] as const) {
      const path = join(dir, `${scenario}.db`);
      openLedger({ path }).close();
      const seedStart = performance.now();
      const seeder = new Seeder(path);
      if (scenario === 'fleet') seedFleet(seeder, ROWS);
      else seedStress(seeder, ROWS);
      seeder.close();
      const seedSeconds = (performance.now() - seedStart) / 1000;
      const ledger = openLedger({ path });
      try {
        const rows = ledger.certificates.count();
        const mb = statSync(path).size / 1e6;
        lines.push(
          `${scenario}: ${rows.toLocaleString('en-US')} certificates (${mb.toFixed(0)} MB, seeded in ${seedSeconds.toFixed(1)} s)`,
        );
        lines.push(...measure('threshold 7d', ledger, [{ withinMs: 7 * DAY, profiles: null }]));
        if (scenario === 'fleet') {
          lines.push(
            ...measure('thresholds 7d + 30d for root, intermediate, tls-server', ledger, [
              { withinMs: 7 * DAY, profiles: null },
              { withinMs: 30 * DAY, profiles: ['root', 'intermediate', 'tls-server'] },
            ]),
          );
        }
      } finally {
        ledger.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`alerts bench: expiry detection over ${ROWS.toLocaleString('en-US')} ledger rows in ${parent}`);
  for (const line of lines) console.log(line);
}

main();
