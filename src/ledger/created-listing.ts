/**
 * Keyset pages in creation order, (created_at, id) ascending, for the small
 * operator listings (join tokens, EAB keys); both backends run the same SQL
 * (`:name` placeholders, numbered for PostgreSQL by sql-placeholders.ts). Ids
 * compare bytewise on both (PostgreSQL gets ` COLLATE "C"`), so a page
 * boundary means the same thing whichever database holds the rows.
 */
import { badCursor, checkPageLimit, decodePageCursor, encodePageCursor } from './paging.js';
import type { SqlDialect } from './certificate-list.js';

export interface CreatedListPlan {
  readonly limit: number;
  readonly sql: string;
  /** includes `take` = limit + 1: one row more than served tells whether a next page exists */
  readonly params: Record<string, string | number>;
}

export interface CreatedListSpec {
  readonly table: string;
  readonly columns: string;
  /** The unique column that breaks ties of created_at. */
  readonly idColumn: string;
  /** Filter terms over `:name` parameters, ANDed. */
  readonly where: readonly string[];
  readonly params: Readonly<Record<string, string | number>>;
  readonly cursor: string | undefined;
  readonly limit: number | undefined;
  readonly dialect: SqlDialect;
  /** Checks an id read back from a cursor. */
  readonly isId: (value: string) => boolean;
}

export function planCreatedList(spec: CreatedListSpec): CreatedListPlan {
  const limit = checkPageLimit(spec.limit);
  const collate = spec.dialect === 'postgres' ? ' COLLATE "C"' : '';
  const where = [...spec.where];
  const params: Record<string, string | number> = { ...spec.params, take: limit + 1 };
  if (spec.cursor !== undefined) {
    const after = decodeCreatedCursor(spec.cursor, spec.isId);
    where.push(`(created_at, ${spec.idColumn}${collate}) > (:afterTime, :afterId)`);
    params['afterTime'] = after.createdAt;
    params['afterId'] = after.id;
  }
  const sql =
    `SELECT ${spec.columns} FROM ${spec.table}` +
    (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY created_at, ${spec.idColumn}${collate} LIMIT :take`;
  return { limit, sql, params };
}

/** The page served from the rows a plan read (at most limit + 1). */
export function toCreatedPage<Row, Item extends { readonly createdAt: number }>(
  rows: readonly Row[],
  limit: number,
  toItem: (row: Row) => Item,
  idOf: (item: Item) => string,
): { items: Item[]; nextCursor: string | null } {
  const items = rows.slice(0, limit).map(toItem);
  const last = items[items.length - 1];
  const nextCursor = rows.length > limit && last !== undefined ? encodePageCursor({ t: last.createdAt, i: idOf(last) }) : null;
  return { items, nextCursor };
}

/** toCreatedPage for rows that are the items already (summaries shown as read): each copied, the cursor from `idOf`. */
export function toSummaryPage<Item extends { readonly createdAt: number }>(
  rows: readonly Item[],
  limit: number,
  idOf: (item: Item) => string,
): { items: Item[]; nextCursor: string | null } {
  return toCreatedPage(rows, limit, (row) => ({ ...row }), idOf);
}

function decodeCreatedCursor(text: string, isId: (value: string) => boolean): { readonly createdAt: number; readonly id: string } {
  const { t, i } = decodePageCursor(text, 512);
  if (typeof t !== 'number' || !Number.isSafeInteger(t) || typeof i !== 'string' || !isId(i)) throw badCursor();
  return { createdAt: t, id: i };
}
