/**
 * Certificates issued per second through Authority.issue, with durable ledger
 * writes (the real SQLite ledger: WAL, synchronous=FULL for issuance), and
 * where the time goes: the Authority reports each step of `issue`
 * (validate, serial lookup, build, sign, check, ledger write).
 *
 *   npm run build && node dist/bench/issue/run.js
 *   BENCH_SECONDS=10 BENCH_PROFILE=tls-server node dist/bench/issue/run.js
 *
 * Environment: BENCH_SECONDS (measured window per mode, default 5),
 * BENCH_WARMUP (issuances before measuring, 200), BENCH_PROFILE (svid |
 * tls-server | node, default svid), BENCH_CONCURRENCY (issuances in flight in
 * the concurrent mode, 8), BENCH_DIR (parent directory of the temporary data
 * directory, default the OS temp dir: put it on the disk you mean to measure).
 *
 * Subject keys are made before measuring (a pool of 256 P-256 keys): key
 * generation is the client's cost, not issuance. Results are printed and
 * written to dist/bench-issue-results.json.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Authority, initCertificateAuthority, type IssueRequest, type IssueStep } from '../../src/ca/index.js';
import { openLedger } from '../../src/ledger/index.js';
import { systemClock } from '../../src/shared/clock.js';
import type { ProfileName } from '../../src/domain/certificates.js';
import { envNumber } from '../common/env.js';

const STEPS: readonly IssueStep[] = ['validate', 'serial', 'build', 'sign', 'check', 'record'];
const STEP_LABELS: Readonly<Record<IssueStep, string>> = {
  validate: 'validate (key + profile)',
  serial: 'serial (ledger lookup)',
  build: 'build + encode TBS',
  sign: 'sign (ECDSA P-256)',
  check: 'check (re-parse, verify)',
  record: 'ledger write (FULL sync)',
};

function envProfile(): ProfileName {
  const raw = process.env['BENCH_PROFILE'] ?? 'svid';
  if (raw === 'svid' || raw === 'tls-server' || raw === 'node') return raw;
  throw new Error('BENCH_PROFILE must be svid, tls-server or node');
}

const SECONDS = envNumber('BENCH_SECONDS', 5, 0.5, 600);
const WARMUP = envNumber('BENCH_WARMUP', 200, 0, 100_000);
const CONCURRENCY = envNumber('BENCH_CONCURRENCY', 8, 1, 256);
const PROFILE = envProfile();
const TRUST_DOMAIN = 'bench.keysmith.local';

interface StepStats {
  readonly meanUs: number;
  readonly medianUs: number;
  readonly share: number;
}

interface ModeResult {
  readonly mode: string;
  readonly issued: number;
  readonly wallSeconds: number;
  readonly cpuSeconds: number;
  readonly perSecond: number;
  readonly perCpuSecond: number;
  readonly latencyMs: { readonly median: number; readonly p99: number };
  readonly steps: Readonly<Record<IssueStep, StepStats>>;
}

class StepRecorder {
  readonly samples = new Map<IssueStep, number[]>(STEPS.map((s) => [s, []]));
  isOn = false;
  record(step: IssueStep, ms: number): void {
    if (this.isOn) this.samples.get(step)?.push(ms);
  }
  reset(): void {
    for (const list of this.samples.values()) list.length = 0;
  }
}

function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

function makeRequests(profile: ProfileName): IssueRequest[] {
  const out: IssueRequest[] = [];
  for (let i = 0; i < 256; i++) {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
    const base = { publicKey: spki, requester: 'system' };
    out.push(
      profile === 'tls-server'
        ? { ...base, dnsNames: [`host-${i}.bench.example`], ipAddresses: ['192.0.2.10'] }
        : profile === 'node'
          ? { ...base, spiffeId: `spiffe://${TRUST_DOMAIN}/node/agent-${i}` }
          : { ...base, spiffeId: `spiffe://${TRUST_DOMAIN}/ns/bench/sa/workload-${i}` },
    );
  }
  return out;
}

async function measure(
  mode: string,
  authority: Authority,
  requests: readonly IssueRequest[],
  recorder: StepRecorder,
  inFlight: number,
): Promise<ModeResult> {
  recorder.reset();
  recorder.isOn = true;
  const latencies: number[] = [];
  let issued = 0;
  let next = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const deadline = start + SECONDS * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const request = requests[next++ % requests.length];
      if (request === undefined) throw new Error('no request');
      const t0 = performance.now();
      await authority.issue(request, PROFILE);
      latencies.push(performance.now() - t0);
      issued++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const wallSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  recorder.isOn = false;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  const means = new Map<IssueStep, number>();
  for (const step of STEPS) {
    const list = recorder.samples.get(step) ?? [];
    means.set(step, list.reduce((a, b) => a + b, 0) / Math.max(1, list.length));
  }
  const total = [...means.values()].reduce((a, b) => a + b, 0);
  const stats = (step: IssueStep): StepStats => {
    const mean = means.get(step) ?? 0;
    return { meanUs: mean * 1000, medianUs: median(recorder.samples.get(step) ?? []) * 1000, share: total === 0 ? 0 : mean / total };
  };
  const steps: Record<IssueStep, StepStats> = {
    validate: stats('validate'),
    serial: stats('serial'),
    build: stats('build'),
    sign: stats('sign'),
    check: stats('check'),
    record: stats('record'),
  };
  return {
    mode,
    issued,
    wallSeconds,
    cpuSeconds,
    perSecond: issued / wallSeconds,
    perCpuSecond: issued / cpuSeconds,
    latencyMs: { median: median(latencies), p99: percentile(latencies, 0.99) },
    steps,
  };
}

function printResult(result: ModeResult, withSteps: boolean): void {
  console.log(`\n${result.mode}: ${result.issued} certificates in ${result.wallSeconds.toFixed(2)} s`);
  console.log(
    `  ${result.perSecond.toFixed(0)} per second (wall), ${result.perCpuSecond.toFixed(0)} per CPU-second (this process, all threads)`,
  );
  console.log(`  latency median ${result.latencyMs.median.toFixed(2)} ms, p99 ${result.latencyMs.p99.toFixed(2)} ms`);
  // With several issuances in flight a step's wall time includes waiting for the others, so only the sequential split is a cost split.
  if (!withSteps) return;
  console.log(`  ${'step'.padEnd(28)}${'mean µs'.padStart(10)}${'median µs'.padStart(11)}${'share'.padStart(8)}`);
  for (const step of STEPS) {
    const s = result.steps[step];
    console.log(
      `  ${STEP_LABELS[step].padEnd(28)}${s.meanUs.toFixed(0).padStart(10)}${s.medianUs.toFixed(0).padStart(11)}${`${(s.share * 100).toFixed(1)}%`.padStart(8)}`,
    );
  }
}

async function main(): Promise<void> {
  const parent = process.env['BENCH_DIR'] ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dataDir = mkdtempSync(join(parent, 'keysmith-bench-issue-'));
  const ledger = openLedger({ path: join(dataDir, 'keysmith.db') });
  try {
    const { material } = await initCertificateAuthority({
      dataDir,
      trustDomain: TRUST_DOMAIN,
      store: ledger.certificates,
      clock: systemClock,
    });
    const recorder = new StepRecorder();
    const authority = new Authority({
      material,
      store: ledger.certificates,
      clock: systemClock,
      ocspUrl: 'https://127.0.0.1:8443/ocsp',
      onStepTimed: (step, ms) => recorder.record(step, ms),
    });
    const requests = makeRequests(PROFILE);
    console.log(`bench/issue: profile ${PROFILE}, ledger ${join(dataDir, 'keysmith.db')} (SQLite WAL, synchronous=FULL per issuance)`);
    console.log(`node ${process.version}, ${SECONDS} s per mode, ${WARMUP} warm-up issuances`);
    for (let i = 0; i < WARMUP; i++) {
      const request = requests[i % requests.length];
      if (request !== undefined) await authority.issue(request, PROFILE);
    }

    const sequential = await measure('sequential (one issuance at a time)', authority, requests, recorder, 1);
    printResult(sequential, true);
    const concurrent = await measure(`concurrent (${CONCURRENCY} in flight)`, authority, requests, recorder, CONCURRENCY);
    printResult(concurrent, false);

    const out = join(process.cwd(), 'dist', 'bench-issue-results.json');
    mkdirSync(join(process.cwd(), 'dist'), { recursive: true });
    writeFileSync(
      out,
      `${JSON.stringify({ profile: PROFILE, node: process.version, seconds: SECONDS, results: [sequential, concurrent] }, null, 2)}\n`,
    );
    console.log(`\nwritten to ${out}`);
  } finally {
    ledger.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
