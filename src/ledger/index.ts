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
export { Ledger, openLedger, type LedgerOptions } from './ledger.js';
export { LedgerVersionError } from './migrate.js';
