/**
 * Complete ACME orders per second against keysmith in this process, and
 * where an order's time goes, step by step.
 *
 *   npm run bench:acme
 *   BENCH_ORDERS=200 BENCH_CONCURRENCY=1,8,32 node dist/bench/acme/run.js
 *
 * The server is keysmith as `keysmith serve` wires it (openCore +
 * startServer: the in-house TLS listener on 127.0.0.1, fastify, the ACME
 * handler composed by composeAcme with the real challenge validator, the
 * real SQLite ledger and the Authority), with rate limits lifted and a hook
 * on each finished validation. The client is in the same process: ES256 JWS
 * made with jose over keep-alive HTTPS (client.ts), one account per worker,
 * one DNS name per order (so every order validates afresh), http-01
 * answered by a node:http server here. CSRs are made before measuring.
 *
 * Environment: BENCH_ORDERS (complete orders per concurrency level, 60),
 * BENCH_WARMUP (orders before measuring, 10), BENCH_CONCURRENCY (levels,
 * comma-separated, "1,4,16"), BENCH_DIR (parent of the temporary data
 * directory). Results are printed and written to dist/bench-acme-results.json.
 */
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { Agent } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import * as acme from 'acme-client';
import type { ValidationEvent } from '../../src/acme/index.js';
import { composeAcme, openCore } from '../../src/cli/compose.js';
import { startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config.js';
import { envNumber } from '../common/env.js';
import { BenchAcmeClient, field, jsonOf, stringList } from './client.js';

const STEPS = ['newOrder', 'authzFetch', 'challenge', 'validation', 'orderReady', 'finalize', 'download'] as const;
type Step = (typeof STEPS)[number];
const STEP_LABELS: Readonly<Record<Step, string>> = {
  newOrder: 'new-order (POST newOrder)',
  authzFetch: 'authz fetch (POST-as-GET)',
  challenge: 'challenge (POST {})',
  validation: 'validation (answer -> recorded)',
  orderReady: 'order fetch (ready)',
  finalize: 'finalize (CSR -> valid)',
  download: 'download (PEM chain)',
};

const ORDERS = envNumber('BENCH_ORDERS', 60, 1, 100_000);
const WARMUP = envNumber('BENCH_WARMUP', 10, 0, 10_000);
const CONCURRENCIES = (process.env['BENCH_CONCURRENCY'] ?? '1,4,16').split(',').map((text) => {
  const value = Number(text.trim());
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new Error('BENCH_CONCURRENCY must list integers in [1, 256]');
  return value;
});
const SUFFIX = 'bench.test';
const NO_LIMIT = { burst: 1_000_000, perSecond: 1_000_000 };

interface LevelResult {
  readonly concurrency: number;
  readonly orders: number;
  readonly wallSeconds: number;
  readonly ordersPerSecond: number;
  /** Client and server share this process: CPU seconds of both. */
  readonly cpuSecondsPerOrderMs: number;
  readonly totalMs: { readonly median: number; readonly p90: number; readonly p99: number };
  readonly steps: Readonly<Record<Step, { readonly medianMs: number; readonly p90Ms: number; readonly meanMs: number }>>;
  /** The validator's own duration per attempt (ValidationEvent.durationMs). */
  readonly validatorMs: { readonly median: number; readonly p90: number };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return address.port;
}

/** base64url DER of a PEM CSR, as finalize takes it (RFC 8555 §7.4). */
function csrField(pem: Buffer): string {
  const body = pem.toString('utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return Buffer.from(body, 'base64').toString('base64url');
}

/** Waits for the validator's report on a challenge, whichever comes first: the report or the wait. */
class ValidationEvents {
  private readonly seen = new Map<string, ValidationEvent>();
  private readonly waiting = new Map<string, (event: ValidationEvent) => void>();

  record = (event: ValidationEvent): void => {
    const waiter = this.waiting.get(event.challengeId);
    if (waiter === undefined) this.seen.set(event.challengeId, event);
    else {
      this.waiting.delete(event.challengeId);
      waiter(event);
    }
  };

  /** The challenge id is the last path segment of its URL. */
  next(challengeUrl: string): Promise<ValidationEvent> {
    const id = challengeUrl.slice(challengeUrl.lastIndexOf('/') + 1);
    const event = this.seen.get(id);
    if (event !== undefined) {
      this.seen.delete(id);
      return Promise.resolve(event);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no validation report for challenge ${id} within 30 s`));
      }, 30_000);
      this.waiting.set(id, (reported) => {
        clearTimeout(timer);
        resolve(reported);
      });
    });
  }
}

interface Job {
  readonly name: string;
  readonly csr: string;
}

interface OrderTiming {
  readonly steps: Record<Step, number>;
  readonly totalMs: number;
  readonly validatorMs: number;
}

async function completeOrder(client: BenchAcmeClient, job: Job, answers: Map<string, string>, events: ValidationEvents): Promise<OrderTiming> {
  const steps = Object.fromEntries(STEPS.map((s) => [s, 0])) as Record<Step, number>;
  const start = performance.now();
  let mark = start;
  const lap = (step: Step): void => {
    const now = performance.now();
    steps[step] = now - mark;
    mark = now;
  };
  const expect = (status: number, wanted: readonly number[], what: string, body: Buffer): void => {
    if (!wanted.includes(status)) throw new Error(`${what}: HTTP ${status} ${body.toString('utf8').slice(0, 300)}`);
  };

  const created = await client.post(client.directory.newOrder, { identifiers: [{ type: 'dns', value: job.name }] });
  expect(created.status, [201], 'newOrder', created.body);
  const orderUrl = created.headers['location'];
  if (typeof orderUrl !== 'string') throw new Error('newOrder: no Location');
  const order = jsonOf(created, 'order');
  const [authzUrl] = stringList(order, 'authorizations', 'order');
  if (authzUrl === undefined) throw new Error('order without authorizations');
  const finalizeUrl = field(order, 'finalize', 'order');
  lap('newOrder');

  const authzReply = await client.post(authzUrl, '');
  expect(authzReply.status, [200], 'authorization', authzReply.body);
  const challenges = jsonOf(authzReply, 'authorization')['challenges'];
  const http01 = Array.isArray(challenges)
    ? challenges.map((c: unknown) => (typeof c === 'object' && c !== null ? { ...c } : {})).find((c: Record<string, unknown>) => c['type'] === 'http-01')
    : undefined;
  if (http01 === undefined) throw new Error('no http-01 challenge');
  const token = field(http01, 'token', 'challenge');
  const challengeUrl = field(http01, 'url', 'challenge');
  answers.set(token, client.keyAuthorization(token));
  lap('authzFetch');

  const validated = events.next(challengeUrl);
  const answered = await client.post(challengeUrl, {});
  expect(answered.status, [200], 'challenge', answered.body);
  lap('challenge');
  const event = await validated;
  if (!event.ok) throw new Error(`validation of ${job.name} failed`);
  answers.delete(token);
  lap('validation');

  // The validation is recorded (order ready) before the hook reports it; one fetch shows it, as a client's poll would.
  let orderReply = await client.post(orderUrl, '');
  for (let polls = 0; polls < 100 && field(jsonOf(orderReply, 'order'), 'status', 'order') === 'pending'; polls++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    orderReply = await client.post(orderUrl, '');
  }
  const status = field(jsonOf(orderReply, 'order'), 'status', 'order');
  if (status !== 'ready') throw new Error(`order ${orderUrl} is ${status}, not ready`);
  lap('orderReady');

  const finalized = await client.post(finalizeUrl, { csr: job.csr });
  expect(finalized.status, [200], 'finalize', finalized.body);
  const done = jsonOf(finalized, 'order');
  if (field(done, 'status', 'order') !== 'valid') throw new Error(`finalize answered ${field(done, 'status', 'order')}`);
  const certificateUrl = field(done, 'certificate', 'order');
  lap('finalize');

  const chain = await client.post(certificateUrl, '');
  expect(chain.status, [200], 'certificate', chain.body);
  if (!chain.body.toString('utf8').startsWith('-----BEGIN CERTIFICATE-----')) throw new Error('download: not a PEM chain');
  lap('download');
  return { steps, totalMs: performance.now() - start, validatorMs: event.durationMs };
}

async function makeJobs(prefix: string, count: number, keyPem: Buffer): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}-${i}.${SUFFIX}`;
    const [, csr] = await acme.crypto.createCsr({ commonName: name, altNames: [name] }, keyPem);
    jobs.push({ name, csr: csrField(csr) });
  }
  return jobs;
}

/** Runs `jobs` with `clients.length` workers, each with its own account, one order in flight per worker. */
async function runJobs(clients: readonly BenchAcmeClient[], jobs: readonly Job[], answers: Map<string, string>, events: ValidationEvents): Promise<OrderTiming[]> {
  const timings: OrderTiming[] = [];
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) timings.push(await completeOrder(client, job, answers, events));
    }),
  );
  return timings;
}

function summarize(concurrency: number, timings: readonly OrderTiming[], wallSeconds: number, cpuSeconds: number): LevelResult {
  const sortedOf = (values: readonly number[]): number[] => [...values].sort((a, b) => a - b);
  const totals = sortedOf(timings.map((t) => t.totalMs));
  const validator = sortedOf(timings.map((t) => t.validatorMs));
  const steps = Object.fromEntries(
    STEPS.map((step) => {
      const values = sortedOf(timings.map((t) => t.steps[step]));
      const mean = values.reduce((sum, v) => sum + v, 0) / Math.max(1, values.length);
      return [step, { medianMs: round(quantile(values, 0.5)), p90Ms: round(quantile(values, 0.9)), meanMs: round(mean) }];
    }),
  ) as LevelResult['steps'];
  return {
    concurrency,
    orders: timings.length,
    wallSeconds: round(wallSeconds, 3),
    ordersPerSecond: round(timings.length / wallSeconds, 1),
    cpuSecondsPerOrderMs: round((cpuSeconds / timings.length) * 1000),
    totalMs: { median: round(quantile(totals, 0.5)), p90: round(quantile(totals, 0.9)), p99: round(quantile(totals, 0.99)) },
    steps,
    validatorMs: { median: round(quantile(validator, 0.5)), p90: round(quantile(validator, 0.9)) },
  };
}

function print(result: LevelResult): void {
  console.log(
    `\nconcurrency ${result.concurrency}: ${result.orders} orders in ${result.wallSeconds} s = ${result.ordersPerSecond} orders/s ` +
      `(${result.cpuSecondsPerOrderMs} ms CPU per order, client and server together)`,
  );
  console.log(`  order total   median ${result.totalMs.median} ms   p90 ${result.totalMs.p90} ms   p99 ${result.totalMs.p99} ms`);
  for (const step of STEPS) {
    const s = result.steps[step];
    console.log(`  ${STEP_LABELS[step].padEnd(34)} median ${String(s.medianMs).padStart(7)} ms   p90 ${String(s.p90Ms).padStart(7)} ms   mean ${String(s.meanMs).padStart(7)} ms`);
  }
  console.log(`  ${'validator alone (its own clock)'.padEnd(34)} median ${String(result.validatorMs.median).padStart(7)} ms   p90 ${String(result.validatorMs.p90).padStart(7)} ms`);
}

async function main(): Promise<void> {
  const parent = process.env['BENCH_DIR'] ?? tmpdir();
  mkdirSync(parent, { recursive: true });
  const dir = mkdtempSync(join(parent, 'keysmith-bench-acme-'));
  const answers = new Map<string, string>();
  const events = new ValidationEvents();
  const challengeServer: Server = createHttpServer((request, response) => {
    const prefix = '/.well-known/acme-challenge/';
    const url = request.url ?? '';
    const answer = url.startsWith(prefix) ? answers.get(url.slice(prefix.length)) : undefined;
    if (answer === undefined) response.writeHead(404).end();
    else response.writeHead(200).end(answer);
  });
  await new Promise<void>((resolve) => challengeServer.listen(0, '127.0.0.1', resolve));
  const challengeAddress = challengeServer.address();
  if (challengeAddress === null || typeof challengeAddress === 'string') throw new Error('challenge server has no port');

  const config = loadConfig({
    env: {
      KEYSMITH_DATA_DIR: join(dir, 'data'),
      KEYSMITH_LISTEN: `127.0.0.1:${await freePort()}`,
      KEYSMITH_LOG_LEVEL: 'warn',
      KEYSMITH_ACME_ALLOWED_SUFFIXES: SUFFIX,
      KEYSMITH_ACME_VALIDATION_ADDRESS: '127.0.0.1',
      KEYSMITH_ACME_HTTP01_PORT: String(challengeAddress.port),
    },
  });
  const core = await openCore(config);
  const handler = composeAcme(core, {
    limits: { newAccountPerAddress: NO_LIMIT, noncePerAddress: NO_LIMIT, newOrderPerAccount: NO_LIMIT, finalizePerAccount: NO_LIMIT },
    onValidated: events.record,
  });
  const server = await startServer(core, { acme: handler });
  const maxConcurrency = Math.max(...CONCURRENCIES);
  const agent = new Agent({ ca: core.authority.bundlePem(), keepAlive: true, maxSockets: maxConcurrency });
  const directoryUrl = `https://127.0.0.1:${server.port}/acme/directory`;
  const results: LevelResult[] = [];
  try {
    const clients = await Promise.all(Array.from({ length: maxConcurrency }, () => BenchAcmeClient.create(agent, directoryUrl)));
    for (const client of clients) await client.register();
    const keyPem = await acme.crypto.createPrivateEcdsaKey('P-256');
    console.log(`keysmith ACME bench: ${ORDERS} complete http-01 orders per level, concurrency ${CONCURRENCIES.join(', ')}; making CSRs...`);
    const warmup = await makeJobs('warmup', WARMUP, keyPem);
    const levels = await Promise.all(CONCURRENCIES.map((c, i) => makeJobs(`c${c}-${i}`, ORDERS, keyPem)));
    await runJobs(clients.slice(0, Math.min(4, clients.length)), warmup, answers, events);
    for (const [i, concurrency] of CONCURRENCIES.entries()) {
      const cpuBefore = process.cpuUsage();
      const started = performance.now();
      const timings = await runJobs(clients.slice(0, concurrency), levels[i] ?? [], answers, events);
      const wallSeconds = (performance.now() - started) / 1000;
      const cpu = process.cpuUsage(cpuBefore);
      const result = summarize(concurrency, timings, wallSeconds, (cpu.user + cpu.system) / 1e6);
      print(result);
      results.push(result);
    }
    const file = join('dist', 'bench-acme-results.json');
    writeFileSync(file, `${JSON.stringify({ node: process.version, orders: ORDERS, results }, null, 2)}\n`);
    console.log(`\nwritten to ${file}`);
  } finally {
    agent.destroy();
    await server.close(1_000);
    await core.close();
    await new Promise<void>((resolve) => challengeServer.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
