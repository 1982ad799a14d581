import { promises as dns } from 'node:dns';
import type { Deadline } from './deadline.js';

/**
 * A node:dns resolver for one validation: the configured server (or the
 * system's), each query bounded by what is left of the deadline, and
 * cancelled when the deadline fires. DNS only: /etc/hosts is not consulted.
 */
export function createResolver(server: string | undefined, deadline: Deadline): dns.Resolver {
  // `timeout` is per try; two tries share what is left of the budget.
  const resolver = new dns.Resolver({ timeout: Math.max(1, Math.floor(deadline.remainingMs() / 2)), tries: 2 });
  if (server !== undefined) resolver.setServers([server]);
  deadline.signal.addEventListener('abort', () => resolver.cancel(), { once: true });
  return resolver;
}

/** node:dns codes that mean "the name or the record type does not exist" rather than a DNS failure. */
const NO_RECORD_CODES: ReadonlySet<string> = new Set(['ENODATA', 'ENOTFOUND']);

export function isNoRecord(code: string | undefined): boolean {
  return code !== undefined && NO_RECORD_CODES.has(code);
}

/** RFC 1035 names for node:dns codes, as operators read them in dig output. */
export function describeDnsCode(code: string | undefined): string {
  switch (code) {
    case 'ENOTFOUND':
      return 'NXDOMAIN';
    case 'ENODATA':
      return 'no records';
    case 'ESERVFAIL':
      return 'SERVFAIL';
    case 'EREFUSED':
      return 'REFUSED';
    case 'ETIMEOUT':
      return 'timeout';
    case 'ECANCELLED':
      return 'timeout (validation deadline)';
    case 'ECONNREFUSED':
      return 'connection to the DNS server refused';
    case undefined:
      return 'unknown error';
    default:
      return code;
  }
}
