import type { SqlValue } from './database.js';

/**
 * Binds a statement written with named parameters (`:now`, as the SQLite
 * repositories write them) for PostgreSQL's positional `$1, $2, ...`, so both
 * backends can run one statement text (alert-expiring-sql.ts). Each name gets
 * one position however often it appears, with the cast `types` gives it:
 * PostgreSQL infers an untyped parameter's type from its context, and a
 * parameter compared only with another parameter or a literal (`:withinMs <
 * 86400000` is an integer comparison) would be inferred too narrow.
 *
 * A name in the text that `params` lacks, or one `params` has that the text
 * does not use, is a programming error and throws. `::` casts are left alone.
 */
const NAMED = /(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)/g;

export interface BoundStatement {
  readonly text: string;
  readonly values: readonly SqlValue[];
}

export function bindNamed(sql: string, params: Readonly<Record<string, SqlValue>>, types: Readonly<Record<string, string>> = {}): BoundStatement {
  const positions = new Map<string, number>();
  const values: SqlValue[] = [];
  const text = sql.replace(NAMED, (_match, name: string) => {
    if (!Object.hasOwn(params, name)) throw new Error(`statement parameter :${name} has no value`);
    let position = positions.get(name);
    if (position === undefined) {
      values.push(params[name] ?? null);
      position = values.length;
      positions.set(name, position);
    }
    const type = types[name];
    return type === undefined ? `$${position}` : `$${position}::${type}`;
  });
  for (const name of Object.keys(params)) {
    if (!positions.has(name)) throw new Error(`statement parameter :${name} is not in the statement`);
  }
  return { text, values };
}
