/**
 * One SQL text for both backends: the ledger's shared statements are written
 * with SQLite's placeholders (`:name`, or `?`), and PostgreSQL gets the same
 * text with `$1, $2...` and the values in that order. String literals, quoted
 * identifiers and `::` casts are left alone.
 */

const TOKENS = /'(?:[^']|'')*'|"(?:[^"]|"")*"|::|:([A-Za-z_][A-Za-z0-9_]*)|\?/g;

export interface NumberedStatement<V> {
  readonly text: string;
  readonly values: V[];
}

/**
 * `:name` to `$n`: each name gets one number however often it appears. A name
 * the SQL uses but `params` lacks is a bug in the caller (a plain Error); extra
 * params are ignored, as better-sqlite3 ignores them.
 *
 * `types` casts a name's placeholder wherever it appears (`$1::bigint`):
 * PostgreSQL infers an untyped parameter's type from its context, and one
 * compared only with another parameter or a literal (`:withinMs < 86400000`
 * is an integer comparison) would be inferred too narrow.
 */
export function numberNamedParameters<V>(
  sql: string,
  params: Readonly<Record<string, V>>,
  types: Readonly<Record<string, string>> = {},
): NumberedStatement<V> {
  const numbers = new Map<string, number>();
  const values: V[] = [];
  const text = sql.replace(TOKENS, (token: string, name: string | undefined) => {
    if (token === '?') throw new Error('a statement mixes ? and :name placeholders');
    if (name === undefined) return token;
    let number = numbers.get(name);
    if (number === undefined) {
      const value = Object.hasOwn(params, name) ? params[name] : undefined;
      if (value === undefined) throw new Error(`no value for the SQL parameter :${name}`);
      values.push(value);
      number = values.length;
      numbers.set(name, number);
    }
    const type = types[name];
    return type === undefined ? `$${number}` : `$${number}::${type}`;
  });
  return { text, values };
}

/** `?` to `$1, $2...` in order of appearance. */
export function numberPositionalParameters(sql: string): string {
  let count = 0;
  return sql.replace(TOKENS, (token: string, name: string | undefined) => {
    if (name !== undefined) throw new Error('a statement mixes ? and :name placeholders');
    if (token !== '?') return token;
    count += 1;
    return `$${count}`;
  });
}
