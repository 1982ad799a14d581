/**
 * Rules for configuration values whose mistakes deserve a precise message
 * (trust domain names, IP literals, CIDRs) and the "did you mean" for
 * misspelt keys and variables. Pure; src/config/index.ts applies them.
 */
import { isIP } from 'node:net';

// SPIFFE-ID §2.1: the trust domain name.
const MAX_TRUST_DOMAIN_LENGTH = 255;

/**
 * Why `name` is not a SPIFFE trust domain name (SPIFFE-ID §2.1: lowercase
 * letters, digits, ".", "-" and "_", at most 255 characters), with our
 * stricter DNS-like shape: no empty label, no leading or trailing "." or "-".
 * undefined when it is one.
 */
export function trustDomainProblem(name: string): string | undefined {
  if (name.length === 0) return 'expected a trust domain name, e.g. example.org';
  if (name.length > MAX_TRUST_DOMAIN_LENGTH)
    return `the trust domain is ${name.length} characters long; SPIFFE allows at most ${MAX_TRUST_DOMAIN_LENGTH}`;
  if (name.startsWith('spiffe://')) return `expected the trust domain name alone, without spiffe:// (${name.slice('spiffe://'.length)})`;
  if (/[A-Z]/.test(name) && /^[A-Za-z0-9._-]+$/.test(name)) return `the trust domain must be lowercase: ${name.toLowerCase()}`;
  const bad = /[^a-z0-9._-]/.exec(name);
  if (bad !== null) {
    const what = bad[0] === ':' ? ' (a trust domain has no port)' : '';
    return `the trust domain contains ${JSON.stringify(bad[0])} at position ${bad.index + 1}${what}; SPIFFE allows only lowercase letters, digits, ".", "-" and "_"`;
  }
  for (const edge of ['.', '-'] as const) {
    if (name.startsWith(edge)) return `the trust domain must not start with "${edge}"`;
    if (name.endsWith(edge)) return `the trust domain must not end with "${edge}"`;
  }
  if (name.includes('..')) return 'the trust domain has an empty label ("..")';
  return undefined;
}

/**
 * Why `host` (of host:port) is not usable: a bracketed host must be an IPv6
 * address, a dotted-digit host an IPv4 address; anything else is a DNS name.
 */
export function listenHostProblem(host: string): string | undefined {
  if (host.startsWith('[')) {
    const inner = host.slice(1, -1);
    return isIP(inner) === 6 ? undefined : `[${inner}] is not an IPv6 address`;
  }
  if (/^[0-9.]+$/.test(host)) return isIP(host) === 4 ? undefined : `${host} is not an IPv4 address`;
  if (host.includes(':')) return `${host} looks like an IPv6 address: write it in brackets, e.g. [::1]:8443`;
  return undefined;
}

/** Why `text` is not `address/prefix` with the prefix within the family's width; undefined when it is. */
export function cidrProblem(text: string): string | undefined {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return `${JSON.stringify(text)} has no /prefix (write ${isIP(text) === 6 ? `${text}/128` : `${text}/32`} for one address)`;
  const address = text.slice(0, slash);
  const prefix = text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0) return `${JSON.stringify(address)} is not an IPv4 or IPv6 address`;
  const width = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > width) return `the prefix /${prefix} of ${JSON.stringify(text)} is not 0..${width}`;
  return undefined;
}

/**
 * The candidate closest to `input`, ignoring case, "_" and "-" (so
 * trust_domain and KEYSMITH_TRUST_DOMAIN both find trustDomain), with its
 * distance (optimal string alignment: a swapped pair of letters counts once).
 */
export function closestName(
  input: string,
  candidates: readonly string[],
): { readonly name: string; readonly distance: number } | undefined {
  const wanted = normalise(input);
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(wanted, normalise(name));
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  return best;
}

/** Close enough to suggest: a few edits, more for longer names. */
export function isCloseEnough(input: string, distance: number): boolean {
  return distance <= Math.max(2, Math.floor(normalise(input).length / 3));
}

function normalise(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

function editDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Number.MAX_SAFE_INTEGER;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i];
    if (row === undefined) continue;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}
