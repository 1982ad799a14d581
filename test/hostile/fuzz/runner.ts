/**
 * The fuzz loop with a process-level oracle: each input goes to `keysmith
 * serve` running as a child; after each input the child must still be
 * alive, and every HEALTH_EVERY inputs /healthz must answer 200 within
 * HEALTH_TIMEOUT_MS. A death (or a wedge) writes the input, with the few
 * sent before it, as a crash fixture, and the service is restarted so the
 * run goes on until its time is up.
 */
import { createHash } from 'node:crypto';
import { Prng } from '../../robustness/flood-tools.js';
import { HostileService } from '../harness.js';
import type { Outcome } from './client.js';
import { crashSignature, readFixtures, writeFixture, type CrashRecord } from './fixtures.js';
import type { FuzzTarget, TargetName, TargetSession } from './target.js';

export const HEALTH_EVERY = 50;
export const HEALTH_TIMEOUT_MS = 5_000;
/** Inputs kept before the current one: a crash may show only on the next input. */
const HISTORY = 3;
/**
 * After a connection died without an answer, how long to wait for the
 * child's exit to be seen; a later death is caught by the next input
 * (refused connection), which blames the input before it.
 */
const EXIT_GRACE_MS = 50;

export interface TargetStats {
  readonly target: TargetName;
  inputs: number;
  /** Wall time of this target, restarts included. */
  elapsedMs: number;
  /** Of which spent restarting the service after a crash. */
  restartMs: number;
  restarts: number;
  /** Outcome status -> count (HTTP statuses, or closed/reset/timeout/error). */
  readonly outcomes: Map<string, number>;
  /** `fixture` is the file written, or the existing fixture with the same signature (then `isNew` is false). */
  readonly crashes: { readonly fixture: string; readonly kind: CrashRecord['kind']; readonly signature: string; readonly isNew: boolean }[];
}

export interface RunOptions {
  readonly seed: number;
  readonly seconds: number;
  readonly targets: readonly FuzzTarget[];
  readonly log: (line: string) => void;
  /** Where fixtures go (tests point this at a temporary directory). */
  readonly fixturesDir?: string;
}

/** Each target draws from its own stream, so `--target X --seed S` replays X's share of an `all` run. */
export function targetSeed(seed: number, target: TargetName): number {
  return (seed ^ createHash('sha256').update(target).digest().readUInt32BE(0)) >>> 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function exitedWithin(service: HostileService, ms: number): Promise<boolean> {
  const until = performance.now() + ms;
  while (service.isAlive && performance.now() < until) await sleep(10);
  return !service.isAlive;
}

class Lane {
  private service: HostileService | undefined;
  private session: TargetSession | undefined;

  constructor(
    private readonly target: FuzzTarget,
    private readonly lifetimeMs: number,
  ) {}

  async ensure(): Promise<{ service: HostileService; session: TargetSession }> {
    if (this.service === undefined || this.session === undefined) {
      this.service = await HostileService.start({ env: this.target.env, lifetimeMs: this.lifetimeMs });
      this.session = await this.target.open(this.service);
    }
    return { service: this.service, session: this.session };
  }

  async stop(): Promise<void> {
    this.session?.close();
    await this.service?.stop();
    this.session = undefined;
    this.service = undefined;
  }
}

/** Runs every target for its share of the time, one after the other. */
export async function runFuzz(options: RunOptions): Promise<TargetStats[]> {
  const share = (options.seconds * 1_000) / options.targets.length;
  // One fixture per failure signature: a crash found again (in this run or an earlier one) is counted, not written again.
  const known = new Map<string, string>();
  for (const fixture of await readFixtures(options.fixturesDir))
    known.set(`${fixture.record.target} ${fixture.record.signature}`, fixture.name);
  const results: TargetStats[] = [];
  for (const target of options.targets) {
    results.push(await fuzzTarget(target, share, options, known));
  }
  return results;
}

/**
 * Fuzzes one target for `budgetMs` of wall time, restarts included (so a
 * service that crashes on every other input still ends the run on time).
 */
async function fuzzTarget(target: FuzzTarget, budgetMs: number, options: RunOptions, known: Map<string, string>): Promise<TargetStats> {
  const stats: TargetStats = { target: target.name, inputs: 0, elapsedMs: 0, restartMs: 0, restarts: 0, outcomes: new Map(), crashes: [] };
  const seed = targetSeed(options.seed, target.name);
  const prng = new Prng(seed);
  const lane = new Lane(target, budgetMs + 120_000);
  const history: Buffer[] = [];
  let { service, session } = await lane.ensure();
  // The clock starts once the service is up: the first start-up is not the target's time.
  const started = performance.now();
  try {
    while (performance.now() - started < budgetMs) {
      const batch = Array.from({ length: target.parallel }, () => target.generate(prng));
      stats.inputs += batch.length;
      const outcomes = await Promise.all(batch.map((input) => session.send(input)));
      for (const outcome of outcomes) {
        const key = String(outcome.status);
        stats.outcomes.set(key, (stats.outcomes.get(key) ?? 0) + 1);
      }
      const input = batch[batch.length - 1] ?? Buffer.alloc(0);
      const outcome = outcomes[outcomes.length - 1] ?? { status: 'error', headers: {}, body: Buffer.alloc(0) };

      let kind: CrashRecord['kind'] | undefined;
      if (!service.isAlive) kind = 'crash';
      else if (outcomes.some(isAbnormal) && (await exitedWithin(service, EXIT_GRACE_MS))) kind = 'crash';
      else if (stats.inputs % HEALTH_EVERY < batch.length) {
        const probe = await service.healthz(HEALTH_TIMEOUT_MS);
        if (!service.isAlive) kind = 'crash';
        else if (probe.status !== 200) kind = 'unresponsive';
      }

      if (kind !== undefined) {
        // The batch's other inputs are suspects too: they go before it in `preceding`.
        history.push(...batch.slice(0, -1));
        const killer = refusedOutright(outcome) && batch.length === 1 && history.length > 0 ? (history.pop() ?? input) : input;
        const signature =
          kind === 'crash' ? crashSignature(service.child.output) : `/healthz did not answer 200 within ${HEALTH_TIMEOUT_MS} ms`;
        const record: CrashRecord = {
          target: target.name,
          kind,
          seed: options.seed,
          iteration: stats.inputs,
          signature,
          exit: service.child.exitStatus ?? null,
          preceding: history.map((b) => b.toString('base64')),
        };
        const knownAs = known.get(`${target.name} ${signature}`);
        const fixture = knownAs ?? (await writeFixture(killer, record, options.fixturesDir));
        known.set(`${target.name} ${signature}`, fixture);
        stats.crashes.push({ fixture, kind, signature, isNew: knownAs === undefined });
        options.log(
          `  ${target.name}: ${kind} at input ${stats.inputs} (${signature || 'no message'}) ${knownAs === undefined ? `-> new fixture ${fixture}` : `as known fixture ${fixture}`}`,
        );
        const restartBegan = performance.now();
        await lane.stop();
        if (performance.now() - started >= budgetMs) break;
        ({ service, session } = await lane.ensure());
        stats.restarts++;
        stats.restartMs += performance.now() - restartBegan;
        history.length = 0;
        continue;
      }
      history.push(...batch);
      while (history.length > HISTORY + batch.length - 1) history.shift();
    }
  } finally {
    stats.elapsedMs = performance.now() - started;
    await lane.stop();
  }
  return stats;
}

/** A connection that died without an answer: the one case where the child may be on its way down. */
function isAbnormal(outcome: Outcome): boolean {
  return outcome.status === 'reset' || outcome.status === 'error' || outcome.status === 'timeout';
}

/** The service refused the connection: it was already gone before this input was sent. */
function refusedOutright(outcome: Outcome): boolean {
  return outcome.status === 'error' && outcome.body.toString().includes('ECONNREFUSED');
}
