/**
 * The console's expiry timeline (GET /v1/certificates/timeline) over a
 * fleet-sized ledger: rows whose notAfter is spread over the next 90 days,
 * across profiles, ~1% revoked; measured beside a trivial statement and a
 * trivial route in the same run, on SQLite and (with BENCH_DATABASE_URL, an
 * empty database) on PostgreSQL.
 *
 *   npx tsc -p tsconfig.json
 *   flock /tmp/keysmith-bench.lock node dist/bench/ledger/timeline.js [ROWS]            # SQLite only
 *   BENCH_DATABASE_URL=postgres://.../empty flock /tmp/keysmith-bench.lock node dist/bench/ledger/timeline.js 100000
 *
 * Per backend: the ledger query (expiryTimeline) and `SELECT 1`, then the
 * route on a bare fastify (inject: routing, zod, JSON) and a trivial route, each
 * ROUNDS times after two warm-up calls; medians and p90 in ms. On SQLite it
 * also times the query over the index as it was before migrations/0010
 * (without profile), the A/B that made 0010; on PostgreSQL it measures again
 * after VACUUM (ANALYZE), the state autovacuum leaves.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { stubDeps } from '../../src/http/openapi-generate.js';
import { registerConsoleRoutes } from '../../src/http/routes/ops/console-routes.js';
import { openLedgerBackend, PostgresDatabase, type LedgerBackend } from '../../src/ledger/index.js';
import type { NewCertificateRecord, ProfileName } from '../../src/domain/certificates.js';

const DAY = 86_400_000;
const ROWS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 30);
const BATCH = 1_000;
const REVOKED_SHARE = 0.01;
/** The mix of a fleet's live certificates: mostly SVIDs, then servers and nodes, a few CA-side ones. */
const PROFILE_MIX: readonly [ProfileName, number][] = [
  ['svid', 0.7],
  ['tls-server', 0.18],
  ['node', 0.08],
  ['ocsp-signer', 0.03],
  ['intermediate', 0.008],
  ['root', 0.002],
];

function pickProfile(): ProfileName {
  let r = Math.random();
  for (const [profile, share] of PROFILE_MIX) {
    if (r < share) return profile;
    r -= share;
  }
  return 'svid';
}

function records(count: number, now: number): NewCertificateRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const der = randomBytes(400);
    const profile = pickProfile();
    const spiffeId = profile === 'svid' || profile === 'node' ? `spiffe://keysmith.local/workload/${i % 10_000}` : null;
    return {
      serial: `7f${randomBytes(15).toString('hex')}`,
      issuer: 'CN=keysmith intermediate',
      subject: `CN=${i}`,
      sans: spiffeId === null ? [{ type: 'dns', value: `svc-${i}.fleet.example.org` }] : [{ type: 'uri', value: spiffeId }],
      spiffeId,
      profile,
      requester: 'system',
      notBefore: now - DAY,
      notAfter: now + Math.floor(Math.random() * 90 * DAY),
      issuedAt: now - DAY,
      der,
      fingerprint: createHash('sha256').update(der).digest('hex'),
    };
  });
}

interface Timing {
  readonly median: number;
  readonly p90: number;
}

async function time(rounds: number, run: () => unknown): Promise<Timing> {
  await run();
  await run();
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await run();
    samples.push(performance.now() - started);
  }
  samples.sort((a, b) => a - b);
  return { median: samples[Math.floor(samples.length / 2)] ?? NaN, p90: samples[Math.floor(samples.length * 0.9)] ?? NaN };
}

function show(label: string, t: Timing): void {
  console.log(`  ${label.padEnd(46)} median ${t.median.toFixed(2).padStart(8)} ms   p90 ${t.p90.toFixed(2).padStart(8)} ms`);
}

async function fill(ledger: LedgerBackend, now: number): Promise<void> {
  const all = records(ROWS, now);
  for (let i = 0; i < all.length; i += BATCH) await ledger.certificates.recordIssuedMany(all.slice(i, i + BATCH));
  const revoked = all.filter(() => Math.random() < REVOKED_SHARE);
  for (const row of revoked) await ledger.certificates.revoke(row.serial, 'superseded', now);
  console.log(`  ${all.length} rows, ${revoked.length} revoked`);
}

async function measure(name: string, ledger: LedgerBackend, selectOne: () => unknown, now: number): Promise<void> {
  console.log(`${name}:`);
  const from = now - (now % DAY);
  const window = { from, now, to: from + 90 * DAY };
  const counts = await ledger.certificates.expiryTimeline(window);
  console.log(`  ${counts.length} (day, profile) rows, ${counts.reduce((n, c) => n + c.count, 0)} certificates in 90 days`);
  show('ledger expiryTimeline (90 days)', await time(ROUNDS, () => ledger.certificates.expiryTimeline(window)));
  show('ledger SELECT 1', await time(ROUNDS, selectOne));
  // The route on a bare fastify (routing, zod, the JSON serializer) beside a trivial route: no TLS, no access policy.
  const app = Fastify({ logger: false });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  const deps = stubDeps();
  registerConsoleRoutes(app, { ...deps, certificates: ledger.certificates, clock: { now: () => now } });
  app.get('/ping', async () => ({ ok: true }));
  await app.ready();
  try {
    const inject = (url: string) => async () => {
      const reply = await app.inject({ method: 'GET', url });
      if (reply.statusCode !== 200) throw new Error(`${url}: ${reply.statusCode} ${reply.body}`);
    };
    show('route GET /v1/certificates/timeline?days=90', await time(ROUNDS, inject('/v1/certificates/timeline?days=90')));
    show('route GET /ping (trivial)', await time(ROUNDS, inject('/ping')));
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const now = Date.now();
  console.log(
    `timeline bench: ${ROWS} rows, ${ROUNDS} rounds, load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  const dir = mkdtempSync(join(tmpdir(), 'keysmith-timeline-'));
  try {
    const path = join(dir, 'ledger.db');
    const sqlite = await openLedgerBackend({ kind: 'sqlite', path });
    try {
      await fill(sqlite.ledger, now);
      const raw = new Database(path, { readonly: true });
      try {
        const one = raw.prepare('SELECT 1');
        await measure('SQLite', sqlite.ledger, () => one.get(), now);
        // A/B in the same run: the index as it was before migrations/0010, without profile (every row read from the table).
        const writer = new Database(path);
        writer.exec("CREATE INDEX bench_before_0010 ON certificates (not_after, serial, issued_at) WHERE status = 'valid'");
        writer.close();
        const from = now - (now % DAY);
        const before0010 = raw.prepare(
          `SELECT CAST((not_after - ?) / ${DAY} AS INTEGER) AS day, profile, count(*) AS count
             FROM certificates INDEXED BY bench_before_0010
            WHERE status = 'valid' AND not_after >= ? AND not_after < ? GROUP BY 1, 2 ORDER BY 1, 2`,
        );
        show('same query, the index before 0010 (no profile)', await time(ROUNDS, () => before0010.all(from, now, from + 90 * DAY)));
      } finally {
        raw.close();
      }
    } finally {
      await sqlite.ledger.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  const url = process.env['BENCH_DATABASE_URL'];
  if (url === undefined) return;
  const postgres = await openLedgerBackend({ kind: 'postgres', url, poolSize: 2 });
  try {
    await fill(postgres.ledger, now);
    await measure('PostgreSQL, freshly loaded (no visibility map yet)', postgres.ledger, () => postgres.ledger.ping(), now);
    // What autovacuum leaves behind: the visibility map set, so the planner may count from the index alone.
    const raw = new PostgresDatabase({ url, poolSize: 1 });
    try {
      await raw.run('VACUUM (ANALYZE) certificates');
    } finally {
      await raw.close();
    }
    await measure('PostgreSQL, after VACUUM (ANALYZE)', postgres.ledger, () => postgres.ledger.ping(), now);
  } finally {
    await postgres.ledger.close();
  }
}

await main();
