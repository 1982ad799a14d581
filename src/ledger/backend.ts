import type { Awaitable, AwaitableMethods } from '../shared/awaitable.js';
import type { AlertOutboxRepository } from './alert-outbox.js';
import type { LeaseRepository } from './alert-leases.js';
import type { CertificateRepository } from './certificate-repository.js';
import type { EntryRepository } from './entry-repository.js';
import type { JoinTokenRepository } from './join-token-repository.js';
import type { CrlNumberRepository } from './crl-number-repository.js';
import type { ClusterCheckRepository } from './cluster-check-repository.js';
import type { AcmeLedgerPorts } from './acme-ledger.js';
import type { OcspResponderRepository } from './ocsp-responder-repository.js';
import type { NonceRepository } from './nonce-repository.js';
import type { RetentionStore } from './retention.js';

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
  /** SVID registration entries (migrations/0003). */
  readonly entries: AwaitableMethods<EntryRepository>;
  /** One-time join tokens, stored as hashes (migrations/0003). */
  readonly joinTokens: AwaitableMethods<JoinTokenRepository>;
  /** The CRL number (RFC 5280 §5.2.3): only grows, across restarts and nodes (migrations/0007). */
  readonly crlNumbers: AwaitableMethods<CrlNumberRepository>;
  /** The delegated OCSP responders nodes share: wrapped keys of `ocsp-signer` certificates, and who issues the next (migrations/0007). */
  readonly ocspResponders: AwaitableMethods<OcspResponderRepository>;
  /** The cluster secret's check value: a node with another `ca/cluster.key` refuses to start (migrations/0007). */
  readonly clusterCheck: AwaitableMethods<ClusterCheckRepository>;
  /** True when the database answers; never throws (health checks). */
  ping(): Awaitable<boolean>;
  /** The certificate ledger (SQLite CertificateRepository, PostgresCertificateRepository). */
  readonly certificates: AwaitableMethods<CertificateRepository>;
  close(): Awaitable<void>;
  /** The expiry-alert outbox (migrations/0002): runs, alerts, deliveries, messages. */
  readonly alerts: AwaitableMethods<AlertOutboxRepository>;
  /** Named leases: one node at a time does what a lease guards (alert runs, the next OCSP responder). */
  readonly leases: AwaitableMethods<LeaseRepository>;
  /** Spent ACME nonces (migrations/0007). */
  readonly nonces: AwaitableMethods<NonceRepository>;
  /** ACME EAB keys, accounts, orders and authorizations with their challenges, a repository each (migrations/0004). */
  readonly acme: AcmeLedgerPorts;
  /** Retention batches (src/ledger/retention.ts, migrations/0009). */
  readonly retention: RetentionStore;
}
