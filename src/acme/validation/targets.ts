import { isIP } from 'node:net';
import type { Deadline } from './deadline.js';
import { failed, errorCode } from './outcome.js';
import { createResolver, describeDnsCode, isNoRecord } from './resolver.js';
import type { ResolvedOptions } from './options.js';
import type { AcmeIdentifier, ValidationOutcome } from './types.js';
import { refusalReason } from './address-policy.js';

/** Where http-01 and tls-alpn-01 connect: the rules are address-policy.ts's. */
export type TargetsResult =
  { readonly ok: true; readonly addresses: readonly string[] } | { readonly ok: false; readonly outcome: ValidationOutcome };

/** At most this many addresses are tried (one IPv6, one IPv4, as Boulder's VA falls back). */
const MAX_ATTEMPTED_ADDRESSES = 2;

/** The addresses an attempt may connect to, in the order to try them. */
export async function resolveTargets(identifier: AcmeIdentifier, options: ResolvedOptions, deadline: Deadline): Promise<TargetsResult> {
  if (options.validationAddress !== undefined) return { ok: true, addresses: [options.validationAddress] };
  if (identifier.type === 'ip') {
    const reason = refusalReason(identifier.value, true, options.routableRanges);
    if (reason !== undefined) {
      return {
        ok: false,
        outcome: failed('connection', `Refusing to connect to ${identifier.value}: it is ${reason}, which is never a validation target`),
      };
    }
    return { ok: true, addresses: [identifier.value] };
  }
  const resolver = createResolver(options.dnsServer, deadline);
  const [v6, v4] = await Promise.allSettled([resolver.resolve6(identifier.value), resolver.resolve4(identifier.value)]);
  const found: string[][] = [];
  for (const [kind, settled] of [
    ['AAAA', v6],
    ['A', v4],
  ] as const) {
    if (settled.status === 'fulfilled') {
      found.push(settled.value.filter((a) => isIP(a) !== 0));
      continue;
    }
    const code = errorCode(settled.reason);
    if (!isNoRecord(code)) {
      return { ok: false, outcome: failed('dns', `DNS problem: ${describeDnsCode(code)} looking up ${kind} for ${identifier.value}`) };
    }
    found.push([]);
  }
  const all = found.flat();
  if (all.length === 0) return { ok: false, outcome: failed('dns', `No valid A or AAAA records for ${identifier.value}`) };
  for (const address of all) {
    const reason = refusalReason(address, false, options.routableRanges);
    if (reason !== undefined) {
      return {
        ok: false,
        outcome: failed(
          'connection',
          `Refusing to connect to ${address}, an address of ${identifier.value}: it is ${reason}, which is never a validation target`,
        ),
      };
    }
  }
  const addresses = found.map((list) => list[0]).filter((a): a is string => a !== undefined);
  return { ok: true, addresses: addresses.slice(0, MAX_ATTEMPTED_ADDRESSES) };
}
