import { createHash, timingSafeEqual } from 'node:crypto';
import type { Deadline } from './deadline.js';
import { errorCode, failed, PASSED, quote } from './outcome.js';
import { createResolver, describeDnsCode, isNoRecord } from './resolver.js';
import type { ChallengeAttempt, ValidationOutcome } from './types.js';

/*
 * dns-01 (RFC 8555 §8.4): a TXT record at _acme-challenge.<name> equal to
 * base64url(SHA-256(keyAuthorization)). For a wildcard order the identifier
 * already is the base name (the order strips "*.").
 */

/** More records than this are not compared: a name can hold a few concurrent challenges, not hundreds. */
const MAX_RECORDS_COMPARED = 64;

export interface Dns01Context {
  readonly dnsServer: string | undefined;
  readonly deadline: Deadline;
}

/** RFC 8555 §8.4: the TXT value a client must publish. */
export function dns01Digest(keyAuthorization: string): string {
  return createHash('sha256').update(keyAuthorization, 'utf8').digest('base64url');
}

export async function validateDns01(attempt: ChallengeAttempt, context: Dns01Context): Promise<ValidationOutcome> {
  // RFC 8738 §7: dns-01 cannot prove control of an IP address.
  if (attempt.identifier.type !== 'dns') return failed('unauthorized', 'dns-01 cannot validate an IP identifier (RFC 8738 §7)');
  const name = `_acme-challenge.${attempt.identifier.value}`;
  const resolver = createResolver(context.dnsServer, context.deadline);
  let records: string[][];
  try {
    records = await resolver.resolveTxt(name);
  } catch (error) {
    const code = errorCode(error);
    if (isNoRecord(code)) return failed('unauthorized', `No TXT record found at ${name} (${describeDnsCode(code)})`);
    return failed('dns', `DNS problem: ${describeDnsCode(code)} looking up TXT for ${name}`);
  }
  if (records.length === 0) return failed('unauthorized', `No TXT record found at ${name}`);
  const expected = Buffer.from(dns01Digest(attempt.keyAuthorization), 'ascii');
  // A TXT record may be split into several character-strings (RFC 7208 §3.3 style); they join into one value.
  const values = records.slice(0, MAX_RECORDS_COMPARED).map((chunks) => chunks.join(''));
  for (const value of values) {
    const received = Buffer.from(value, 'utf8');
    if (received.length === expected.length && timingSafeEqual(received, expected)) return PASSED;
  }
  const more = records.length - 1;
  return failed(
    'incorrectResponse',
    `Incorrect TXT record ${quote(values[0] ?? '')}${more > 0 ? ` (and ${more} more)` : ''} found at ${name}: expected ${quote(expected.toString('ascii'))}`,
  );
}
