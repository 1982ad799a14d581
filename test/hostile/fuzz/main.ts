/**
 * npm run fuzz -- --seconds N [--seed S] [--target csr|jwk|ocsp|clienthello|http|tls12|tls12hello|all[,...]]
 *
 * Runs the seeded, structure-aware mutation fuzzer against `keysmith serve`
 * as a child process for N seconds in all (shared equally among the
 * targets), prints the seed, inputs per second per target, the outcomes
 * and every crash, and exits 1 when any input crashed or wedged the service
 * (its fixture is in test/hostile/fixtures/crashes). Without --seed a fresh
 * seed is drawn and printed: pass it back to replay the run.
 */
import { randomInt } from 'node:crypto';
import { relative } from 'node:path';
import { CRASHES_DIR } from './paths.js';
import { runFuzz, type TargetStats } from './runner.js';
import { isTargetName, TARGET_NAMES, type TargetName } from './target.js';
import { makeTarget } from './targets/index.js';

interface Args {
  readonly seconds: number;
  readonly seed: number;
  readonly isSeedFresh: boolean;
  readonly targets: readonly TargetName[];
}

function usage(message: string): never {
  console.error(`${message}\nusage: npm run fuzz -- --seconds N [--seed S] [--target ${TARGET_NAMES.join('|')}|all[,...]]`);
  process.exit(2);
}

function parseArgs(argv: readonly string[]): Args {
  let seconds = 60;
  let seed: number | undefined;
  let targets: TargetName[] = [...TARGET_NAMES];
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (value === undefined) usage(`${String(flag)} needs a value`);
    i++;
    if (flag === '--seconds') {
      seconds = Number(value);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) usage('--seconds must be a number of seconds from 1 to 86400');
    } else if (flag === '--seed') {
      if (!/^\d{1,10}$/.test(value) || Number(value) > 0xffffffff) usage('--seed must be an integer from 0 to 4294967295');
      seed = Number(value);
    } else if (flag === '--target') {
      const names = value.split(',');
      if (names.includes('all')) targets = [...TARGET_NAMES];
      else {
        for (const name of names) if (!isTargetName(name)) usage(`unknown target ${name}`);
        targets = names.filter(isTargetName);
      }
    } else usage(`unknown option ${String(flag)}`);
  }
  return { seconds, seed: seed ?? randomInt(0, 0xffffffff), isSeedFresh: seed === undefined, targets };
}

function report(stats: readonly TargetStats[]): void {
  let total = 0;
  for (const s of stats) {
    total += s.inputs;
    const fuzzingMs = s.elapsedMs - s.restartMs;
    const rate = fuzzingMs > 0 ? (s.inputs * 1_000) / fuzzingMs : 0;
    const outcomes = [...s.outcomes.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}:${v}`)
      .join(' ');
    console.log(
      `  ${s.target.padEnd(12)} ${String(s.inputs).padStart(7)} inputs in ${(s.elapsedMs / 1_000).toFixed(1)} s, ${rate.toFixed(0)}/s while up; ` +
        `${s.crashes.length} crashes, ${s.restarts} restarts (${(s.restartMs / 1_000).toFixed(1)} s); outcomes ${outcomes}`,
    );
  }
  const crashes = stats.flatMap((s) => s.crashes);
  console.log(`total: ${total} inputs, ${crashes.length} crashes (${new Set(crashes.map((c) => c.signature)).size} distinct)`);
  for (const c of crashes) {
    console.log(
      `  ${c.kind} ${c.isNew ? 'new' : 'known'} ${relative(process.cwd(), CRASHES_DIR)}/${c.fixture}.bin: ${c.signature || 'no message'}`,
    );
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  console.log(
    `fuzz seed ${args.seed}${args.isSeedFresh ? ' (fresh)' : ''}: ${args.seconds} s over ${args.targets.join(', ')}` +
      ` (replay: npm run fuzz -- --seconds ${args.seconds} --seed ${args.seed} --target ${args.targets.join(',')})`,
  );
  const targets = await Promise.all(args.targets.map((name) => makeTarget(name)));
  const stats = await runFuzz({ seed: args.seed, seconds: args.seconds, targets, log: (line) => console.log(line) });
  report(stats);
  const crashes = stats.flatMap((s) => s.crashes);
  const crashed = crashes.length > 0;
  if (crashed) {
    const fresh = crashes.filter((c) => c.isNew).length;
    console.log(
      `fuzz seed ${args.seed}: FAILED (${fresh} new fixtures written, ${crashes.length - fresh} crashes matched known fixtures; ` +
        'replay them with node --test dist/test/hostile/fuzz-regressions.test.js)',
    );
  }
  process.exit(crashed ? 1 : 0);
}

await main();
