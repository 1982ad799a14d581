import type { Awaitable, AwaitableMethods } from '../shared/awaitable.js';
import type { CertificateRepository } from './certificate-repository.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { openLedger, type Ledger } from './ledger.js';
import { findMigrationsDir } from './migrate.js';
import { PostgresDatabase, type PostgresOptions } from './postgres/database.js';
import { PostgresLedger } from './postgres/ledger.js';
import { applyPostgresMigrations, readPostgresMigrations } from './postgres/migrate.js';

/**
 * The ledger as the rest of keysmith sees it, whichever database holds it:
 * the embedded SQLite file (one node) or PostgreSQL (several nodes). Each
 * repository here has the same methods on both backends, with Awaitable
 * results (SQLite answers at once, PostgreSQL later); callers always await.
 * The contract tests (test/unit/ledger/contract) run every repository test on both.
 */
export interface LedgerBackend {
  readonly kind: 'sqlite' | 'postgres';
  /** The schema version the database is at after start-up's migrations. */
  readonly schemaVersion: number;
  /** True when the database answers; never throws (health checks). */
  ping(): Awaitable<boolean>;
  /** The certificate ledger (SQLite CertificateRepository, PostgresCertificateRepository). */
  readonly certificates: AwaitableMethods<CertificateRepository>;
  close(): Awaitable<void>;
}

export type LedgerLocation =
  | { readonly kind: 'sqlite'; readonly path: string; readonly walSizeLimitBytes?: number }
  | ({ readonly kind: 'postgres' } & PostgresOptions);

export interface OpenBackendOptions {
  readonly migrationsDir?: string;
  readonly clock?: Clock;
}

export type OpenedLedger = { readonly kind: 'sqlite'; readonly ledger: Ledger } | { readonly kind: 'postgres'; readonly ledger: PostgresLedger };

/** Opens the ledger where `location` says and applies pending migrations (on PostgreSQL under an advisory lock). */
export async function openLedgerBackend(location: LedgerLocation, options: OpenBackendOptions = {}): Promise<OpenedLedger> {
  const clock = options.clock ?? systemClock;
  if (location.kind === 'sqlite') {
    const ledger = openLedger({
      path: location.path,
      clock,
      ...(options.migrationsDir === undefined ? {} : { migrationsDir: options.migrationsDir }),
      ...(location.walSizeLimitBytes === undefined ? {} : { walSizeLimitBytes: location.walSizeLimitBytes }),
    });
    return { kind: 'sqlite', ledger };
  }
  const migrations = readPostgresMigrations(options.migrationsDir ?? findMigrationsDir());
  const database = new PostgresDatabase(location);
  try {
    const version = await applyPostgresMigrations(database, migrations, clock);
    return { kind: 'postgres', ledger: new PostgresLedger(database, version, clock) };
  } catch (error) {
    await database.close();
    throw error;
  }
}
