import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bindNamed } from '../../../src/ledger/postgres/named-params.js';

/** One statement text for both backends: SQLite's named parameters bound as PostgreSQL's positional ones. */
describe('bindNamed', () => {
  it('gives each name one position, in order of first use, with its cast wherever it appears', () => {
    const bound = bindNamed('SELECT 1 WHERE a > :now AND b <= :horizon AND c > :now AND d = ANY(:profiles)', { now: 5, horizon: 9, profiles: ['svid'] }, { now: 'bigint', profiles: 'text[]' });
    assert.equal(bound.text, 'SELECT 1 WHERE a > $1::bigint AND b <= $2 AND c > $1::bigint AND d = ANY($3::text[])');
    assert.deepEqual(bound.values, [5, 9, ['svid']]);
  });

  it('leaves casts and words with colons alone', () => {
    const bound = bindNamed("SELECT x::text, 'a:b' FROM t WHERE y = :y", { y: null });
    assert.equal(bound.text, "SELECT x::text, 'a:b' FROM t WHERE y = $1");
    assert.deepEqual(bound.values, [null]);
  });

  it('refuses a name without a value and a value without a use', () => {
    assert.throws(() => bindNamed('SELECT :a, :b', { a: 1 }), /parameter :b has no value/);
    assert.throws(() => bindNamed('SELECT :a', { a: 1, c: 2 }), /parameter :c is not in the statement/);
  });
});
