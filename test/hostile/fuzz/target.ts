/**
 * What a fuzz target is: something that makes inputs from a seeded PRNG and
 * sends one input to the running service. An input is a Buffer in the
 * target's own encoding (what a crash fixture's .bin holds), so a fixture
 * replays without the PRNG.
 */
import type { Prng } from '../../robustness/flood-tools.js';
import type { HostileService } from '../harness.js';
import type { Outcome } from './client.js';

export const TARGET_NAMES = ['csr', 'jwk', 'ocsp', 'clienthello', 'http', 'tls12', 'tls12hello'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

export function isTargetName(value: string): value is TargetName {
  return (TARGET_NAMES as readonly string[]).includes(value);
}

/** One target bound to one running service. */
export interface TargetSession {
  /** Sends one input; resolves with what came back (never rejects). */
  send(input: Buffer): Promise<Outcome>;
  /**
   * For replays: why `outcome` is not the refusal this input should get, or
   * undefined when it is (or when no refusal is knowable for this input).
   */
  checkRefusal(input: Buffer, outcome: Outcome): string | undefined;
  close(): void;
}

export interface FuzzTarget {
  readonly name: TargetName;
  /**
   * Inputs sent at once. Raw-connection targets spend most of an exchange
   * waiting for a close; a batch keeps the service busy. A crash blames the
   * whole batch (the fixture's input and its `preceding`).
   */
  readonly parallel: number;
  /** Settings the service needs for this target (on top of the harness defaults). */
  readonly env: Readonly<Record<string, string>>;
  /** One input, derived only from `prng` and the target's seed corpus. */
  generate(prng: Prng): Buffer;
  open(service: HostileService): Promise<TargetSession>;
}

/** The service settings every target runs with: every target's routes open, rate limits out of the way. */
export const FUZZ_ENV: Readonly<Record<string, string>> = {
  KEYSMITH_ACME_ALLOWED_SUFFIXES: 'fuzz.test',
  KEYSMITH_JOIN_TOKEN_BURST: '1000',
  KEYSMITH_LOG_LEVEL: 'error',
};

/** True when an HTTP answer is a problem document with one of `statuses`. */
export function isProblem(outcome: Outcome, statuses: readonly number[]): boolean {
  const type = String(outcome.headers['content-type'] ?? '');
  return typeof outcome.status === 'number' && statuses.includes(outcome.status) && type.startsWith('application/problem+json');
}
