import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { numberNamedParameters, numberPositionalParameters } from '../../../src/ledger/sql-placeholders.js';

/** One SQL text for both backends: SQLite's placeholders numbered for PostgreSQL. */

describe('numberNamedParameters', () => {
  it('gives each name one number, in order of first use, with its value', () => {
    const { text, values } = numberNamedParameters('SELECT 1 WHERE a >= :from AND b <= :to AND c <> :from LIMIT :take', {
      take: 3,
      from: 10,
      to: 20,
      unused: 'x',
    });
    assert.equal(text, 'SELECT 1 WHERE a >= $1 AND b <= $2 AND c <> $1 LIMIT $3');
    assert.deepEqual(values, [10, 20, 3]);
  });

  it('casts a typed name wherever it appears', () => {
    const { text, values } = numberNamedParameters(
      'SELECT 1 WHERE a > :now AND b <= :horizon AND c > :now AND d = ANY(:profiles)',
      { now: 5, horizon: 9, profiles: ['svid'] },
      { now: 'bigint', profiles: 'text[]' },
    );
    assert.equal(text, 'SELECT 1 WHERE a > $1::bigint AND b <= $2 AND c > $1::bigint AND d = ANY($3::text[])');
    assert.deepEqual(values, [5, 9, ['svid']]);
  });

  it('binds null as a value', () => {
    const { text, values } = numberNamedParameters('SELECT 1 WHERE y = :y', { y: null });
    assert.equal(text, 'SELECT 1 WHERE y = $1');
    assert.deepEqual(values, [null]);
  });

  it('leaves string literals, quoted identifiers and :: casts alone', () => {
    const { text, values } = numberNamedParameters(`SELECT 'a:b' AS "x:y", :v::jsonb, 'it''s :not' FROM t`, { v: '{}' });
    assert.equal(text, `SELECT 'a:b' AS "x:y", $1::jsonb, 'it''s :not' FROM t`);
    assert.deepEqual(values, ['{}']);
  });

  it('refuses a name without a value, and a statement that mixes ? and :name', () => {
    assert.throws(() => numberNamedParameters('SELECT :missing', {}), /no value for the SQL parameter :missing/);
    assert.throws(() => numberNamedParameters('SELECT :a, ?', { a: 1 }), /mixes/);
  });
});

describe('numberPositionalParameters', () => {
  it('numbers ? in order, outside literals', () => {
    assert.equal(
      numberPositionalParameters(`SELECT '?' WHERE a = ? AND b > ? AND "c?" = 1`),
      `SELECT '?' WHERE a = $1 AND b > $2 AND "c?" = 1`,
    );
    assert.throws(() => numberPositionalParameters('SELECT ?, :a'), /mixes/);
  });
});
