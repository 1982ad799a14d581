import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { jwtSchedulePath, jwtSigningKeyPath } from '../ca/index.js';
import { loadConfig, type Config } from '../config.js';
import { REVOCATION_REASONS, PROFILE_NAMES, type CertificateRecord, type ProfileName, type RevocationReason } from '../shared/records.js';
import { durationOption, printConfigWarning, requireOption, stringList, stringOption, UsageError, type Command, type ParsedCommand } from './args.js';
import { adminSpiffeId, openCore, openJwtKeys, publicUrl, type Core } from './compose.js';
import { issueIdentity, writeIdentity } from './identities.js';
import { join } from 'node:path';

function configOf(parsed: ParsedCommand): Config {
  const file = stringOption(parsed, 'config');
  return loadConfig({ env: process.env, onWarning: printConfigWarning, ...(file === undefined ? {} : { file }) });
}

async function withCore<T>(parsed: ParsedCommand, use: (core: Core) => Promise<T> | T, ensureIdentities = false): Promise<T> {
  const core = await openCore(configOf(parsed), { ensureIdentities });
  try {
    return await use(core);
  } finally {
    await core.close();
  }
}

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
  async run(parsed) {
    await withCore(
      parsed,
      async (core) => {
        // The JWT-SVID key lives in ca/ too: made here, a copy of ca/ gives every node of a cluster the same one.
        const hadJwtKey = existsSync(jwtSigningKeyPath(core.config.dataDir)) || existsSync(jwtSchedulePath(core.config.dataDir));
        await openJwtKeys(core);
        const notices = hadJwtKey ? core.notices : [...core.notices, `created the JWT-SVID signing key in ${jwtSigningKeyPath(core.config.dataDir)}`];
        for (const line of notices) console.log(line);
        if (notices.length === 0) console.log(`${core.config.dataDir} is already initialised`);
        console.log(`\nlist certificates as the admin:\n  ${curlLine(core)}`);
      },
      true,
    );
    return 0;
  },
};

export const issueCommand: Command = {
  name: 'issue',
  summary: 'issue a certificate and key offline, into a directory (safe while serve runs)',
  usage:
    'keysmith issue --spiffe-id ID [--dns NAME]... [--ip ADDR]... [--ttl 90d] [--profile svid|node|tls-server] --out DIR',
  options: {
    'spiffe-id': { type: 'string' },
    dns: { type: 'string', multiple: true },
    ip: { type: 'string', multiple: true },
    ttl: { type: 'string' },
    profile: { type: 'string' },
    out: { type: 'string' },
  },
  async run(parsed) {
    const out = resolve(requireOption(parsed, 'out'));
    const spiffeId = stringOption(parsed, 'spiffe-id');
    const profile = profileOption(parsed, spiffeId === undefined ? 'tls-server' : 'svid');
    const dnsNames = stringList(parsed, 'dns');
    const ipAddresses = stringList(parsed, 'ip');
    if (spiffeId === undefined && dnsNames.length === 0 && ipAddresses.length === 0) throw new UsageError('give --spiffe-id, or --dns/--ip names');
    const ttlMs = durationOption(parsed, 'ttl');
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
      writeIdentity(identity, join(out, 'cert.pem'), join(out, 'key.pem'));
      console.log(identity.issued.serial);
    });
    return 0;
  },
};

function profileOption(parsed: ParsedCommand, fallback: ProfileName): ProfileName {
  const value = stringOption(parsed, 'profile') ?? fallback;
  const allowed: readonly string[] = ['svid', 'node', 'tls-server'];
  if (!allowed.includes(value)) throw new UsageError(`--profile: expected one of ${allowed.join(', ')}, got '${value}'`);
  return value as ProfileName;
}

export const certsListCommand: Command = {
  name: 'certs list',
  summary: 'list certificates in the ledger as a table',
  usage: 'keysmith certs list [--expiring 7d [--all]] [--status valid|revoked] [--profile NAME] [--spiffe-id ID] [--dns NAME] [--limit N]',
  options: {
    expiring: { type: 'string' },
    // --expiring shows what needs a person (no SVIDs but those whose SPIFFE ID stopped renewing); --all shows every one.
    all: { type: 'boolean' },
    status: { type: 'string' },
    profile: { type: 'string' },
    'spiffe-id': { type: 'string' },
    dns: { type: 'string' },
    limit: { type: 'string' },
  },
  async run(parsed) {
    const expiringWithinMs = durationOption(parsed, 'expiring');
    const isAll = parsed.values['all'] === true;
    if (isAll && expiringWithinMs === undefined) throw new UsageError('--all goes with --expiring: it lists every expiring certificate, SVIDs included');
    const status = stringOption(parsed, 'status');
    if (status !== undefined && status !== 'valid' && status !== 'revoked') throw new UsageError(`--status: expected valid or revoked, got '${status}'`);
    const profile = stringOption(parsed, 'profile');
    if (profile !== undefined && !(PROFILE_NAMES as readonly string[]).includes(profile)) {
      throw new UsageError(`--profile: expected one of ${PROFILE_NAMES.join(', ')}, got '${profile}'`);
    }
    const limitText = stringOption(parsed, 'limit') ?? '500';
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit: expected 1..500, got '${limitText}'`);
    const spiffeId = stringOption(parsed, 'spiffe-id');
    const dnsName = stringOption(parsed, 'dns');
    await withCore(parsed, async (core) => {
      const page = await core.repositories.certificates.list({
        now: core.clock.now(),
        limit,
        ...(expiringWithinMs === undefined ? {} : { expiringWithinMs, include: isAll ? 'all' : 'attention' }),
        ...(status === undefined ? {} : { status }),
        ...(profile === undefined ? {} : { profile: profile as ProfileName }),
        ...(spiffeId === undefined ? {} : { spiffeId }),
        ...(dnsName === undefined ? {} : { dnsName }),
      });
      console.log(formatTable(page.items, core.clock.now()));
      if (page.nextCursor !== null) console.log(`(more than ${limit}; narrow the filters or raise --limit)`);
    });
    return 0;
  },
};

/** A plain table for terminals: the columns an operator scans at 3 a.m. */
export function formatTable(items: readonly CertificateRecord[], now: number): string {
  const rows = items.map((c) => [
    c.serial,
    c.profile,
    c.status,
    new Date(c.notAfter).toISOString().replace('.000Z', 'Z'),
    c.status === 'valid' ? `${Math.floor((c.notAfter - now) / 86_400_000)}d` : '-',
    c.spiffeId ?? (c.sans.length > 0 ? c.sans.map((s) => s.value).join(',') : c.subject),
  ]);
  const header = ['SERIAL', 'PROFILE', 'STATUS', 'NOT AFTER', 'LEFT', 'IDENTITY'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n') + (rows.length === 0 ? '\n(no certificates match)' : '');
}

export const revokeCommand: Command = {
  name: 'revoke',
  summary: 'revoke a certificate by serial',
  usage: `keysmith revoke SERIAL --reason ${Object.keys(REVOCATION_REASONS).join('|')}`,
  options: { reason: { type: 'string' } },
  allowPositionals: true,
  async run(parsed) {
    const serial = parsed.positionals[0];
    if (serial === undefined || parsed.positionals.length !== 1) throw new UsageError('give exactly one SERIAL');
    const reason = stringOption(parsed, 'reason') ?? 'unspecified';
    if (!(reason in REVOCATION_REASONS)) throw new UsageError(`--reason: expected one of ${Object.keys(REVOCATION_REASONS).join(', ')}, got '${reason}'`);
    await withCore(parsed, async (core) => {
      const record = await core.authority.revoke(serial.toLowerCase(), reason as RevocationReason);
      console.log(`revoked ${record.serial} (${reason})`);
    });
    return 0;
  },
};

export { adminSpiffeId };
