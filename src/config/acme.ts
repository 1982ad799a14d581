/**
 * The ACME section of the configuration (src/acme): identifier policy,
 * account rules, where validation connects, and the validation caps.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { cidrListSchema, ListSchema } from './values.js';

/** A DNS name as a policy entry: lowercase labels; a leading '.' is dropped (".example.test" and "example.test" mean the same). */
const DNS_SUFFIX = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** An address node:dns can ask (no names: resolving the resolver would need a resolver). */
function isDnsServer(text: string): boolean {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(text);
  if (match === null) return false;
  const family = isIP(match[1] ?? match[2] ?? '');
  const port = Number(match[3] ?? '53');
  return family !== 0 && (family === 6) === (match[1] !== undefined) && port >= 1 && port <= 65535;
}

/** ACME (src/acme): identifier policy (deny by default), account rules, and where validation connects (closed networks and tests). */
export const ACME_FIELDS = {
  /** Connect here for http-01 and tls-alpn-01 instead of resolving the name (e.g. 127.0.0.1). */
  acmeValidationAddress: z
    .string()
    .refine((value) => isIP(value) !== 0, 'expected an IPv4 or IPv6 address')
    .optional(),
  /** CIDRs validation may connect to although the address policy refuses them (loopback, reserved blocks); empty: none. */
  acmeValidationRoutableRanges: cidrListSchema('127.0.0.0/8').default([]),
  acmeHttp01Port: z.number().int().min(1).max(65535).default(80),
  acmeTlsAlpn01Port: z.number().int().min(1).max(65535).default(443),
  /** `ip:port` or `[ipv6]:port` (port optional, 53) of the DNS server asked for dns-01 TXT records; the system resolver when unset. */
  acmeDnsResolver: z.string().refine(isDnsServer, 'expected ip:port or [ipv6]:port, e.g. 127.0.0.1:53').optional(),
  /** Names that may be ordered: a name equal to an entry or below it. Empty refuses every DNS identifier. */
  acmeAllowedSuffixes: ListSchema.transform((items) => items.map((item) => item.toLowerCase().replace(/^\./, '')))
    .pipe(z.array(z.string().regex(DNS_SUFFIX, 'expected DNS names separated by commas, e.g. example.test,svc.internal')))
    .default([]),
  /** IP identifiers that may be ordered, as CIDRs. Empty refuses every IP identifier. */
  acmeAllowedIpRanges: cidrListSchema('10.0.0.0/8,fd00::/8').default([]),
  /** Accounts must be bound to a key from `keysmith acme eab create` (RFC 8555 §7.3.4). */
  acmeEabRequired: z.union([z.boolean(), z.stringbool()]).default(false),
  /** Directory meta (RFC 8555 §7.1.1). */
  acmeTermsOfService: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  acmeWebsite: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  /** Challenge validations in flight at once, all accounts together: bounds the sockets validation holds (a few per validation). */
  acmeMaxValidations: z.number().int().min(1, 'expected at least 1').max(1_024, 'expected at most 1024').default(64),
  /** Validations in flight at once for one account; the rest of its validations wait their turn. */
  acmeMaxValidationsPerAccount: z.number().int().min(1, 'expected at least 1').max(1_024, 'expected at most 1024').default(8),
  /** Validations waiting, all accounts together; past it a challenge response is answered rateLimited with Retry-After. */
  acmeMaxQueuedValidations: z.number().int().min(1, 'expected at least 1').max(1_000_000, 'expected at most 1000000').default(4_096),
  /** Validations waiting for one account. */
  acmeMaxQueuedValidationsPerAccount: z
    .number()
    .int()
    .min(1, 'expected at least 1')
    .max(1_000_000, 'expected at most 1000000')
    .default(1_024),
};

/** The scheduler's caps must nest: one account never gets more than everyone together. */
export function checkAcmeValidationLimits(
  config: {
    acmeMaxValidations: number;
    acmeMaxValidationsPerAccount: number;
    acmeMaxQueuedValidations: number;
    acmeMaxQueuedValidationsPerAccount: number;
  },
  ctx: z.RefinementCtx,
): void {
  if (config.acmeMaxValidationsPerAccount > config.acmeMaxValidations) {
    ctx.addIssue({ code: 'custom', path: ['acmeMaxValidationsPerAccount'], message: 'expected at most acmeMaxValidations' });
  }
  if (config.acmeMaxQueuedValidationsPerAccount > config.acmeMaxQueuedValidations) {
    ctx.addIssue({ code: 'custom', path: ['acmeMaxQueuedValidationsPerAccount'], message: 'expected at most acmeMaxQueuedValidations' });
  }
}
