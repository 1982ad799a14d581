import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach } from 'node:test';
import Database from 'better-sqlite3';
import { PostgresDatabase, type LedgerBackend } from '../../../../src/ledger/index.js';
import { numberPositionalParameters } from '../../../../src/ledger/sql-placeholders.js';
import { isDomainError, type DomainErrorKind } from '../../../../src/shared/errors.js';
import type { CertificateQuery, CertificateRecord } from '../../../../src/domain/certificates.js';
import type { BackendUnderTest, OpenedTestLedger } from '../../../helpers/backends.js';

/** The certificate contract tests' view of one backend: the repository as both fit it, and a way to look at the tables. */
export interface CertificateLedger {
  readonly backend: BackendUnderTest['name'];
  readonly certificates: LedgerBackend['certificates'];
  readonly test: OpenedTestLedger;
  /** A read over a connection of its own; `?` placeholders (numbered for PostgreSQL). */
  rows<R>(sql: string, params?: readonly (string | number)[]): Promise<R[]>;
  close(): Promise<void>;
}

export async function openCertificateLedger(backend: BackendUnderTest): Promise<CertificateLedger> {
  const test = await backend.open();
  let probe: PostgresDatabase | undefined;
  return {
    backend: backend.name,
    certificates: test.opened.ledger.certificates,
    test,
    async rows<R>(sql: string, params: readonly (string | number)[] = []): Promise<R[]> {
      if (test.opened.kind === 'postgres') {
        const location = test.location;
        if (location.kind !== 'postgres') throw new Error('a PostgreSQL ledger has a PostgreSQL location');
        probe ??= new PostgresDatabase({ url: location.url, poolSize: 1 });
        return probe.rows<R>(numberPositionalParameters(sql), params);
      }
      const location = test.location;
      if (location.kind !== 'sqlite') throw new Error('a SQLite ledger has a file location');
      const db = new Database(location.path, { readonly: true });
      try {
        return db.prepare<unknown[], R>(sql).all(...params);
      } finally {
        db.close();
      }
    },
    async close(): Promise<void> {
      await probe?.close();
      await test.dispose();
    },
  };
}

/** A fresh ledger on `backend` for the enclosing suite (or for each test with `each`), handed to `onOpen`. */
export function useCertificateLedger(
  backend: BackendUnderTest,
  onOpen: (ledger: CertificateLedger) => void,
  options: { each?: boolean } = {},
): void {
  let ledger: CertificateLedger | undefined;
  (options.each === true ? beforeEach : before)(async () => {
    ledger = await openCertificateLedger(backend);
    onOpen(ledger);
  });
  (options.each === true ? afterEach : after)(async () => {
    await ledger?.close();
    ledger = undefined;
  });
}

/**
 * Asserts that `fn` fails with a DomainError of `kind` (its detail matching
 * `message`), by a throw or a rejection: the SQLite repository throws, the
 * PostgreSQL one rejects, and callers await both alike.
 */
export async function assertFailsWith(fn: () => unknown, kind: DomainErrorKind, message?: RegExp): Promise<void> {
  await assert.rejects(
    async () => {
      await fn();
    },
    (error: unknown) => {
      assert.ok(isDomainError(error), `expected DomainError, got ${String(error)}`);
      assert.equal(error.kind, kind, error.message);
      if (message !== undefined) assert.match(error.detail, message);
      return true;
    },
  );
}

/** Every page of a certificate listing, following nextCursor; fails on a loop (more than `maxPages`). */
export async function collectPages(
  certificates: Pick<LedgerBackend['certificates'], 'list'>,
  query: CertificateQuery,
  maxPages: number,
): Promise<{ items: CertificateRecord[]; pages: number }> {
  const items: CertificateRecord[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = await certificates.list(cursor === undefined ? query : { ...query, cursor });
    pages += 1;
    assert.ok(pages < maxPages, 'pagination does not end');
    items.push(...page.items);
    if (page.nextCursor === null) return { items, pages };
    cursor = page.nextCursor;
  }
}
