import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedgerBackend, type OpenedLedger } from '../../src/ledger/index.js';
import type { Clock } from '../../src/shared/clock.js';
import { createTestDatabase } from './postgres.js';

/**
 * The two ledger backends, for contract tests: every repository test runs
 * once on a fresh SQLite file and once on a fresh PostgreSQL database.
 *
 *   for (const backend of BACKENDS) describe(backend.name, () => { ... await backend.open() ... });
 */

export interface OpenedTestLedger {
  readonly opened: OpenedLedger;
  /** The SQLite file's path or the PostgreSQL database's URL, for a test that inspects what was written. */
  readonly location: string;
  /** Closes the ledger and removes its file or database. */
  dispose(): Promise<void>;
}

export interface BackendUnderTest {
  readonly name: 'sqlite' | 'postgres';
  open(options?: { readonly clock?: Clock; readonly migrationsDir?: string }): Promise<OpenedTestLedger>;
}

export const SQLITE_BACKEND: BackendUnderTest = {
  name: 'sqlite',
  async open(options = {}) {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-contract-'));
    const path = join(dir, 'ledger.db');
    const opened = await openLedgerBackend({ kind: 'sqlite', path }, options);
    return {
      opened,
      location: path,
      async dispose() {
        await opened.ledger.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const POSTGRES_BACKEND: BackendUnderTest = {
  name: 'postgres',
  async open(options = {}) {
    const database = await createTestDatabase('contract');
    try {
      const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 4 }, options);
      return {
        opened,
        location: database.url,
        async dispose() {
          await opened.ledger.close();
          await database.drop();
        },
      };
    } catch (error) {
      await database.drop();
      throw error;
    }
  },
};

export const BACKENDS: readonly BackendUnderTest[] = [SQLITE_BACKEND, POSTGRES_BACKEND];
