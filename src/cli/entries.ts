/**
 * `keysmith entries create|list|delete`: registration entries, offline on
 * the data directory like `keysmith issue` (safe while serve runs: the
 * ledger is SQLite in WAL mode). `--json` prints the API's wire form.
 */
import { loadConfig, type Config } from '../config.js';
import { entryWire, type EntryWire } from '../http/routes/svid/schemas.js';
import type { EntryPage, RegistrationEntry } from '../shared/entry-records.js';
import type { SvidApi } from '../svid/ports.js';
import { durationOption, printConfigWarning, requireOption, stringList, stringOption, UsageError, type Command, type ParsedCommand } from './args.js';
import { openCore, openSvid } from './compose.js';

function configOf(parsed: ParsedCommand): Config {
  const file = stringOption(parsed, 'config');
  return loadConfig({ env: process.env, onWarning: printConfigWarning, ...(file === undefined ? {} : { file }) });
}

/** Opens the core and the SVID service for one offline command, and closes the ledger after it. */
export async function withSvid<T>(parsed: ParsedCommand, use: (svid: SvidApi) => Promise<T> | T): Promise<T> {
  const core = await openCore(configOf(parsed), { ensureIdentities: false });
  try {
    return await use(await openSvid(core));
  } finally {
    await core.close();
  }
}

/** Who acts, as the ledger records it ('cli:<user>'), like `keysmith issue`. */
export function cliActor(): string {
  return `cli:${process.env['USER'] ?? 'operator'}`;
}

function isoOption(parsed: ParsedCommand, name: string): number | undefined {
  const value = stringOption(parsed, name);
  if (value === undefined) return undefined;
  // A zone is required: a local time would mean something different on every operator's machine.
  const ms = /(Z|[+-]\d{2}:\d{2})$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms)) throw new UsageError(`--${name}: expected an ISO 8601 date-time with a zone, e.g. 2030-01-01T00:00:00Z, got '${value}'`);
  return ms;
}

/** 3600000 -> "1h", 90000 -> "90s": the largest whole unit. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1_000]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** One line per entry, the id first so scripts can cut it. */
export function formatEntryLine(entry: RegistrationEntry): string {
  const parts = [
    entry.id,
    entry.spiffeId,
    `parent=${entry.parentId}`,
    `x509_ttl=${formatDuration(entry.x509TtlMs)}`,
    `jwt_ttl=${formatDuration(entry.jwtTtlMs)}`,
  ];
  if (entry.dnsNames.length > 0) parts.push(`dns=${entry.dnsNames.join(',')}`);
  if (entry.admin) parts.push('admin');
  if (entry.expiresAt !== null) parts.push(`expires=${new Date(entry.expiresAt).toISOString()}`);
  return parts.join('  ');
}

function printJson(value: EntryWire | { items: EntryWire[] }): void {
  console.log(JSON.stringify(value, null, 2));
}

export const entriesCreateCommand: Command = {
  name: 'entries create',
  summary: 'create a registration entry: which parent may obtain which SPIFFE ID',
  usage:
    'keysmith entries create --spiffe-id ID --parent-id ID [--x509-ttl 1h] [--jwt-ttl 5m] [--dns NAME]... [--admin] [--expires-at ISO] [--json]',
  options: {
    'spiffe-id': { type: 'string' },
    'parent-id': { type: 'string' },
    'x509-ttl': { type: 'string' },
    'jwt-ttl': { type: 'string' },
    dns: { type: 'string', multiple: true },
    admin: { type: 'boolean' },
    'expires-at': { type: 'string' },
    json: { type: 'boolean' },
  },
  async run(parsed) {
    const spiffeId = requireOption(parsed, 'spiffe-id');
    const parentId = requireOption(parsed, 'parent-id');
    const x509TtlMs = durationOption(parsed, 'x509-ttl');
    const jwtTtlMs = durationOption(parsed, 'jwt-ttl');
    const dnsNames = stringList(parsed, 'dns');
    const expiresAt = isoOption(parsed, 'expires-at');
    const entry = await withSvid(parsed, (svid) =>
      svid.createEntry(cliActor(), {
        spiffeId,
        parentId,
        ...(x509TtlMs === undefined ? {} : { x509TtlMs }),
        ...(jwtTtlMs === undefined ? {} : { jwtTtlMs }),
        ...(dnsNames.length === 0 ? {} : { dnsNames }),
        ...(parsed.values['admin'] === true ? { admin: true } : {}),
        ...(expiresAt === undefined ? {} : { expiresAt }),
      }),
    );
    if (parsed.values['json'] === true) printJson(entryWire(entry));
    else console.log(formatEntryLine(entry));
    return 0;
  },
};

/** Pages are followed to the end; this bounds a runaway cursor. */
const MAX_PAGES = 10_000;

export const entriesListCommand: Command = {
  name: 'entries list',
  summary: 'list registration entries',
  usage: 'keysmith entries list [--spiffe-id ID] [--parent-id ID] [--json]',
  options: { 'spiffe-id': { type: 'string' }, 'parent-id': { type: 'string' }, json: { type: 'boolean' } },
  async run(parsed) {
    const spiffeId = stringOption(parsed, 'spiffe-id');
    const parentId = stringOption(parsed, 'parent-id');
    const entries = await withSvid(parsed, async (svid) => {
      const all: RegistrationEntry[] = [];
      let cursor: string | null = null;
      for (let page = 0; page < MAX_PAGES; page++) {
        const result: EntryPage = await svid.listEntries({
          limit: 500,
          ...(spiffeId === undefined ? {} : { spiffeId }),
          ...(parentId === undefined ? {} : { parentId }),
          ...(cursor === null ? {} : { cursor }),
        });
        all.push(...result.items);
        cursor = result.nextCursor;
        if (cursor === null) break;
      }
      return all;
    });
    if (parsed.values['json'] === true) printJson({ items: entries.map(entryWire) });
    else if (entries.length === 0) console.log('(no entries match)');
    else for (const entry of entries) console.log(formatEntryLine(entry));
    return 0;
  },
};

export const entriesDeleteCommand: Command = {
  name: 'entries delete',
  summary: 'delete a registration entry (SVIDs issued under it stay valid until they expire)',
  usage: 'keysmith entries delete ID',
  options: {},
  allowPositionals: true,
  async run(parsed) {
    const id = parsed.positionals[0];
    if (id === undefined || parsed.positionals.length !== 1) throw new UsageError('give exactly one entry ID');
    await withSvid(parsed, (svid) => svid.deleteEntry(id));
    console.log(`deleted ${id}`);
    return 0;
  },
};
