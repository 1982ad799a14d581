/**
 * The value types keysmith settings are written in, shared by every section
 * of the configuration schema (schema.ts): listen addresses,
 * durations, lists and CIDR lists, caps.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { cidrProblem, listenHostProblem } from './rules.js';

/** `host:port`, with IPv6 hosts in brackets; port 0 (any free port, read back once bound) only where `allowAnyPort`. */
export function listenSchema(options: { readonly allowAnyPort: boolean }) {
  const lowest = options.allowAnyPort ? 0 : 1;
  return z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8443')
    .transform((value, ctx) => {
      const at = value.lastIndexOf(':');
      const port = Number(value.slice(at + 1));
      if (port < lowest || port > 65535) ctx.addIssue({ code: 'custom', message: `port ${port} is outside ${lowest}..65535` });
      const host = value.slice(0, at);
      const problem = listenHostProblem(host);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      return { host: host.replace(/^\[|\]$/g, ''), port };
    });
}
export const ListenSchema = listenSchema({ allowAnyPort: false });

/** Durations as operators write them: 90s, 15m, 12h, 7d. */
export const DurationSchema = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'expected a duration such as 90s, 15m, 12h or 7d')
  .transform((value) => parseDuration(value));

export function parseDuration(value: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  if (match === null) throw new RangeError(`not a duration: ${value}`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** A comma-separated list in the environment, or a list in the file. */
export const ListSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((item) => item.trim()).filter((item) => item !== ''));

export const CapSchema = z.number().int().min(1, 'expected at least 1').max(10_000, 'expected at most 10000');

/** `address/prefix` with the prefix within the family's width, e.g. 10.0.0.0/8 or fd00::/8. */
export function isCidr(text: string): boolean {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return false;
  const family = isIP(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** A list of CIDRs (comma-separated, or a list in the file); each bad item is named with what is wrong. */
export function cidrListSchema(example: string) {
  const item = z.string().superRefine((value, ctx) => {
    const problem = cidrProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${problem}; expected CIDRs separated by commas, e.g. ${example}` });
  });
  return ListSchema.pipe(z.array(item));
}
