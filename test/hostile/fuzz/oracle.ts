/**
 * What the hostile-input tests assert after each input: the child is alive,
 * /healthz answers 200, and the ledger holds no row it did not hold before.
 */
import assert from 'node:assert/strict';
import type { HostileService } from '../harness.js';
import type { Outcome } from './client.js';

export async function assertUnharmed(service: HostileService, certificatesBefore: number, what: string): Promise<void> {
  await service.assertHealthy(`after ${what}`);
  assert.equal(service.certificateCount(), certificatesBefore, `${what} wrote nothing to the ledger`);
}

/** The statuses of the HTTP/1.x responses in a raw answer, in order (a response follows the previous body directly). */
export function httpStatuses(outcome: Outcome): number[] {
  return [...outcome.body.toString('latin1').matchAll(/HTTP\/1\.[01] (\d{3}) [A-Z]/g)].map((m) => Number(m[1]));
}

/** The value of a header in the first raw HTTP response, lower-cased name match. */
export function firstHeader(outcome: Outcome, name: string): string | undefined {
  const head = outcome.body.toString('latin1').split('\r\n\r\n', 1)[0] ?? '';
  const line = head.split('\r\n').find((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));
  return line?.slice(name.length + 1).trim();
}
