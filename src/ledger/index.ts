export { CertificateRepository, type SerialStatus } from './certificate-repository.js';
export { Ledger, openLedger, type LedgerOptions } from './ledger.js';
export { LedgerVersionError } from './migrate.js';
