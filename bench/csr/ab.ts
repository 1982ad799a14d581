/**
 * parseCsr of two builds in one process, interleaved: the honest before/after
 * on a shared machine, where drift between two runs is larger than the
 * difference. Build the other revision's dist/ somewhere inside the checkout
 * (so it finds node_modules), then:
 *
 *   node dist/bench/csr/ab.js <other-dist-dir> [p256|p384|ed25519|rsa2048]
 *
 * Each round runs BENCH_CALLS (500) parseCsr calls of each build over the
 * same distinct CSRs (a new key per request, as a fleet sends them), in
 * alternating order; prints CPU µs per call (all threads) per round and the
 * medians of BENCH_ROUNDS (11).
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseCsr } from '../../src/x509/index.js';
import { envNumber } from '../common/env.js';

const ROUNDS = envNumber('BENCH_ROUNDS', 11, 3, 101);
const CALLS = envNumber('BENCH_CALLS', 500, 50, 100_000);
const KEY_ARGS: Readonly<Record<string, readonly string[]>> = {
  p256: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  p384: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-sha384'],
  ed25519: ['-newkey', 'ed25519'],
  rsa2048: ['-newkey', 'rsa:2048'],
};

type Parse = (input: string) => Promise<unknown>;

const [otherDist, keyName = 'p256'] = process.argv.slice(2);
const keyArgs = KEY_ARGS[keyName];
if (otherDist === undefined || keyArgs === undefined) {
  console.error(`usage: node dist/bench/csr/ab.js <other-dist-dir> [${Object.keys(KEY_ARGS).join('|')}]`);
  process.exit(2);
}
const otherModule = (await import(pathToFileURL(resolve(otherDist, 'src/x509/index.js')).href)) as { parseCsr: Parse };
const other: Parse = otherModule.parseCsr;
const ours: Parse = parseCsr;

// openssl makes the keys: fresh ones per request without loading this process's heap with key generation.
const distinct = Math.min(CALLS, 200);
const csrs = Array.from({ length: distinct }, () =>
  execFileSync('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', '/dev/null', '-subj', '/CN=bench'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }),
);

async function round(parse: Parse): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < CALLS; i++) await parse(csrs[i % csrs.length] ?? '');
  const used = process.cpuUsage(start);
  return (used.user + used.system) / CALLS;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;
await round(other);
await round(ours);
const theirs: number[] = [];
const mine: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  if (r % 2 === 0) {
    theirs.push(await round(other));
    mine.push(await round(ours));
  } else {
    mine.push(await round(ours));
    theirs.push(await round(other));
  }
}
const show = (values: readonly number[]): string => values.map((v) => v.toFixed(0)).join(' ');
console.log(`parseCsr ${keyName}, CPU µs per call, ${ROUNDS} interleaved rounds of ${CALLS} over ${distinct} distinct CSRs`);
console.log(`  ${otherDist.padEnd(24)} median ${median(theirs).toFixed(0).padStart(5)}   (${show(theirs)})`);
console.log(`  ${'this build'.padEnd(24)} median ${median(mine).toFixed(0).padStart(5)}   (${show(mine)})`);
