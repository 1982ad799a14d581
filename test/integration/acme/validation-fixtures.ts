import { randomBytes } from 'node:crypto';
import { connect } from '../../../src/tls/index.js';
import {
  createChallengeValidator,
  type AcmeIdentifier,
  type AlpnDial,
  type ChallengeAttempt,
  type ChallengeType,
  type ChallengeValidator,
  type ChallengeValidatorOptions,
} from '../../../src/acme/validation/index.js';

/** keysmith's own TLS client, checked against the port the validator declares (as cli/compose.ts does). */
export const tlsConnect = connect satisfies AlpnDial;

/** A fresh challenge: a 128-bit-plus token and a key authorization with a random thumbprint (RFC 8555 §8.1). */
export function makeAttempt(type: ChallengeType, identifier: AcmeIdentifier): ChallengeAttempt {
  const token = randomBytes(32).toString('base64url');
  const thumbprint = randomBytes(32).toString('base64url');
  return { type, token, keyAuthorization: `${token}.${thumbprint}`, identifier };
}

export function makeValidator(options: Omit<ChallengeValidatorOptions, 'tlsConnect'>): ChallengeValidator {
  return createChallengeValidator({ ...options, tlsConnect });
}

export function dnsIdentifier(value: string): AcmeIdentifier {
  return { type: 'dns', value };
}

export function ipIdentifier(value: string): AcmeIdentifier {
  return { type: 'ip', value };
}

/** How long `work` took, in ms of monotonic time. */
export async function timed<T>(work: Promise<T>): Promise<{ readonly value: T; readonly ms: number }> {
  const start = performance.now();
  const value = await work;
  return { value, ms: performance.now() - start };
}

/** Slack above a deadline for the timer to fire and the failure to be reported on a busy machine. */
const DEADLINE_SLACK_MS = 1_500;

/**
 * The bound a "times out" test names: the attempt ended because its own
 * deadline fired (not earlier, for another reason) and soon after it.
 */
export function assertEndedAtDeadline(ms: number, deadlineMs: number, what: string): void {
  if (ms < deadlineMs * 0.9 || ms > deadlineMs + DEADLINE_SLACK_MS) {
    throw new Error(
      `${what}: ended after ${ms.toFixed(0)} ms, expected at its ${deadlineMs} ms deadline (+${DEADLINE_SLACK_MS} ms at most)`,
    );
  }
}
