import { isIP } from 'node:net';
import { ipToOctets } from '../../x509/index.js';

/*
 * Where http-01 and tls-alpn-01 may connect (no server-side request forgery).
 *
 * - With `validationAddress` configured, every connection goes to that one
 *   address: the operator chose it, so no further check applies.
 * - An IP identifier is connected to as is. It passed the order's IP-range
 *   policy, so loopback is allowed when the operator allowed it there; the
 *   ALWAYS_REFUSED ranges below are refused all the same.
 * - A DNS identifier is resolved (A and AAAA, DNS only). If ANY answer is
 *   loopback or in ALWAYS_REFUSED, the attempt is refused without
 *   connecting: a name that mixes a good address with a forbidden one is
 *   not tried on the good one either.
 * - IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) IPv6 addresses are
 *   judged by the IPv4 address inside them.
 * - Private ranges (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7) are
 *   allowed: an internal CA validates internal hosts.
 * - `routableRanges` (empty unless the operator names some) are allowed
 *   even where the rules above refuse them: the operator's word for this
 *   deployment's network.
 * Ports are never taken from the identifier or a redirect: only the
 * configured http-01 and tls-alpn-01 ports are used.
 */

/** An address block (CIDR) and why it matters to the policy. */
export interface AddressRange {
  readonly prefix: Uint8Array;
  readonly bits: number;
  readonly reason: string;
}
type Range = AddressRange;

function range(cidr: string, reason: string): Range {
  const [address = '', bits = ''] = cidr.split('/');
  return { prefix: ipToOctets(address), bits: Number(bits), reason };
}

/** `address/prefix` as a range, or undefined when it is not one (an IP address, a prefix within its family's width). */
export function parseCidr(cidr: string, reason: string): AddressRange | undefined {
  const [address = '', bits = '', extra] = cidr.split('/');
  const family = isIP(address);
  if (extra !== undefined || family === 0 || address.includes('%') || !/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128))
    return undefined;
  return range(cidr, reason);
}

const LOOPBACK: readonly Range[] = [range('127.0.0.0/8', 'loopback'), range('::1/128', 'loopback')];

/** Never a validation target, whatever the identifier. */
const ALWAYS_REFUSED: readonly Range[] = [
  range('0.0.0.0/8', 'unspecified ("this network", RFC 791)'),
  range('169.254.0.0/16', 'link-local (RFC 3927; includes cloud metadata at 169.254.169.254)'),
  range('192.0.0.0/24', 'reserved (IETF protocol assignments, RFC 6890)'),
  range('192.0.2.0/24', 'reserved for documentation (RFC 5737)'),
  range('198.51.100.0/24', 'reserved for documentation (RFC 5737)'),
  range('203.0.113.0/24', 'reserved for documentation (RFC 5737)'),
  range('198.18.0.0/15', 'reserved for benchmarking (RFC 2544)'),
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved (RFC 1112; includes broadcast 255.255.255.255)'),
  range('::/128', 'unspecified'),
  range('::/96', 'reserved (deprecated IPv4-compatible, RFC 4291)'),
  range('100::/64', 'reserved (discard-only, RFC 6666)'),
  range('2001::/32', 'reserved (Teredo tunnel, RFC 4380)'),
  range('2001:db8::/32', 'reserved for documentation (RFC 3849)'),
  range('2002::/16', 'reserved (6to4 tunnel, RFC 3056)'),
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'reserved (deprecated site-local, RFC 3879)'),
  range('ff00::/8', 'multicast'),
];

/** IPv6 prefixes whose last 32 bits are an IPv4 address. */
const EMBEDS_IPV4: readonly Range[] = [range('::ffff:0:0/96', 'IPv4-mapped'), range('64:ff9b::/96', 'NAT64')];

function contains(r: Range, octets: Uint8Array): boolean {
  if (r.prefix.byteLength !== octets.byteLength) return false;
  const whole = Math.floor(r.bits / 8);
  for (let i = 0; i < whole; i++) if (octets[i] !== r.prefix[i]) return false;
  const rest = r.bits % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((octets[whole] ?? 0) & mask) === ((r.prefix[whole] ?? 0) & mask);
}

/**
 * Why `address` may not be connected to, or undefined when it may.
 * `isIdentifier`: the address is the order's own IP identifier (loopback allowed, see above).
 */
export function refusalReason(address: string, isIdentifier: boolean, routableRanges: readonly AddressRange[] = []): string | undefined {
  let octets = ipToOctets(address);
  const embedding = EMBEDS_IPV4.find((r) => contains(r, octets));
  if (embedding !== undefined) octets = octets.slice(12);
  if (routableRanges.some((r) => contains(r, octets))) return undefined;
  // ::1 lies inside ::/96 too; loopback is checked first so it is named as such.
  const loopback = LOOPBACK.find((r) => contains(r, octets));
  if (loopback !== undefined) return isIdentifier ? undefined : loopback.reason;
  return ALWAYS_REFUSED.find((r) => contains(r, octets))?.reason;
}
