import type { OpenedLedger } from '../../../../src/ledger/index.js';

/** Empties the alert and certificate tables (PostgreSQL only: a property test reuses one database across its runs). */
export async function emptyPostgresLedger(opened: OpenedLedger): Promise<void> {
  if (opened.kind !== 'postgres') throw new Error('emptyPostgresLedger is for PostgreSQL');
  // DELETE, not TRUNCATE: on a few dozen rows it is several times faster (TRUNCATE makes new files for each table).
  await opened.ledger.database.transaction(async (tx) => {
    for (const table of [
      'alert_deliveries',
      'alert_messages',
      'alerts',
      'alert_runs',
      'leases',
      'certificate_names',
      'spiffe_latest',
      'certificates',
    ]) {
      await tx.run(`DELETE FROM ${table}`);
    }
  });
}
