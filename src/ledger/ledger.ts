import Database from 'better-sqlite3';
import { systemClock, type Clock } from '../shared/clock.js';
import { AcmeLedger } from './acme-ledger.js';
import { AlertOutboxRepository } from './alert-outbox.js';
import { LeaseRepository } from './alert-leases.js';
import { CertificateRepository } from './certificate-repository.js';
import { CrlNumberRepository } from './crl-number-repository.js';
import { ClusterCheckRepository } from './cluster-check-repository.js';
import { DEFAULT_WAL_SIZE_LIMIT_BYTES, WalCheckpointer, type CheckpointOptions } from './checkpoint.js';
import type { LedgerBackend } from './backend.js';
import { CommitWorker } from './commit-worker.js';
import { configureConnection, createPrivateDatabaseFile } from './connection.js';
import { EntryRepository } from './entry-repository.js';
import { JoinTokenRepository } from './join-token-repository.js';
import { OcspResponderRepository } from './ocsp-responder-repository.js';
import { NonceRepository } from './nonce-repository.js';
import { SqliteRetention } from './retention.js';
import { applyMigrations, checkSchemaVersion, findMigrationsDir, readMigrations } from './migrate.js';

export interface LedgerOptions {
  /** SQLite file; ':memory:' allowed for tests. */
  readonly path: string;
  /** Default: the repository's migrations/ directory, found from this module's location. */
  readonly migrationsDir?: string;
  /** Default 5000. */
  readonly busyTimeoutMs?: number;
  /** Open without writing: the schema must already be current. */
  readonly readonly?: boolean;
  /** Only for times the ledger takes itself (applied_at, a list without `now`). */
  readonly clock?: Clock;
  /** journal_size_limit: the WAL file is cut back to this after a checkpoint; default 64 MiB. */
  readonly walSizeLimitBytes?: number;
}

const DEFAULT_BUSY_TIMEOUT_MS = 5000;
/** migrations/0006 adds spiffe_latest, which recording a certificate keeps. */
const SPIFFE_LATEST_VERSION = 6;

/** One open SQLite ledger and its repositories. Made by openLedger. */
export class Ledger implements LedgerBackend {
  readonly kind = 'sqlite';
  readonly certificates: CertificateRepository;
  /** The expiry-alert outbox (migrations/0002). */
  readonly alerts: AlertOutboxRepository;
  /** Named leases: one process at a time does what a lease guards (alert runs, the next OCSP responder). */
  readonly leases: LeaseRepository;
  /** SVID registration entries (migrations/0003). */
  readonly entries: EntryRepository;
  /** One-time join tokens, stored as hashes (migrations/0003). */
  readonly joinTokens: JoinTokenRepository;
  /** ACME EAB keys, accounts, orders and authorizations with their challenges, a repository each (migrations/0004). */
  readonly acme: AcmeLedger;
  /** The CRL number (migrations/0007). */
  readonly crlNumbers: CrlNumberRepository;
  /** Shared OCSP responder keys (migrations/0007). */
  readonly ocspResponders: OcspResponderRepository;
  /** The cluster secret's check value (migrations/0007). */
  readonly clusterCheck: ClusterCheckRepository;
  /** Spent ACME nonces (migrations/0007): one insert per request, a replay changes nothing. */
  readonly nonces: NonceRepository;
  /** Retention: batches that delete what stopped mattering (retention.ts, migrations/0009). */
  readonly retention: SqliteRetention;
  private readonly selectOne: Database.Statement<[], number>;
  private isClosed = false;
  private checkpointer: WalCheckpointer | undefined;

  constructor(
    private readonly db: Database.Database,
    readonly schemaVersion: number,
    clock: Clock = systemClock,
    private readonly walSizeLimitBytes: number = DEFAULT_WAL_SIZE_LIMIT_BYTES,
  ) {
    this.certificates = new CertificateRepository(db, clock, schemaVersion >= SPIFFE_LATEST_VERSION);
    this.alerts = new AlertOutboxRepository(db);
    this.leases = new LeaseRepository(db);
    this.entries = new EntryRepository(db);
    this.joinTokens = new JoinTokenRepository(db);
    this.crlNumbers = new CrlNumberRepository(db);
    this.ocspResponders = new OcspResponderRepository(db, this.leases);
    this.clusterCheck = new ClusterCheckRepository(db);
    this.nonces = new NonceRepository(db);
    this.retention = new SqliteRetention(db);
    this.acme = new AcmeLedger(db, clock);
    this.selectOne = db.prepare<[], number>('SELECT 1').pluck();
  }

  /** True when the database answers SELECT 1; never throws (health checks). */
  ping(): boolean {
    try {
      return !this.isClosed && this.selectOne.get() === 1;
    } catch {
      return false;
    }
  }

  /**
   * Moves WAL checkpoints off the event loop (checkpoint.ts): a worker thread
   * checkpoints every `everyMs` and the main connection's own automatic
   * checkpoint is off meanwhile. For a file ledger that writes; `serve` calls it.
   */
  startCheckpoints(options: Omit<CheckpointOptions, 'walSizeLimitBytes'> = {}): WalCheckpointer {
    if (this.isClosed || this.db.readonly || this.db.memory) throw new Error('checkpoints run on an open, writable file ledger');
    if (this.checkpointer !== undefined) throw new Error('the checkpointer is already running');
    const db = this.db;
    this.checkpointer = new WalCheckpointer(
      db.name,
      { setAutocheckpoint: (pages) => (db.open ? void db.pragma(`wal_autocheckpoint = ${Math.trunc(pages)}`) : undefined) },
      { ...options, walSizeLimitBytes: this.walSizeLimitBytes },
    );
    return this.checkpointer;
  }

  /**
   * The durable certificate writes on a worker thread with its own connection
   * (commit-worker.ts), same file, same busy timeout; reads and revocations stay
   * here. For a file ledger that writes; the thread starts with the first write.
   */
  commitWorker(): CommitWorker {
    if (this.isClosed || this.db.readonly || this.db.memory) throw new Error('the commit worker writes to an open, writable file ledger');
    const data = {
      path: this.db.name,
      busyTimeoutMs: Number(this.db.pragma('busy_timeout', { simple: true })),
      walSizeLimitBytes: this.walSizeLimitBytes,
      tracksLatest: this.schemaVersion >= SPIFFE_LATEST_VERSION,
    };
    return new CommitWorker(data, this.certificates);
  }

  /** The main connection's automatic checkpoint threshold in pages; 0 while the checkpointer runs. */
  walAutocheckpointPages(): number {
    return Number(this.db.pragma('wal_autocheckpoint', { simple: true }));
  }

  /** Checkpoints the WAL into the main file and closes; idempotent. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    void this.checkpointer?.stop();
    try {
      if (!this.db.readonly && !this.db.memory) this.db.pragma('wal_checkpoint(TRUNCATE)');
    } finally {
      this.db.close();
    }
  }
}

/** Opens the ledger: WAL, busy timeout, foreign keys on, pending migrations applied. */
export function openLedger(options: LedgerOptions): Ledger {
  const migrations = readMigrations(options.migrationsDir ?? findMigrationsDir());
  const isReadonly = options.readonly ?? false;
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  const clock = options.clock ?? systemClock;
  if (!isReadonly) createPrivateDatabaseFile(options.path);
  const db = new Database(options.path, { readonly: isReadonly, fileMustExist: isReadonly, timeout: busyTimeoutMs });
  try {
    const walSizeLimitBytes = options.walSizeLimitBytes ?? DEFAULT_WAL_SIZE_LIMIT_BYTES;
    configureConnection(db, { busyTimeoutMs, readonly: isReadonly, walSizeLimitBytes });
    const version = isReadonly ? checkSchemaVersion(db, options.path, migrations) : applyMigrations(db, options.path, migrations, clock);
    return new Ledger(db, version, clock, walSizeLimitBytes);
  } catch (error) {
    db.close();
    throw error;
  }
}
