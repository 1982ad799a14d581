import { existsSync, statSync } from 'node:fs';
import { resolve, join } from 'node:path';
import { jwtSchedulePath, jwtSigningKeyPath } from '../ca/index.js';
import { certificateView } from '../http/index.js';
import {
  EXPIRY_SCOPES,
  isRevocableReason,
  LISTED_STATUSES,
  listedStatus,
  PROFILE_NAMES,
  REVOCABLE_REASONS,
  type CertificateQuery,
  type CertificateRecord,
  type ExpiryScope,
  type ListedStatus,
  type ProfileName,
} from '../domain/certificates.js';
import { durationOption, stringList, stringOption, UsageError, type Command, type ParsedCommand } from './args.js';
import { adminSpiffeId, openJwtKeys, publicUrl, type Core } from './compose.js';
import { onePositional, withCore } from './offline.js';
import { issueIdentity, writeIdentity, writeIdentityP12 } from './identities.js';
import { readP12Passphrase } from './passphrase.js';
import { formatTimeLeft, LISTING_OPTIONS, pagingOf, printListing, printRecords, shortTime } from './listing.js';

/** The exact curl line that lists certificates with the admin identity. */
export function curlLine(core: Core): string {
  const p = core.paths;
  return `curl --cert ${p.adminCert} --key ${p.adminKey} --cacert ${p.bundle} ${publicUrl(core.config)}/v1/certificates`;
}

export const initCommand: Command = {
  name: 'init',
  summary: 'create the CA, the listener certificate and the admin identity in the data directory',
  usage: 'keysmith init [--config FILE]',
  options: {},
  example: 'keysmith init --config /etc/keysmith/keysmith.yaml',
  async run(parsed) {
    await withCore(
      parsed,
      async (core) => {
        // The JWT-SVID key lives in ca/ too: made here, a copy of ca/ gives every node of a cluster the same one.
        const hadJwtKey = existsSync(jwtSigningKeyPath(core.config.dataDir)) || existsSync(jwtSchedulePath(core.config.dataDir));
        await openJwtKeys(core);
        const notices = hadJwtKey
          ? core.notices
          : [...core.notices, `created the JWT-SVID signing key in ${jwtSigningKeyPath(core.config.dataDir)}`];
        for (const line of notices) console.log(line);
        if (notices.length === 0) console.log(`${core.config.dataDir} is already initialised`);
        console.log(`\nlist certificates as the admin:\n  ${curlLine(core)}`);
      },
      { ensureIdentities: true },
    );
    return 0;
  },
};

const ISSUE_PROFILES: readonly ProfileName[] = ['svid', 'node', 'tls-server'];

export const issueCommand: Command = {
  name: 'issue',
  summary: 'issue a certificate and key offline, into a directory and/or a PKCS#12 file (safe while serve runs)',
  usage:
    'keysmith issue --spiffe-id ID [--dns NAME]... [--ip ADDR]... [--ttl 90d] [--profile svid|node|tls-server] [--out DIR] [--p12 FILE [--p12-passphrase-file FILE]] [--json]',
  options: {
    'spiffe-id': { type: 'string', value: 'ID', help: 'the SPIFFE ID the certificate names (a URI SAN)' },
    dns: { type: 'string', multiple: true, value: 'NAME', help: 'a DNS name to put in the SANs' },
    ip: { type: 'string', multiple: true, value: 'ADDR', help: 'an IP address to put in the SANs' },
    ttl: { type: 'string', value: 'DURATION', default: "the profile's (svid 1h, tls-server 90d)", help: 'lifetime, e.g. 12h or 90d' },
    profile: {
      type: 'string',
      value: ISSUE_PROFILES.join('|'),
      default: 'svid with --spiffe-id, else tls-server',
      help: 'what the certificate is for',
    },
    out: { type: 'string', value: 'DIR', help: 'directory to write cert.pem and key.pem into (required unless --p12 is given)' },
    p12: {
      type: 'string',
      value: 'FILE',
      default: 'none',
      help: 'also (or instead) write key, certificate and chain as a PKCS#12 file, mode 0600, for a browser (see the README)',
    },
    'p12-passphrase-file': {
      type: 'string',
      value: 'FILE',
      default: 'ask twice on the terminal',
      help: "the --p12 file's passphrase: this file's first line (never given on the command line)",
    },
    json: { type: 'boolean', help: 'print {"certificates":[...]} (the HTTP API\'s fields) and the file paths instead of the serial' },
  },
  example: 'keysmith issue --spiffe-id spiffe://keysmith.local/admin/alice --ttl 12h --p12 alice.p12 --p12-passphrase-file pass.txt',
  async run(parsed) {
    const outOption = stringOption(parsed, 'out');
    const out = outOption === undefined || outOption === '' ? undefined : resolve(outOption);
    const p12 = p12Option(parsed);
    if (out === undefined && p12 === undefined) throw new UsageError('give --out DIR, --p12 FILE, or both');
    const spiffeId = stringOption(parsed, 'spiffe-id');
    const profile = profileOption(parsed, spiffeId === undefined ? 'tls-server' : 'svid');
    const dnsNames = stringList(parsed, 'dns');
    const ipAddresses = stringList(parsed, 'ip');
    if (spiffeId === undefined && dnsNames.length === 0 && ipAddresses.length === 0)
      throw new UsageError('give --spiffe-id, or --dns/--ip names');
    const ttlMs = durationOption(parsed, 'ttl');
    // Asked before anything is issued: a refused passphrase leaves no certificate behind.
    const passphrase = p12 === undefined ? undefined : await readP12Passphrase(stringOption(parsed, 'p12-passphrase-file'));
    const user = process.env['USER'] ?? 'operator';
    await withCore(parsed, async (core) => {
      const identity = await issueIdentity(core.authority, {
        profile,
        requester: `cli:${user}`,
        ...(spiffeId === undefined ? {} : { spiffeId }),
        ...(dnsNames.length === 0 ? {} : { dnsNames }),
        ...(ipAddresses.length === 0 ? {} : { ipAddresses }),
        ...(ttlMs === undefined ? {} : { ttlMs }),
      });
      const files: Record<string, string> = {};
      if (out !== undefined) {
        files['cert_file'] = join(out, 'cert.pem');
        files['key_file'] = join(out, 'key.pem');
        writeIdentity(identity, files['cert_file'], files['key_file']);
      }
      if (p12 !== undefined && passphrase !== undefined) {
        const friendlyName = spiffeId ?? dnsNames[0] ?? ipAddresses[0] ?? identity.issued.serial;
        writeIdentityP12(identity, p12, passphrase, friendlyName);
        files['p12_file'] = p12;
      }
      if (parsed.values['json'] !== true) {
        console.log(identity.issued.serial);
        return;
      }
      // The ledger's row, as the HTTP API shows it (committed before the files were written).
      const record = await core.repositories.certificates.findBySerial(identity.issued.serial);
      if (record === undefined) throw new Error(`certificate ${identity.issued.serial} is not in the ledger`);
      printRecords('certificates', [certificateView(record, core.clock.now())], files);
    });
    return 0;
  },
};

/** The --p12 path, resolved; refused up front when it names a directory, or when --p12-passphrase-file comes without it. */
function p12Option(parsed: ParsedCommand): string | undefined {
  const value = stringOption(parsed, 'p12');
  if (value === undefined || value === '') {
    if (stringOption(parsed, 'p12-passphrase-file') !== undefined) throw new UsageError('--p12-passphrase-file goes with --p12 FILE');
    if (value === '') throw new UsageError('--p12 needs a file name');
    return undefined;
  }
  const path = resolve(value);
  if (existsSync(path) && statSync(path).isDirectory()) throw new UsageError(`--p12: ${value} is a directory; give a file name`);
  return path;
}

function profileOption(parsed: ParsedCommand, fallback: ProfileName): ProfileName {
  const value = stringOption(parsed, 'profile') ?? fallback;
  const profile = ISSUE_PROFILES.find((name) => name === value);
  if (profile === undefined) throw new UsageError(`--profile: expected one of ${ISSUE_PROFILES.join(', ')}, got '${value}'`);
  return profile;
}

function oneOf<T extends string>(parsed: ParsedCommand, name: string, allowed: readonly T[]): T | undefined {
  const value = stringOption(parsed, name);
  if (value === undefined) return undefined;
  const found = allowed.find((candidate) => candidate === value);
  if (found === undefined) throw new UsageError(`--${name}: expected one of ${allowed.join(', ')}, got '${value}'`);
  return found;
}

export const certsListCommand: Command = {
  name: 'certs list',
  summary: 'list certificates in the ledger (a table, or --json)',
  usage:
    'keysmith certs list [--expiring 7d [--include attention|all]] [--status valid|expired|revoked] [--profile NAME] [--spiffe-id ID] [--dns NAME] [--limit N] [--cursor C | --all] [--json]',
  options: {
    expiring: {
      type: 'string',
      value: 'DURATION',
      help: 'only valid certificates whose notAfter falls within this duration from now, soonest first',
    },
    include: {
      type: 'string',
      value: EXPIRY_SCOPES.join('|'),
      default: 'attention',
      help: 'with --expiring: attention lists what needs a person (no SVIDs but those whose SPIFFE ID stopped renewing), all every one',
    },
    status: {
      type: 'string',
      value: LISTED_STATUSES.join('|'),
      help: 'expired: not revoked and past notAfter (listed longest expired first)',
    },
    profile: { type: 'string', value: 'NAME', help: `one of ${PROFILE_NAMES.join(', ')}` },
    'spiffe-id': { type: 'string', value: 'ID', help: 'exact SPIFFE ID' },
    dns: { type: 'string', value: 'NAME', help: 'a DNS name among the SANs' },
    ...LISTING_OPTIONS,
  },
  example: 'keysmith certs list --status expired --profile tls-server --all --json',
  async run(parsed) {
    const expiringWithinMs = durationOption(parsed, 'expiring');
    const include: ExpiryScope | undefined = oneOf(parsed, 'include', EXPIRY_SCOPES);
    if (include !== undefined && expiringWithinMs === undefined) throw new UsageError('--include goes with --expiring');
    const status: ListedStatus | undefined = oneOf(parsed, 'status', LISTED_STATUSES);
    const profile: ProfileName | undefined = oneOf(parsed, 'profile', PROFILE_NAMES);
    const spiffeId = stringOption(parsed, 'spiffe-id');
    const dnsName = stringOption(parsed, 'dns');
    const paging = pagingOf(parsed);
    await withCore(parsed, async (core) => {
      // One instant for every page: a walk with --all judges expiry the same way from its first page to its last.
      const now = core.clock.now();
      const filters: CertificateQuery = {
        now,
        ...(expiringWithinMs === undefined ? {} : { expiringWithinMs, include: include ?? 'attention' }),
        ...(status === undefined ? {} : { status }),
        ...(profile === undefined ? {} : { profile }),
        ...(spiffeId === undefined ? {} : { spiffeId }),
        ...(dnsName === undefined ? {} : { dnsName }),
      };
      await printListing(
        {
          key: 'certificates',
          fetch: async (cursor, limit) =>
            core.repositories.certificates.list({ ...filters, limit, ...(cursor === undefined ? {} : { cursor }) }),
          toJson: (record) => certificateView(record, now),
          header: CERTIFICATE_HEADER,
          toRow: (record) => certificateRow(record, now),
          empty: '(no certificates match)',
        },
        paging,
        parsed.values['json'] === true,
      );
    });
    return 0;
  },
};

const CERTIFICATE_HEADER = ['SERIAL', 'PROFILE', 'STATUS', 'NOT AFTER', 'LEFT', 'IDENTITY'] as const;

/** The columns an operator scans at 3 a.m.: LEFT in days, or hours and minutes below a day. */
export function certificateRow(c: CertificateRecord, now: number): string[] {
  const status = listedStatus(c, now);
  return [
    c.serial,
    c.profile,
    status,
    shortTime(c.notAfter),
    status === 'valid' ? formatTimeLeft(c.notAfter, now) : '-',
    c.spiffeId ?? (c.sans.length > 0 ? c.sans.map((san) => san.value).join(',') : c.subject),
  ];
}

export const revokeCommand: Command = {
  name: 'revoke',
  summary: 'revoke a certificate by serial',
  usage: `keysmith revoke SERIAL [--reason ${REVOCABLE_REASONS.join('|')}] [--json]`,
  options: {
    reason: {
      type: 'string',
      value: 'REASON',
      default: 'unspecified',
      help: `RFC 5280 section 5.3.1 reason, as the HTTP API takes it: ${REVOCABLE_REASONS.join(', ')}`,
    },
    json: { type: 'boolean', help: 'print {"certificates":[...]} with the revoked certificate as the HTTP API shows it' },
  },
  example: 'keysmith revoke 3f9a0c2d41e5b6a7 --reason keyCompromise',
  allowPositionals: true,
  async run(parsed) {
    const serial = onePositional(parsed, 'SERIAL');
    const reason = stringOption(parsed, 'reason') ?? 'unspecified';
    if (!isRevocableReason(reason)) throw new UsageError(`--reason: expected one of ${REVOCABLE_REASONS.join(', ')}, got '${reason}'`);
    await withCore(parsed, async (core) => {
      const record = await core.authority.revoke(serial.toLowerCase(), reason);
      if (parsed.values['json'] === true) printRecords('certificates', [certificateView(record, core.clock.now())]);
      else console.log(`revoked ${record.serial} (${reason})`);
    });
    return 0;
  },
};

/** The reasons `keysmith revoke --reason` accepts (the same list as the HTTP API's schema). */
export const CLI_REVOCATION_REASONS: readonly string[] = REVOCABLE_REASONS;

export { adminSpiffeId };
