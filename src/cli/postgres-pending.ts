import type { Ledger, OpenedLedger } from '../ledger/index.js';

/**
 * MERGE POINT (issue 12). The one place where the composition root meets
 * what the PostgreSQL ledger does not have yet on this branch: its
 * repositories are ported in parallel (certificates, entries and join
 * tokens, ACME, alerts) and so is a CRL builder over it. Until they land,
 * a node configured with KEYSMITH_DATABASE_URL stops at start with the
 * message below instead of failing somewhere later.
 *
 * At merge: `LedgerRepositories` becomes `Pick<LedgerBackend, ...>` (the
 * Awaitable shapes both backends share), `repositoriesOf` returns
 * `opened.ledger` for both kinds, and `postgresNotReady('the CRL builder')`
 * in compose.ts openRevocation is replaced by the PostgreSQL builder.
 * `grep -rn postgresNotReady src` lists every call.
 */

/** The repositories the front ends and the Authority are given. */
export type LedgerRepositories = Pick<Ledger, 'certificates' | 'entries' | 'joinTokens' | 'acme' | 'alerts' | 'leases'>;

export function postgresNotReady(member: string): never {
  throw new Error(
    `the PostgreSQL ledger has no ${member} in this build of keysmith yet (src/cli/postgres-pending.ts); ` +
      'unset KEYSMITH_DATABASE_URL (databaseUrl) to run on the embedded SQLite ledger',
  );
}

export function repositoriesOf(opened: OpenedLedger): LedgerRepositories {
  if (opened.kind === 'sqlite') return opened.ledger;
  return postgresNotReady('repositories (certificates, entries, join tokens, ACME, alerts)');
}
