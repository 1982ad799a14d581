export { AcmeLedger, type AcmeLedgerPorts } from './acme-ledger.js';
export { AlertOutboxRepository } from './alert-outbox.js';
export { LeaseRepository } from './alert-leases.js';
export type { AlertChannel, AlertStatus, EnqueuedAlert } from '../domain/alerts.js';
export type { AlertDeliveryState, AlertPage, AlertQuery, AlertSummary, ExpiryThresholdSpec } from './alert-rows.js';
export { CertificateRepository, type SerialStatus } from './certificate-repository.js';
export { DEFAULT_CHECKPOINT_INTERVAL_MS, DEFAULT_WAL_SIZE_LIMIT_BYTES, WalCheckpointer, type CheckpointOptions } from './checkpoint.js';
export { EntryRepository } from './entry-repository.js';
export { CommitWorker, type CommitWorkerStats } from './commit-worker.js';
export {
  DEFAULT_MAX_BATCH_ROWS,
  GroupCommit,
  type GroupCommitOptions,
  type GroupCommitStats,
  type GroupCommitTarget,
} from './group-commit.js';
export { JoinTokenRepository, type JoinTokenRedemption } from './join-token-repository.js';
export { Ledger, openLedger, type LedgerOptions } from './ledger.js';
export { LedgerVersionError } from './migrate.js';
export { openRevokedReader, RevokedListing, type RevokedReader, type RevokedRow, type RevokedSummary } from './revoked-listing.js';
export { CrlNumberRepository } from './crl-number-repository.js';
export { CLUSTER_CHECK_BYTES, ClusterCheckRepository, type RecordedClusterCheck } from './cluster-check-repository.js';
export { PostgresClusterCheckRepository } from './postgres/cluster-check-repository.js';
export { OcspResponderRepository, type StoredOcspResponder } from './ocsp-responder-repository.js';
export { openPostgresRevokedReader, PostgresRevokedListing } from './postgres/revoked-listing.js';
export type { LedgerBackend } from './backend.js';
export { openLedgerBackend, type LedgerLocation, type OpenedLedger } from './open-backend.js';
export { PostgresDatabase, redactUrl, type PostgresOptions, type PostgresSslMode } from './postgres/database.js';
export { PostgresLedger } from './postgres/ledger.js';
export { PostgresEntryRepository } from './postgres/entry-repository.js';
export { PostgresJoinTokenRepository } from './postgres/join-token-repository.js';
export { REVOCATION_CHANNEL, RevocationFeed, type FeedErrorContext, type RevocationFeedOptions } from './postgres/revocation-feed.js';
export { isUnavailable } from './postgres/unavailable.js';
export { PostgresAlertOutbox } from './postgres/alert-outbox.js';
export { PostgresLeases } from './postgres/leases.js';
export { NonceRepository } from './nonce-repository.js';
export { MAX_PRUNE_BATCH } from './nonce-rows.js';
export { PostgresNonceRepository } from './postgres/nonce-repository.js';
export { PostgresAcmeLedger } from './postgres/acme-ledger.js';
export { AdvisoryLock, CA_INIT_LOCK_KEY } from './postgres/advisory-lock.js';
export { PostgresCertificateRepository } from './postgres/certificate-repository.js';
export { databaseFiles, tightenDatabaseFiles } from './connection.js';
export {
  countPrunable,
  DEFAULT_MAX_BATCHES_PER_STEP,
  DEFAULT_RETENTION_BATCH,
  pruneLedger,
  SqliteRetention,
  type RetentionHooks,
  type RetentionPolicy,
  type RetentionReport,
  type RetentionStore,
} from './retention.js';
export { MAX_RETENTION_BATCH, RETENTION_STEPS, type RetentionStep } from './retention-sql.js';
export { PostgresRetention } from './postgres/retention.js';
