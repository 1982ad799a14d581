/**
 * How the operator's listing commands print: one page at a time, never the
 * whole listing in memory. `--limit N` (1..500) and `--cursor C` ask for one
 * page; `--all` walks every page in turn. Human output is a table whose rows
 * are written as each page arrives; `--json` is ONE JSON document per call,
 * `{"<records>":[...],"next_cursor":...}`, written incrementally (its array
 * grows page by page). A failure part-way leaves an incomplete document and a
 * non-zero exit code.
 */
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { UsageError, stringOption, type OptionSpec, type ParsedCommand } from './args.js';

export const MAX_LIMIT = 500;

/** The options every listing takes, for its Command.options. */
export const LISTING_OPTIONS = {
  limit: { type: 'string', value: 'N', default: '100; 500 with --all', help: `rows per page, 1 to ${MAX_LIMIT}` },
  cursor: { type: 'string', value: 'CURSOR', help: 'start after the page that printed this cursor (its next_cursor)' },
  all: { type: 'boolean', help: 'walk every page, printing each as it arrives' },
  json: { type: 'boolean', help: 'print one JSON document (snake_case, as the HTTP API) instead of a table' },
} as const satisfies Readonly<Record<string, OptionSpec>>;

export interface Paging {
  readonly limit: number;
  readonly cursor: string | undefined;
  readonly all: boolean;
}

export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string | null;
}

export function pagingOf(parsed: ParsedCommand, defaultLimit = 100): Paging {
  const all = parsed.values['all'] === true;
  const limitText = stringOption(parsed, 'limit');
  const limit = limitText === undefined ? (all ? MAX_LIMIT : defaultLimit) : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT)
    throw new UsageError(`--limit: expected 1..${MAX_LIMIT}, got '${limitText ?? ''}'`);
  const cursor = stringOption(parsed, 'cursor');
  if (cursor === '') throw new UsageError('--cursor: expected the next_cursor of an earlier page');
  return { limit, cursor, all };
}

/** Writes to a stream, waiting when it asks the writer to (back-pressure), so a slow reader bounds memory. */
export async function writeOut(out: Writable, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

export interface ListingSpec<T> {
  /** The records' key in the JSON document, e.g. "certificates". */
  readonly key: string;
  readonly fetch: (cursor: string | undefined, limit: number) => Promise<Page<T>>;
  readonly toJson: (item: T) => unknown;
  /** Column titles; empty for a listing of self-describing lines (no header, no alignment). */
  readonly header: readonly string[];
  readonly toRow: (item: T) => readonly string[];
  /** Printed when nothing matched (human output). */
  readonly empty: string;
}

/**
 * Prints a listing: one page, or every page with `--all`. Returns the number
 * of records printed. Without --all, a next page is announced on stderr
 * (human) or in next_cursor (JSON).
 */
export async function printListing<T>(
  spec: ListingSpec<T>,
  paging: Paging,
  json: boolean,
  out: Writable = process.stdout,
): Promise<number> {
  const table = new StreamingTable(spec.header, out);
  let cursor = paging.cursor;
  let count = 0;
  let nextCursor: string | null = null;
  if (json) await writeOut(out, `{${JSON.stringify(spec.key)}:[`);
  for (;;) {
    const page = await spec.fetch(cursor, paging.limit);
    if (json) {
      // One write per page: the page is in memory anyway, and a million rows make a thousand writes, not a million.
      if (page.items.length > 0)
        await writeOut(out, (count === 0 ? '' : ',') + page.items.map((item) => JSON.stringify(spec.toJson(item))).join(','));
      count += page.items.length;
    } else {
      await table.rows(page.items.map(spec.toRow));
      count += page.items.length;
    }
    nextCursor = page.nextCursor;
    if (!paging.all || nextCursor === null) break;
    if (nextCursor === cursor) throw new Error('the ledger returned the same cursor twice; stopping');
    cursor = nextCursor;
  }
  if (json) {
    await writeOut(out, `],"next_cursor":${JSON.stringify(nextCursor)}}\n`);
  } else {
    if (count === 0) await writeOut(out, spec.header.length === 0 ? `${spec.empty}\n` : `${spec.header.join('  ')}\n${spec.empty}\n`);
    if (nextCursor !== null) process.stderr.write(`(more: add --cursor ${nextCursor}, or --all for every page)\n`);
  }
  return count;
}

/**
 * A table printed page by page: column widths come from the first page and
 * only grow, so a long listing stays aligned without being held in memory.
 */
export class StreamingTable {
  private widths: number[];
  private started = false;

  constructor(
    private readonly header: readonly string[],
    private readonly out: Writable,
  ) {
    this.widths = header.map((h) => h.length);
  }

  async rows(rows: readonly (readonly string[])[]): Promise<void> {
    if (rows.length === 0) return;
    this.widths = this.widths.map((w, i) => Math.max(w, ...rows.map((r) => (r[i] ?? '').length)));
    const lines = rows.map((r) => this.line(r));
    if (!this.started && this.header.length > 0) lines.unshift(this.line(this.header));
    this.started = true;
    await writeOut(this.out, `${lines.join('\n')}\n`);
  }

  private line(cells: readonly string[]): string {
    return cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(this.widths[i] ?? 0))).join('  ');
  }
}

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/**
 * Time left until notAfter, as a person reads it: whole days from a day on,
 * hours and minutes below a day ("5h07m"), minutes below an hour, "<1m" in
 * the last minute, and "expired" once past (RFC 5280 §4.1.2.5: notAfter
 * itself is still inside the validity period).
 */
export function formatTimeLeft(notAfter: number, now: number): string {
  const left = notAfter - now;
  if (left < 0) return 'expired';
  if (left >= DAY_MS) return `${Math.floor(left / DAY_MS)}d`;
  if (left >= HOUR_MS) return `${Math.floor(left / HOUR_MS)}h${String(Math.floor((left % HOUR_MS) / MINUTE_MS)).padStart(2, '0')}m`;
  if (left >= MINUTE_MS) return `${Math.floor(left / MINUTE_MS)}m`;
  return '<1m';
}

/** ISO 8601 UTC to the second, as tables show times. */
export function shortTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** JSON times: RFC 3339 UTC with milliseconds, as the HTTP API writes them. */

/** Prints one JSON document naming its records (create, revoke, issue). */
export function printRecords(key: string, records: readonly unknown[], extra: Readonly<Record<string, unknown>> = {}): void {
  console.log(JSON.stringify({ [key]: records, ...extra }));
}
