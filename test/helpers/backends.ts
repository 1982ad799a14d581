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

/** Where a test ledger lives: open a second ledger on it (another node, another process) or look at it raw. */
export type TestLedgerLocation = { readonly kind: 'sqlite'; readonly path: string } | { readonly kind: 'postgres'; readonly url: string };

export interface OpenedTestLedger {
  readonly opened: OpenedLedger;
  readonly location: TestLedgerLocation;
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
    const location = { kind: 'sqlite', path: join(dir, 'ledger.db') } as const;
    const opened = await openLedgerBackend(location, options);
    return {
      opened,
      location,
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
        location: { kind: 'postgres', url: database.url },
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
