/**
 * The seed of every randomized test (the robustness fuzzers, fast-check
 * properties): fixed by default, so a run is reproducible and a red run
 * replays as it was; KEYSMITH_SEED=<n> picks another, which is how CI adds
 * a fresh seed beside the fixed one (it prints the seed it drew).
 */

/** The fixed seed: changing it changes what every default run explores. */
export const DEFAULT_SEED = 1_106_202_611;

/** KEYSMITH_SEED when set (a decimal integer, taken modulo 2^32), else DEFAULT_SEED. */
export function seedFromEnv(): number {
  const fromEnv = process.env['KEYSMITH_SEED'];
  if (fromEnv === undefined || fromEnv === '') return DEFAULT_SEED;
  if (!/^\d+$/.test(fromEnv)) throw new Error(`KEYSMITH_SEED must be a decimal integer, got ${JSON.stringify(fromEnv)}`);
  return Number(BigInt(fromEnv) % 2n ** 32n);
}

/** One line in the test output naming the seed and how to replay it. */
export function announceSeed(what: string, seed: number): void {
  console.log(`${what}: seed ${seed}${seed === DEFAULT_SEED ? ' (the fixed default)' : ''}; replay with KEYSMITH_SEED=${seed}`);
}
