/**
 * `keysmith entries create|list|delete`: registration entries, offline on
 * the data directory like `keysmith issue` (safe while serve runs: the
 * ledger is SQLite in WAL mode). `--json` prints the API's wire form.
 */
import { entryWire, type EntryWire } from '../http/index.js';
import type { RegistrationEntry } from '../domain/entries.js';
import { durationText } from '../shared/duration.js';
import type { SvidApi } from '../svid/index.js';
import { durationOption, requireOption, stringList, stringOption, UsageError, type Command, type ParsedCommand } from './args.js';
import { openSvid } from './compose.js';
import { cliActor, onePositional, withCore } from './offline.js';
import { LISTING_OPTIONS, pagingOf, printListing } from './listing.js';

/** Opens the core and the SVID service for one offline command, and closes the ledger after it. */
export function withSvid<T>(parsed: ParsedCommand, use: (svid: SvidApi) => Promise<T> | T): Promise<T> {
  return withCore(parsed, async (core) => use(await openSvid(core)));
}

function isoOption(parsed: ParsedCommand, name: string): number | undefined {
  const value = stringOption(parsed, name);
  if (value === undefined) return undefined;
  // A zone is required: a local time would mean something different on every operator's machine.
  const ms = /(Z|[+-]\d{2}:\d{2})$/.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(ms))
    throw new UsageError(`--${name}: expected an ISO 8601 date-time with a zone, e.g. 2030-01-01T00:00:00Z, got '${value}'`);
  return ms;
}

/** 3600000 -> "1h", 90000 -> "90s": the largest whole unit. */
/** One line per entry, the id first so scripts can cut it. */
export function formatEntryLine(entry: RegistrationEntry): string {
  const parts = [
    entry.id,
    entry.spiffeId,
    `parent=${entry.parentId}`,
    `x509_ttl=${durationText(entry.x509TtlMs)}`,
    `jwt_ttl=${durationText(entry.jwtTtlMs)}`,
  ];
  if (entry.dnsNames.length > 0) parts.push(`dns=${entry.dnsNames.join(',')}`);
  if (entry.admin) parts.push('admin');
  if (entry.expiresAt !== null) parts.push(`expires=${new Date(entry.expiresAt).toISOString()}`);
  return parts.join('  ');
}

function printJson(value: EntryWire): void {
  console.log(JSON.stringify(value, null, 2));
}

export const entriesCreateCommand: Command = {
  name: 'entries create',
  summary: 'create a registration entry: which parent may obtain which SPIFFE ID',
  usage:
    'keysmith entries create --spiffe-id ID --parent-id ID [--x509-ttl 1h] [--jwt-ttl 5m] [--dns NAME]... [--admin] [--expires-at ISO] [--json]',
  options: {
    'spiffe-id': { type: 'string', value: 'ID', help: 'the SPIFFE ID the entry grants (required)' },
    'parent-id': { type: 'string', value: 'ID', help: 'the node or workload SPIFFE ID that may obtain it (required)' },
    'x509-ttl': { type: 'string', value: 'DURATION', default: '1h', help: 'lifetime of the X509-SVIDs it grants' },
    'jwt-ttl': { type: 'string', value: 'DURATION', default: '5m', help: 'lifetime of the JWT-SVIDs it grants' },
    dns: { type: 'string', multiple: true, value: 'NAME', help: 'a DNS name the X509-SVID may carry' },
    admin: { type: 'boolean', help: 'an admin grant: the SPIFFE ID is /admin or below it' },
    'expires-at': {
      type: 'string',
      value: 'ISO',
      default: 'never',
      help: 'when the entry stops granting, an ISO 8601 date-time with a zone',
    },
    json: { type: 'boolean', help: "print the entry as the HTTP API's JSON" },
  },
  example:
    'keysmith entries create --spiffe-id spiffe://keysmith.local/payments --parent-id spiffe://keysmith.local/node/web-1 --x509-ttl 1h',
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

export const entriesListCommand: Command = {
  name: 'entries list',
  summary: 'list registration entries',
  usage: 'keysmith entries list [--spiffe-id ID] [--parent-id ID] [--limit N] [--cursor C | --all] [--json]',
  options: {
    'spiffe-id': { type: 'string', value: 'ID', help: 'only entries granting this SPIFFE ID' },
    'parent-id': { type: 'string', value: 'ID', help: 'only entries this parent may use' },
    ...LISTING_OPTIONS,
  },
  example: 'keysmith entries list --parent-id spiffe://keysmith.local/node/web-1 --all --json',
  async run(parsed) {
    const spiffeId = stringOption(parsed, 'spiffe-id');
    const parentId = stringOption(parsed, 'parent-id');
    const paging = pagingOf(parsed);
    await withSvid(parsed, (svid) =>
      printListing(
        {
          key: 'entries',
          fetch: (cursor, limit) =>
            svid.listEntries({
              limit,
              ...(spiffeId === undefined ? {} : { spiffeId }),
              ...(parentId === undefined ? {} : { parentId }),
              ...(cursor === undefined ? {} : { cursor }),
            }),
          toJson: entryWire,
          header: [],
          toRow: (entry) => [formatEntryLine(entry)],
          empty: '(no entries match)',
        },
        paging,
        parsed.values['json'] === true,
      ),
    );
    return 0;
  },
};

export const entriesDeleteCommand: Command = {
  name: 'entries delete',
  summary: 'delete a registration entry (SVIDs issued under it stay valid until they expire)',
  usage: 'keysmith entries delete ID',
  options: {},
  example: 'keysmith entries delete 3b8f6c1e-2a4d-4e8b-9f0a-7c5d1e2f3a4b',
  allowPositionals: true,
  async run(parsed) {
    const id = onePositional(parsed, 'entry ID');
    await withSvid(parsed, (svid) => svid.deleteEntry(id));
    console.log(`deleted ${id}`);
    return 0;
  },
};
