/**
 * The listener's own certificate: which names it must carry, when it is
 * re-issued at start, and the /healthz check that reports it revoked or near
 * its end. The listener does not swap certificates while running, so the
 * health check and the re-issue rule share one threshold: a node whose
 * certificate has a third of its life left is reported unhealthy, and its
 * next start re-issues.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import type { Config } from '../config/index.js';
import type { HealthCheck, HealthCheckResult } from '../http/index.js';
import type { SerialStatus } from '../ledger/index.js';
import type { Awaitable } from '../shared/awaitable.js';
import { normalizeSerial, splitPemChain } from '../x509/index.js';

export interface ListenerNames {
  readonly dnsNames: readonly string[];
  /** Canonical text (IPv6 compressed, lower case), so a certificate's names compare equal to the configured ones. */
  readonly ipAddresses: readonly string[];
}

/** Why the listener certificate is issued anew at this start; undefined: the one on disk is kept. */
export type RenewalReason =
  'missing' | 'unreadable' | 'key-mismatch' | 'names-changed' | 'not-in-ledger' | 'revoked' | 'issuer-revoked' | 'expiring';

/** Operator-facing words for each reason (the start-up notice). */
export const RENEWAL_REASONS: { readonly [R in RenewalReason]: string } = {
  missing: 'none on disk',
  unreadable: 'the one on disk could not be read',
  'key-mismatch': 'the one on disk does not match its key',
  'names-changed': 'the configured names changed',
  'not-in-ledger': 'the ledger does not know the one on disk',
  revoked: 'the one on disk is revoked',
  'issuer-revoked': 'the intermediate that issued the one on disk is revoked',
  expiring: 'a third or less of its life was left',
};

/** The second certificate of a chain file (the issuer written beside the leaf), if any. */
export function issuerDerOf(chainPem: string): Uint8Array | undefined {
  return splitPemChain(chainPem)[1];
}

/**
 * localhost, 127.0.0.1 and ::1; the listen host when it is a real name or
 * address (not a wildcard); and the host of `publicUrl`, the name clients
 * are told to use (a DNS name, or an IP literal, IPv6 given in brackets).
 */
export function listenerNames(config: Pick<Config, 'listen' | 'publicUrl'>): ListenerNames {
  const dnsNames = new Set<string>(['localhost']);
  const ipAddresses = new Set<string>(['127.0.0.1', '::1']);
  const add = (host: string): void => {
    const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
    if (isIP(bare) !== 0) {
      if (bare !== '0.0.0.0' && bare !== '::') ipAddresses.add(canonicalIp(bare));
    } else if (bare !== '') {
      // A fully qualified name's trailing dot is not part of a dNSName (RFC 5280 §4.2.1.6, "preferred name syntax").
      dnsNames.add(bare.toLowerCase().replace(/\.$/, ''));
    }
  };
  add(config.listen.host);
  // WHATWG URL parsing lower-cases, turns IDNs into A-labels and compresses IPv6 (kept in brackets).
  if (config.publicUrl !== undefined) add(new URL(config.publicUrl).hostname);
  return { dnsNames: [...dnsNames].sort(), ipAddresses: [...ipAddresses].sort() };
}

/** The DNS and IP names a certificate carries, in the same canonical form as listenerNames. */
export function certificateNames(cert: X509Certificate): ListenerNames {
  const dnsNames = new Set<string>();
  const ipAddresses = new Set<string>();
  for (const entry of (cert.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) dnsNames.add(entry.slice(4).toLowerCase());
    else if (entry.startsWith('IP Address:')) ipAddresses.add(canonicalIp(entry.slice(11)));
  }
  return { dnsNames: [...dnsNames].sort(), ipAddresses: [...ipAddresses].sort() };
}

export function sameNames(a: ListenerNames, b: ListenerNames): boolean {
  return a.dnsNames.join(',') === b.dnsNames.join(',') && a.ipAddresses.join(',') === b.ipAddresses.join(',');
}

/** Whether a third or less of the certificate's life is left at `now` (or it has ended). */
export function isNearEnd(cert: X509Certificate, now: number): boolean {
  const { notBefore, notAfter } = validity(cert);
  return now >= notAfter - (notAfter - notBefore) / 3;
}

export interface RenewalInput {
  readonly certPem: string | undefined;
  readonly keyPem: string | undefined;
  readonly wanted: ListenerNames;
  readonly now: number;
  /** The ledger's status of a serial (lower-case hex). */
  readonly statusOf: (serial: string) => Awaitable<SerialStatus | undefined>;
}

/**
 * Why the certificate on disk must be replaced, or undefined to keep it.
 * Checked in the order an operator would fix them: there and readable,
 * matching its key, carrying exactly the configured names, known to the
 * ledger and not revoked, more than a third of its life left.
 */
export async function listenerRenewalReason(input: RenewalInput): Promise<RenewalReason | undefined> {
  if (input.certPem === undefined || input.keyPem === undefined) return 'missing';
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(input.certPem);
    if (!cert.checkPrivateKey(createPrivateKey(input.keyPem))) return 'key-mismatch';
  } catch {
    return 'unreadable';
  }
  if (!sameNames(certificateNames(cert), input.wanted)) return 'names-changed';
  const status = await input.statusOf(normalizeSerial(cert.serialNumber));
  if (status === undefined) return 'not-in-ledger';
  if (status.status === 'revoked') return 'revoked';
  // After `keysmith ca revoke-intermediate`, clients refuse every leaf under it (the ARL): this one too.
  const issuer = issuerDerOf(input.certPem);
  if (issuer !== undefined && (await input.statusOf(normalizeSerial(new X509Certificate(issuer).serialNumber)))?.status === 'revoked')
    return 'issuer-revoked';
  if (isNearEnd(cert, input.now)) return 'expiring';
  return undefined;
}

export interface ListenerHealthInput {
  /** The certificate the listener serves (leaf first), as read at start. */
  readonly certPem: string;
  readonly now: () => number;
  readonly statusOf: (serial: string) => Awaitable<SerialStatus | undefined>;
  /** Revocations this node has heard of: the answer when the ledger cannot be asked. */
  readonly isKnownRevoked: (serial: string) => boolean;
}

const RESTART_HINT = 'restart keysmith to issue a new one';

/**
 * /healthz `server_certificate`: fails when the listener's certificate has
 * ended, is revoked, or has a third or less of its life left (the re-issue
 * threshold), each with a detail naming the reason. When the ledger cannot
 * be asked, the revocations this node has heard of decide (the database
 * check reports the ledger itself).
 */
export function listenerHealthCheck(input: ListenerHealthInput): HealthCheck {
  const cert = new X509Certificate(input.certPem);
  const serial = normalizeSerial(cert.serialNumber);
  const { notAfter } = validity(cert);
  const ends = new Date(notAfter).toISOString();
  const judge = (status: SerialStatus | undefined, isRevoked: boolean): HealthCheckResult => {
    const now = input.now();
    if (isRevoked || status?.status === 'revoked') {
      const reason = status?.reason ?? undefined;
      return {
        ok: false,
        detail: `revoked: the listener certificate ${serial} is revoked${reason === undefined ? '' : ` (${reason})`}; ${RESTART_HINT}`,
      };
    }
    if (now >= notAfter) return { ok: false, detail: `expired: the listener certificate ${serial} expired at ${ends}; ${RESTART_HINT}` };
    if (isNearEnd(cert, now)) {
      return {
        ok: false,
        detail: `expiring: the listener certificate ${serial} has a third or less of its life left (expires ${ends}); ${RESTART_HINT}`,
      };
    }
    return { ok: true };
  };
  return {
    name: 'server_certificate',
    check: async () => {
      let status: SerialStatus | undefined;
      try {
        status = await input.statusOf(serial);
      } catch {
        return judge(undefined, input.isKnownRevoked(serial));
      }
      return judge(status, input.isKnownRevoked(serial));
    },
  };
}

function validity(cert: X509Certificate): { readonly notBefore: number; readonly notAfter: number } {
  return { notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

function canonicalIp(ip: string): string {
  if (isIP(ip) === 4) return ip;
  // The URL parser prints IPv6 in RFC 5952 form ("0:0:0:0:0:0:0:1" and "::1" both become "[::1]").
  return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
}
