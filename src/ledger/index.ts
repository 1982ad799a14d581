export { AcmeRepository } from './acme-repository.js';
export { AlertOutboxRepository } from './alert-outbox.js';
export { LeaseRepository } from './alert-leases.js';
export type {
  AlertChannel,
  AlertDeliveryState,
  AlertPage,
  AlertQuery,
  AlertStatus,
  AlertSummary,
  EnqueuedAlert,
  ExpiryThresholdSpec,
} from './alert-rows.js';
export { CertificateRepository, type SerialStatus } from './certificate-repository.js';
export { DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_WAL_SIZE_LIMIT_BYTES, WalCheckpointer, type CheckpointOptions } from './checkpoint.js';
export { EntryRepository } from './entry-repository.js';
export { DEFAULT_MAX_BATCH_ROWS, GroupCommit, type GroupCommitOptions, type GroupCommitStats, type GroupCommitTarget } from './group-commit.js';
export { JoinTokenRepository, type JoinTokenRedemption } from './join-token-repository.js';
export { Ledger, openLedger, type LedgerOptions } from './ledger.js';
export { LedgerVersionError } from './migrate.js';
export { openRevokedReader, RevokedListing, type RevokedRow, type RevokedSummary } from './revoked-listing.js';
export { openLedgerBackend, type LedgerBackend, type LedgerLocation, type OpenedLedger } from './backend.js';
export { PostgresDatabase, redactUrl, type PostgresOptions, type PostgresSslMode } from './postgres/database.js';
export { PostgresLedger } from './postgres/ledger.js';
export { PostgresCertificateRepository, REVOCATION_CHANNEL } from './postgres/certificate-repository.js';
