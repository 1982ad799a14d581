/**
 * Complete ACME orders per second against keysmith, where an order's time
 * goes step by step, and the same load's floor measured in the same run.
 *
 *   npm run bench:acme
 *   node dist/bench/acme/run.js --rounds 3 --profile /tmp/acme-prof
 *   BENCH_ORDERS=200 BENCH_CONCURRENCY=1,8,32 node dist/bench/acme/run.js
 *
 * The server is a forked process (server.ts: keysmith as `keysmith serve`
 * wires it, with the real challenge validator and the SQLite ledger), pinned
 * to CPU 0 while this process (the client) runs on CPU 1, so the server's
 * CPU per order is its own. The client: ES256 JWS made with jose over
 * keep-alive HTTPS (client.ts), one account per worker, one order in flight
 * per worker, one DNS name per order (every order validates afresh), http-01
 * answered by a node:http server here. CSRs are made before measuring.
 *
 * The peer, in the same run and at the same concurrency: the floor, seven
 * GET /acme/new-nonce per "order" (the requests an order makes, each at the
 * cost of the cheapest ACME answer: the TLS engine, node:http, fastify, the
 * ACME router and a minted nonce; no JWS, no ledger).
 *
 * Options: --rounds N (3; figures are medians of the rounds), --profile DIR
 * (the server writes a V8 .cpuprofile there on exit). Environment:
 * BENCH_ORDERS (orders per round, 100), BENCH_WARMUP (300), BENCH_CONCURRENCY
 * (levels, "1,4,16"), BENCH_ROUNDS, BENCH_CPU_PROFILE (as --profile), BENCH_PIN
 * (none: unpinned), BENCH_DIR (parent of the server's data directory),
 * BENCH_DATABASE_URL (the ledger on that empty PostgreSQL database, not SQLite).
 * Results are printed and written to dist/bench-acme-results.json.
 */
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import * as acme from 'acme-client';
import { envNumber } from '../common/env.js';
import { pinning, startBenchServer } from '../common/server-process.js';
import { BenchAcmeClient, field, jsonOf, stringList } from './client.js';
import { isServerMessage, type ParentMessage, type ServerMessage } from './protocol.js';

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
/** Requests one order makes (newAccount aside): the floor makes as many. */
const REQUESTS_PER_ORDER = 7;

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  if (at === -1) return undefined;
  const value = process.argv[at + 1];
  if (value === undefined || value.startsWith('--')) throw new Error(`${name} needs a value`);
  return value;
}

const profileDir = option('--profile');
if (profileDir !== undefined) process.env['BENCH_CPU_PROFILE'] = profileDir;
const roundsOption = option('--rounds');
if (roundsOption !== undefined) process.env['BENCH_ROUNDS'] = roundsOption;
const ORDERS = envNumber('BENCH_ORDERS', 100, 1, 100_000);
// 300, not 20: after 20 the first measured round ran ~30% below the next ones (ACME and floor alike: the
// server was still tiering up), so with 3 rounds the median was a warm-up round.
const WARMUP = envNumber('BENCH_WARMUP', 300, 0, 10_000);
const ROUNDS = envNumber('BENCH_ROUNDS', 3, 1, 50);
const CONCURRENCIES = (process.env['BENCH_CONCURRENCY'] ?? '1,4,16').split(',').map((text) => {
  const value = Number(text.trim());
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new Error('BENCH_CONCURRENCY must list integers in [1, 256]');
  return value;
});
const SUFFIX = 'bench.test';

interface RoundResult {
  readonly ordersPerSecond: number;
  readonly serverCpuMsPerOrder: number;
  readonly clientCpuMsPerOrder: number;
}

interface LevelResult {
  readonly concurrency: number;
  readonly rounds: number;
  readonly ordersPerRound: number;
  /** Medians of the rounds. */
  readonly acme: RoundResult;
  readonly floor: RoundResult;
  readonly acmeRounds: readonly RoundResult[];
  readonly floorRounds: readonly RoundResult[];
  /** Over the orders of every round. */
  readonly totalMs: { readonly median: number; readonly p90: number; readonly p99: number };
  readonly steps: Readonly<Record<Step, { readonly medianMs: number; readonly p90Ms: number; readonly meanMs: number }>>;
  /** The validator's own duration per attempt (ValidationEvent.durationMs). */
  readonly validatorMs: { readonly median: number; readonly p90: number };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
}

function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** base64url DER of a PEM CSR, as finalize takes it (RFC 8555 §7.4). */
function csrField(pem: Buffer): string {
  const body = pem
    .toString('utf8')
    .replace(/-----[^-]+-----/g, '')
    .replace(/\s+/g, '');
  return Buffer.from(body, 'base64').toString('base64url');
}

interface ValidationEvent {
  readonly challengeId: string;
  readonly ok: boolean;
  readonly durationMs: number;
}

/** Waits for the server's report on a challenge, whichever comes first: the report or the wait. */
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

async function completeOrder(
  client: BenchAcmeClient,
  job: Job,
  answers: Map<string, string>,
  events: ValidationEvents,
): Promise<OrderTiming> {
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
    ? challenges
        .map((c: unknown) => (typeof c === 'object' && c !== null ? { ...c } : {}))
        .find((c: Record<string, unknown>) => c['type'] === 'http-01')
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
async function runJobs(
  clients: readonly BenchAcmeClient[],
  jobs: readonly Job[],
  answers: Map<string, string>,
  events: ValidationEvents,
): Promise<OrderTiming[]> {
  const timings: OrderTiming[] = [];
  let next = 0;
  await Promise.all(
    clients.map(async (client) => {
      for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) timings.push(await completeOrder(client, job, answers, events));
    }),
  );
  return timings;
}

/** The floor: `orders` x seven GET /acme/new-nonce over the same agent, `concurrency` at a time. */
async function runFloor(agent: Agent, url: string, orders: number, concurrency: number): Promise<void> {
  let left = orders * REQUESTS_PER_ORDER;
  const head = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const request = httpsRequest(url, { method: 'GET', agent }, (response) => {
        response.resume();
        response.on('end', () =>
          response.statusCode === 204 ? resolve() : reject(new Error(`GET new-nonce: HTTP ${response.statusCode ?? 0}`)),
        );
      });
      request.setTimeout(30_000, () => request.destroy(new Error('GET new-nonce: no answer in 30 s')));
      request.on('error', reject);
      request.end();
    });
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (left > 0) {
        left--;
        await head();
      }
    }),
  );
}

function summarizeSteps(timings: readonly OrderTiming[]): Pick<LevelResult, 'totalMs' | 'steps' | 'validatorMs'> {
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
    totalMs: { median: round(quantile(totals, 0.5)), p90: round(quantile(totals, 0.9)), p99: round(quantile(totals, 0.99)) },
    steps,
    validatorMs: { median: round(quantile(validator, 0.5)), p90: round(quantile(validator, 0.9)) },
  };
}

function medianRound(rounds: readonly RoundResult[]): RoundResult {
  return {
    ordersPerSecond: round(median(rounds.map((r) => r.ordersPerSecond)), 1),
    serverCpuMsPerOrder: round(median(rounds.map((r) => r.serverCpuMsPerOrder))),
    clientCpuMsPerOrder: round(median(rounds.map((r) => r.clientCpuMsPerOrder))),
  };
}

function print(result: LevelResult): void {
  const line = (label: string, r: RoundResult, rounds: readonly RoundResult[]): string =>
    `  ${label.padEnd(36)} ${String(r.ordersPerSecond).padStart(7)} orders/s   server CPU ${String(r.serverCpuMsPerOrder).padStart(6)} ms/order   ` +
    `client CPU ${String(r.clientCpuMsPerOrder).padStart(6)} ms/order   (rounds: ${rounds.map((x) => x.ordersPerSecond).join(', ')})`;
  console.log(`\nconcurrency ${result.concurrency}: ${result.rounds} rounds of ${result.ordersPerRound} orders, medians of the rounds`);
  console.log(line('keysmith ACME, complete orders', result.acme, result.acmeRounds));
  console.log(line(`floor (${REQUESTS_PER_ORDER} x GET new-nonce per order)`, result.floor, result.floorRounds));
  const ratio = result.floor.ordersPerSecond > 0 ? result.acme.ordersPerSecond / result.floor.ordersPerSecond : 0;
  console.log(
    `  orders at ${round(ratio)}x the floor's rate; server CPU ${round(result.acme.serverCpuMsPerOrder - result.floor.serverCpuMsPerOrder)} ms/order above it`,
  );
  console.log(`  order total   median ${result.totalMs.median} ms   p90 ${result.totalMs.p90} ms   p99 ${result.totalMs.p99} ms`);
  for (const step of STEPS) {
    const s = result.steps[step];
    console.log(
      `  ${STEP_LABELS[step].padEnd(34)} median ${String(s.medianMs).padStart(7)} ms   p90 ${String(s.p90Ms).padStart(7)} ms   mean ${String(s.meanMs).padStart(7)} ms`,
    );
  }
  console.log(
    `  ${'validator alone (its own clock)'.padEnd(34)} median ${String(result.validatorMs.median).padStart(7)} ms   p90 ${String(result.validatorMs.p90).padStart(7)} ms`,
  );
}

async function main(): Promise<void> {
  const pin = pinning();
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

  const script = fileURLToPath(new URL('./server.js', import.meta.url));
  const server = await startBenchServer<ServerMessage, ParentMessage>(script, pin.prefix, isServerMessage, 120_000, {
    BENCH_ACME_HTTP01_PORT: String(challengeAddress.port),
  });
  server.child.on('message', (raw: unknown) => {
    if (isServerMessage(raw) && raw.type === 'validated') events.record(raw);
  });
  const maxConcurrency = Math.max(...CONCURRENCIES);
  const agent = new Agent({ ca: server.ready.bundlePem, keepAlive: true, maxSockets: maxConcurrency });
  const base = `https://127.0.0.1:${server.ready.port}/acme`;
  const results: LevelResult[] = [];
  /** Runs `work` in a window and returns the server's and this process's CPU seconds over it. */
  const measured = async (work: () => Promise<void>): Promise<{ wallSeconds: number; serverCpu: number; clientCpu: number }> => {
    server.tell({ type: 'window-start' });
    const clientBefore = process.cpuUsage();
    const started = performance.now();
    await work();
    const wallSeconds = (performance.now() - started) / 1000;
    const client = process.cpuUsage(clientBefore);
    server.tell({ type: 'window-end' });
    const window = await server.next('window');
    return { wallSeconds, serverCpu: window.cpuSeconds, clientCpu: (client.user + client.system) / 1e6 };
  };
  try {
    const clients = await Promise.all(Array.from({ length: maxConcurrency }, () => BenchAcmeClient.create(agent, `${base}/directory`)));
    for (const client of clients) await client.register();
    const keyPem = await acme.crypto.createPrivateEcdsaKey('P-256');
    console.log(
      `keysmith ACME bench (${server.ready.backend}; ${pin.description}): ${ROUNDS} rounds of ${ORDERS} complete http-01 orders ` +
        `per level, concurrency ${CONCURRENCIES.join(', ')}; making CSRs...`,
    );
    const warmup = await makeJobs('warmup', WARMUP, keyPem);
    const levels: Job[][][] = [];
    for (const [i, c] of CONCURRENCIES.entries()) {
      const rounds: Job[][] = [];
      for (let r = 0; r < ROUNDS; r++) rounds.push(await makeJobs(`c${c}-${i}-r${r}`, ORDERS, keyPem));
      levels.push(rounds);
    }
    await runJobs(clients.slice(0, Math.min(4, clients.length)), warmup, answers, events);
    await runFloor(agent, `${base}/new-nonce`, WARMUP, 4);
    for (const [i, concurrency] of CONCURRENCIES.entries()) {
      const acmeRounds: RoundResult[] = [];
      const floorRounds: RoundResult[] = [];
      const timings: OrderTiming[] = [];
      for (const jobs of levels[i] ?? []) {
        let roundTimings: OrderTiming[] = [];
        const a = await measured(async () => {
          roundTimings = await runJobs(clients.slice(0, concurrency), jobs, answers, events);
        });
        timings.push(...roundTimings);
        acmeRounds.push({
          ordersPerSecond: round(roundTimings.length / a.wallSeconds, 1),
          serverCpuMsPerOrder: round((a.serverCpu / roundTimings.length) * 1000),
          clientCpuMsPerOrder: round((a.clientCpu / roundTimings.length) * 1000),
        });
        const f = await measured(() => runFloor(agent, `${base}/new-nonce`, ORDERS, concurrency));
        floorRounds.push({
          ordersPerSecond: round(ORDERS / f.wallSeconds, 1),
          serverCpuMsPerOrder: round((f.serverCpu / ORDERS) * 1000),
          clientCpuMsPerOrder: round((f.clientCpu / ORDERS) * 1000),
        });
      }
      const result: LevelResult = {
        concurrency,
        rounds: ROUNDS,
        ordersPerRound: ORDERS,
        acme: medianRound(acmeRounds),
        floor: medianRound(floorRounds),
        acmeRounds,
        floorRounds,
        ...summarizeSteps(timings),
      };
      print(result);
      results.push(result);
    }
    const file = join('dist', 'bench-acme-results.json');
    writeFileSync(
      file,
      `${JSON.stringify({ node: process.version, pinning: pin.description, orders: ORDERS, rounds: ROUNDS, results }, null, 2)}\n`,
    );
    console.log(`\nwritten to ${file}${profileDir === undefined ? '' : `; the server's CPU profile goes to ${profileDir}`}`);
  } finally {
    agent.destroy();
    if (server.child.exitCode === null && server.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => server.child.once('exit', () => resolve()));
      server.tell({ type: 'stop' });
      await exited;
    }
    await new Promise<void>((resolve) => challengeServer.close(() => resolve()));
  }
}

await main();
