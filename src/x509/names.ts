import { isIP } from 'node:net';
import { DomainError } from '../shared/errors.js';

/** One attribute of a distinguished name, in DER order (most significant first). */
export interface NameAttribute {
  readonly type: 'CN' | 'O' | 'OU';
  readonly value: string;
}
export type DistinguishedName = readonly NameAttribute[];

// RFC 5280 Appendix A: ub-common-name, ub-organization-name, ub-organizational-unit-name.
export const NAME_ATTRIBUTE_MAX_LENGTH: Readonly<Record<NameAttribute['type'], number>> = { CN: 64, O: 64, OU: 64 };

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * A DNS name in preferred name syntax (RFC 1034 §3.5, RFC 5280 §4.2.1.6),
 * lowercased. `*` is allowed only as the whole leftmost label, and only when
 * the caller allows wildcards. A trailing dot is refused rather than stripped
 * so the certificate says exactly what was asked for.
 */
export function normalizeDnsName(input: string, options: { readonly allowWildcard?: boolean } = {}): string {
  const name = input.toLowerCase();
  if (name.length === 0 || name.length > 253) throw new DomainError('malformed', `DNS name "${input.slice(0, 64)}" must be 1 to 253 characters`);
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

/** The 4 or 16 octets of an IP address (RFC 5280 §4.2.1.6 iPAddress). Refuses zone ids and non-canonical IPv4 forms. */
export function ipToOctets(input: string): Uint8Array {
  const version = isIP(input);
  if (version === 4) return Uint8Array.from(input.split('.').map(Number));
  if (version === 6 && !input.includes('%')) {
    const groups = expandIPv6(input);
    const out = new Uint8Array(16);
    groups.forEach((group, i) => {
      out[i * 2] = group >> 8;
      out[i * 2 + 1] = group & 0xff;
    });
    return out;
  }
  throw new DomainError('malformed', `"${input.slice(0, 64)}" is not an IP address`);
}

/** Canonical text of iPAddress octets: dotted quad, or RFC 5952 form for IPv6. */
export function octetsToIp(octets: Uint8Array): string {
  if (octets.length === 4) return Array.from(octets).join('.');
  if (octets.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((octets[i] ?? 0) << 8) | (octets[i + 1] ?? 0)).toString(16));
    // The WHATWG URL parser serializes IPv6 hosts in RFC 5952 form.
    return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
  }
  throw new DomainError('malformed', `an iPAddress of ${octets.length} octets is not an address`);
}

export function normalizeIpAddress(input: string): string {
  return octetsToIp(ipToOctets(input));
}

/** Eight 16-bit groups of an address `isIP` already accepted as IPv6 (which may end in a dotted quad). */
function expandIPv6(input: string): number[] {
  let text = input.toLowerCase();
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const q = tail.split('.').map(Number);
    text = `${text.slice(0, lastColon + 1)}${(((q[0] ?? 0) << 8) | (q[1] ?? 0)).toString(16)}:${(((q[2] ?? 0) << 8) | (q[3] ?? 0)).toString(16)}`;
  }
  const [head = '', rest] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(zeros).fill('0'), ...right].map((g) => parseInt(g, 16));
}

/** Checks each attribute's length bound and that the value is not empty. */
export function checkDistinguishedName(name: DistinguishedName): void {
  for (const attribute of name) {
    const max = NAME_ATTRIBUTE_MAX_LENGTH[attribute.type];
    if (attribute.value.length === 0 || attribute.value.length > max) {
      throw new DomainError('malformed', `subject ${attribute.type} must be 1 to ${max} characters`);
    }
  }
}
