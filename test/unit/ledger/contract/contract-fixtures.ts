import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import Database from 'better-sqlite3';
import { PostgresDatabase, type LedgerBackend } from '../../../../src/ledger/index.js';
import { isDomainError, type DomainError, type DomainErrorKind } from '../../../../src/shared/errors.js';
import { numberPositionalParameters } from '../../../../src/ledger/sql-placeholders.js';
import type { BackendUnderTest, OpenedTestLedger, TestLedgerLocation } from '../../../helpers/backends.js';

/**
 * Shared by the contract tests (one test body, both backends): the ledger as
 * LedgerBackend (every repository call is awaited), assertions that accept a
 * throw or a rejection, and a second, raw connection for looking at what the
 * ledger wrote, with the same SQL on both databases.
 */

/** Opens `backend` for the enclosing suite; `get()` is the open ledger inside its tests. */
export function useBackend(backend: BackendUnderTest): () => OpenedTestLedger & { readonly ledger: LedgerBackend } {
  let current: OpenedTestLedger | undefined;
  before(async () => {
    current = await backend.open();
  });
  after(async () => {
    await current?.dispose();
  });
  return () => {
    if (current === undefined) throw new Error('the backend is not open yet');
    return { ...current, ledger: current.opened.ledger };
  };
}

/** Asserts that `run` throws or rejects with a DomainError of `kind`, its detail matching `detail` when given. */
export async function assertRejectsDomainError(run: () => unknown, kind: DomainErrorKind, detail?: RegExp): Promise<DomainError> {
  let caught: unknown;
  try {
    await run();
  } catch (error) {
    caught = error;
  }
  assert.ok(isDomainError(caught), `expected DomainError ${kind}, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  if (detail !== undefined) assert.match(caught.detail, detail);
  return caught;
}

/** Every page of a keyset listing, following nextCursor; fails on a loop (more than `maxPages`). */
export async function collectPages<Query extends { readonly cursor?: string }, Item>(
  list: (
    query: Query,
  ) =>
    | Promise<{ readonly items: readonly Item[]; readonly nextCursor: string | null }>
    | { readonly items: readonly Item[]; readonly nextCursor: string | null },
  query: Query,
  maxPages: number,
): Promise<{ items: Item[]; pages: number }> {
  const items: Item[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await list(cursor === undefined ? query : { ...query, cursor });
    pages += 1;
    assert.ok(pages < maxPages, 'pagination does not end');
    items.push(...page.items);
    if (page.nextCursor === null) return { items, pages };
    cursor = page.nextCursor;
  }
}

export type RawValue = string | number | null | Buffer;

/** A second connection to the ledger's database. SQL uses `?` placeholders on both backends. */
export interface RawSql {
  rows<R>(sql: string, params?: readonly RawValue[]): Promise<R[]>;
  run(sql: string, params?: readonly RawValue[]): Promise<number>;
}

/** A constraint refusal as either database words it. */
export const CHECK_FAILED = /CHECK constraint failed|violates check constraint/;

export async function withRawSql<T>(location: TestLedgerLocation, look: (raw: RawSql) => Promise<T>): Promise<T> {
  if (location.kind === 'sqlite') {
    const db = new Database(location.path);
    try {
      return await look({
        rows: async <R>(sql: string, params: readonly RawValue[] = []) => db.prepare<RawValue[], R>(sql).all(...params),
        run: async (sql: string, params: readonly RawValue[] = []) => db.prepare<RawValue[]>(sql).run(...params).changes,
      });
    } finally {
      db.close();
    }
  }
  const db = new PostgresDatabase({ url: location.url, poolSize: 1 });
  try {
    return await look({
      rows: <R>(sql: string, params: readonly RawValue[] = []) => db.rows<R>(numberPositionalParameters(sql), params),
      run: (sql: string, params: readonly RawValue[] = []) => db.run(numberPositionalParameters(sql), params),
    });
  } finally {
    await db.close();
  }
}
