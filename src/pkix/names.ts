/**
 * DNS names and URIs: the syntax keysmith certifies (RFC 1034 §3.5,
 * RFC 5280 §4.2.1.6) and the matching a TLS client does (RFC 6125 §6.4).
 */
import { isIP } from 'node:net';
import { DomainError } from '../shared/errors.js';

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A DNS name in preferred name syntax (RFC 1034 §3.5, RFC 5280 §4.2.1.6),
 * lowercased. `*` is allowed only as the whole leftmost label, and only when
 * the caller allows wildcards. A trailing dot is refused rather than stripped
 * so the certificate says exactly what was asked for.
 */
export function normalizeDnsName(input: string, options: { readonly allowWildcard?: boolean } = {}): string {
  const name = input.toLowerCase();
  if (name.length === 0 || name.length > 253) {
    throw new DomainError('malformed', `DNS name "${input.slice(0, 64)}" must be 1 to 253 characters`);
  }
  const labels = name.split('.');
  labels.forEach((label, index) => {
    if (label === '*' && index === 0 && labels.length > 1) {
      if (options.allowWildcard !== true) throw new DomainError('rejectedIdentifier', `wildcard DNS name "${input}" is not allowed here`);
      return;
    }
    if (!DNS_LABEL.test(label)) throw new DomainError('malformed', `"${input.slice(0, 253)}" is not a valid DNS name`);
  });
  return name;
}

/**
 * RFC 6125 §6.4: does a presented dNSName match the reference identifier
 * (lowercase, no trailing dot)? A wildcard only as the whole left-most
 * label, covering exactly one label.
 */
export function matchesDnsName(presented: string, reference: string): boolean {
  const p = presented.toLowerCase();
  if (p === reference) return !p.includes('*');
  if (!p.startsWith('*.')) return false;
  const suffix = p.slice(2);
  // "*.test" would cover a whole TLD: require two labels after the wildcard, and no other '*'.
  if (!suffix.includes('.') || suffix.includes('*')) return false;
  const dot = reference.indexOf('.');
  return dot > 0 && reference.slice(dot + 1) === suffix;
}

/** The host of an absolute URI (RFC 3986 §3.2.2), lowercased; undefined when there is none or it is an IP literal. */
export function uriHost(uri: string): string | undefined {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (match === null) return undefined;
  let authority = match[1] ?? '';
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority.startsWith('[')) return undefined;
  const host = authority.replace(/:\d*$/, '').toLowerCase();
  if (host === '' || isIP(host) !== 0) return undefined;
  return host;
}
