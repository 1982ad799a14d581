/**
 * The one IP address parser and formatter: textual addresses to the 4 or
 * 16 octets of an iPAddress GeneralName (RFC 5280 §4.2.1.6) and back, in
 * canonical text (dotted quad, RFC 5952 for IPv6). Used for SAN matching
 * in the verifier, CSR and certificate SANs, and ACME identifiers.
 */
import { isIP } from 'node:net';
import { DomainError } from '../shared/errors.js';

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    // No leading zeros: "010" is octal to some parsers and decimal to others.
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** Eight 16-bit groups of a text `isIP` accepted as IPv6 (no zone id), or undefined. */
function parseIpv6Groups(text: string): number[] | undefined {
  let tail: number[] = [];
  let body = text;
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    // An embedded IPv4 tail fills the last two groups (RFC 4291 §2.2 form 3).
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    const [a = 0, b = 0, c = 0, d = 0] = v4;
    tail = [(a << 8) | b, (c << 8) | d];
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = toGroups(halves[0] ?? '');
  const rest = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  let groups = halves.length === 2 ? [...head, ...new Array<number>(Math.max(0, 8 - head.length - rest.length)).fill(0), ...rest] : head;
  if (groups.length !== 8) return undefined;
  if (tail.length === 2) groups = [...groups.slice(0, 6), ...tail];
  if (groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  return groups;
}

/** Octets of a textual IPv4 or IPv6 address (no zone id, no leading zeros in IPv4), or undefined. */
export function parseIpAddress(text: string): Buffer | undefined {
  const version = isIP(text);
  if (version === 4) {
    const v4 = parseIpv4(text);
    return v4 === undefined ? undefined : Buffer.from(v4);
  }
  // A zone id names an interface of the host, never a certificate's address.
  if (version !== 6 || text.includes('%')) return undefined;
  const groups = parseIpv6Groups(text);
  if (groups === undefined) return undefined;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** Canonical text of 4 or 16 iPAddress octets: dotted quad, or RFC 5952 §4 for IPv6; undefined for other sizes. */
export function formatIpAddress(octets: Uint8Array): string | undefined {
  if (octets.byteLength === 4) return `${octets[0]}.${octets[1]}.${octets[2]}.${octets[3]}`;
  if (octets.byteLength !== 16) return undefined;
  // RFC 5952 §4: lowercase, no leading zeros, the first longest run of two or more zero groups as "::".
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((octets[i] ?? 0) << 8) | (octets[i + 1] ?? 0));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** The 4 or 16 octets of an IP address (RFC 5280 §4.2.1.6 iPAddress); DomainError('malformed') otherwise. */
export function ipToOctets(input: string): Uint8Array {
  const octets = parseIpAddress(input);
  if (octets === undefined) throw new DomainError('malformed', `"${input.slice(0, 64)}" is not an IP address`);
  return new Uint8Array(octets.buffer, octets.byteOffset, octets.byteLength);
}

/** Canonical text of iPAddress octets; DomainError('malformed') for any size but 4 or 16. */
export function octetsToIp(octets: Uint8Array): string {
  const text = formatIpAddress(octets);
  if (text === undefined) throw new DomainError('malformed', `an iPAddress of ${octets.byteLength} octets is not an address`);
  return text;
}

export function normalizeIpAddress(input: string): string {
  return octetsToIp(ipToOctets(input));
}
