import { isIP } from 'node:net';
import type { AlpnDial } from './ports.js';
import { parseCidr, type AddressRange } from './address-policy.js';

export interface ChallengeValidatorOptions {
  /**
   * Connect every http-01 and tls-alpn-01 attempt to this IP address instead
   * of resolving the identifier (closed networks, tests). The address policy
   * of targets.ts does not apply to it: the operator chose it.
   */
  readonly validationAddress?: string;
  /**
   * CIDRs this deployment reaches for validation although the address policy
   * of targets.ts would refuse them (a lab on loopback, a private segment
   * numbered from a reserved block). Deny by default: empty.
   */
  readonly routableRanges?: readonly string[];
  /** Port for http-01 (default 80). */
  readonly http01Port?: number;
  /** Port for tls-alpn-01 (default 443). */
  readonly tlsAlpn01Port?: number;
  /** 'host:port' ('[v6]:port' for IPv6; port optional, 53) of the DNS server for TXT and A/AAAA lookups; the system's servers otherwise. */
  readonly dnsResolver?: string;
  /** Bound on one whole validation attempt, in ms (default 10 s). */
  readonly timeoutMs?: number;
  /** The TLS client for tls-alpn-01: pass `connect` from src/tls. */
  readonly tlsConnect: AlpnDial;
}

export interface ResolvedOptions {
  readonly validationAddress: string | undefined;
  /** Parsed once, here; every resolved address is checked against them. */
  readonly routableRanges: readonly AddressRange[];
  readonly http01Port: number;
  readonly tlsAlpn01Port: number;
  /** In the form node:dns `setServers` takes, or undefined for the system's. */
  readonly dnsServer: string | undefined;
  readonly timeoutMs: number;
  readonly tlsConnect: AlpnDial;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 120_000;

/** Checks the options once, at composition time: a misconfiguration throws TypeError there, not per attempt. */
export function resolveOptions(options: ChallengeValidatorOptions): ResolvedOptions {
  const { validationAddress } = options;
  if (validationAddress !== undefined && (isIP(validationAddress) === 0 || validationAddress.includes('%'))) {
    throw new TypeError(`validationAddress must be an IP address, got ${JSON.stringify(validationAddress)}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new TypeError(`timeoutMs must be an integer from 1 to ${MAX_TIMEOUT_MS}`);
  }
  const routableRanges = (options.routableRanges ?? []).map((cidr) => {
    const parsed = parseCidr(cidr, 'routable by configuration');
    if (parsed === undefined) throw new TypeError(`routableRanges must be CIDRs such as 127.0.0.0/8, got ${JSON.stringify(cidr)}`);
    return parsed;
  });
  return {
    validationAddress,
    routableRanges,
    http01Port: checkPort('http01Port', options.http01Port ?? 80),
    tlsAlpn01Port: checkPort('tlsAlpn01Port', options.tlsAlpn01Port ?? 443),
    dnsServer: options.dnsResolver === undefined ? undefined : parseDnsServer(options.dnsResolver),
    timeoutMs,
    tlsConnect: options.tlsConnect,
  };
}

function checkPort(name: string, port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65_535) throw new TypeError(`${name} must be a port from 1 to 65535`);
  return port;
}

/** '1.2.3.4', '1.2.3.4:5353', '[::1]', '[::1]:5353' (node:dns needs IP addresses, not names). */
export function parseDnsServer(text: string): string {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const version = host === undefined ? 0 : isIP(host);
  // An IPv6 address must be bracketed so its colons are not read as a port.
  if (match === null || host === undefined || version === 0 || (version === 6) !== (match[1] !== undefined)) {
    throw new TypeError(`dnsResolver must be "ip:port" or "[ipv6]:port", got ${JSON.stringify(text)}`);
  }
  const port = checkPort('the dnsResolver port', Number(match[3] ?? '53'));
  return version === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
