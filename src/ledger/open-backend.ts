/**
 * Opening the ledger where the configuration says: the SQLite file or PostgreSQL, migrations applied.
 * Apart from backend.ts (the shape both backends share) so that the backends can import that shape
 * without importing the factory that constructs them.
 */
import { systemClock, type Clock } from '../shared/clock.js';
import { openLedger, type Ledger } from './ledger.js';
import { findMigrationsDir } from './migrate.js';
import { PostgresDatabase, type PostgresOptions } from './postgres/database.js';
import { PostgresLedger } from './postgres/ledger.js';
import { applyPostgresMigrations, readPostgresMigrations } from './postgres/migrate.js';

export type LedgerLocation =
  | { readonly kind: 'sqlite'; readonly path: string; readonly walSizeLimitBytes?: number }
  | ({ readonly kind: 'postgres' } & PostgresOptions);

export interface OpenBackendOptions {
  readonly migrationsDir?: string;
  readonly clock?: Clock;
}

export type OpenedLedger =
  { readonly kind: 'sqlite'; readonly ledger: Ledger } | { readonly kind: 'postgres'; readonly ledger: PostgresLedger };

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
