/**
 * The SQLite ledger's durable certificate writes, off the event loop.
 *
 * A synchronous=FULL commit waits for the disk (the WAL fsync). Run on the
 * main connection, that wait holds the event loop: no TLS, no HTTP, no other
 * request moves, and no row can join the next batch while one is committing.
 * Here a worker thread (commit-worker-thread.ts) with its own connection to
 * the same file does the commits; the main thread only posts rows and waits
 * for the answer. In front of it GroupCommit keeps its contract: one batch in
 * flight, rows arriving meanwhile join the next batch (up to maxBatchRows),
 * a batch broken by one row's conflict retried one row per transaction.
 *
 * "Committed before it leaves the process": recordIssued / recordIssuedMany
 * resolve only after the worker reported ITS transaction committed. The
 * worker answers after the commit returned, and a read transaction the main
 * connection starts after that sees the row (WAL: a reader sees every commit
 * that finished before its transaction began).
 *
 * The worker dying (a crash, terminate()) rejects every request it had not
 * answered with DomainError('unavailable') (HTTP 503: nothing is handed out),
 * and the next request starts a new worker. A request in flight when the
 * worker died is NOT sent again: it may have committed just before the
 * death, and a second attempt would then fail on its own serial or, worse,
 * make the caller believe a fresh commit happened. Its certificate is simply
 * never handed out.
 *
 * Reads and revocations are not this module's: they pass to the main
 * connection's repository.
 */
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import type { CertificateRecord, NewCertificateRecord, RevocationReason } from '../domain/certificates.js';
import type { CertificateRepository, SerialStatus } from './certificate-repository.js';
import type { CommitReply, CommitRequest, CommitWorkerData, SerializedError } from './commit-worker-thread.js';
import type { GroupCommitTarget } from './group-commit.js';

/** How long close() waits for the worker to finish its current commit (a lock wait is at most busy_timeout) before ending it. */
const STOP_GRACE_MS = 30_000;

/** What the commit worker needs of the main connection's repository: the reads and the revocation it passes through. */
export type MainCertificateReads = Pick<CertificateRepository, 'isSerialTaken' | 'findBySerial' | 'revoke' | 'statusOf'>;

export interface CommitWorkerStats {
  /** Worker threads started so far (1 after the first write; more after a worker died). */
  readonly workersStarted: number;
  /** Workers that ended without being asked to stop. */
  readonly workersLost: number;
  /** Requests posted and not yet answered. */
  readonly inFlight: number;
}

interface PendingRequest {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

interface RunningWorker {
  readonly thread: Worker;
  /** Set by close(): its exit is the expected one. */
  isStopping: boolean;
  /** The last 'error' event, named in the rejections when it exits. */
  failure: Error | undefined;
}

export class CommitWorker implements GroupCommitTarget {
  private readonly data: CommitWorkerData;
  private readonly main: MainCertificateReads;
  private readonly pending = new Map<number, PendingRequest>();
  private running: RunningWorker | undefined;
  private nextId = 1;
  private isClosed = false;
  private closing: Promise<void> | undefined;
  private workersStarted = 0;
  private workersLost = 0;

  /** Starts no thread yet: the first write does (offline commands that only read never pay for one). */
  constructor(data: CommitWorkerData, main: MainCertificateReads) {
    if (!Number.isInteger(data.busyTimeoutMs) || data.busyTimeoutMs < 0) throw new RangeError('busyTimeoutMs is a non-negative integer');
    this.data = data;
    this.main = main;
  }

  /**
   * One durable transaction for `record`, in the worker; 'conflict' for a serial or fingerprint
   * already recorded. The record is checked there, by the same repository code ('malformed'):
   * GroupCommit checked it already before queueing, and the main thread need not pay twice.
   */
  recordIssued(record: NewCertificateRecord): Promise<void> {
    return this.post('one', [record]);
  }

  /** One durable transaction for all of `records` (all or nothing), in the worker. */
  recordIssuedMany(records: readonly NewCertificateRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.post('many', records);
  }

  isSerialTaken(serial: string): boolean {
    return this.main.isSerialTaken(serial);
  }

  findBySerial(serial: string): CertificateRecord | undefined {
    return this.main.findBySerial(serial);
  }

  revoke(serial: string, reason: RevocationReason, revokedAt: number): CertificateRecord {
    return this.main.revoke(serial, reason, revokedAt);
  }

  statusOf(serial: string): SerialStatus | undefined {
    return this.main.statusOf(serial);
  }

  stats(): CommitWorkerStats {
    return { workersStarted: this.workersStarted, workersLost: this.workersLost, inFlight: this.pending.size };
  }

  /**
   * Ends the worker thread at once, as a crash would: what it had not
   * answered is rejected with 'unavailable', and the next write starts a new
   * worker. For tests and for a worker stuck past every timeout. The thread
   * ends when it next runs JavaScript or waits for a lock (its lock waits are
   * interruptible, see commit-worker-thread.ts); a commit already inside
   * SQLite finishes first. Caveat (better-sqlite3): a SQLite call that FAILS
   * while its thread is being terminated aborts the process, so this is not
   * for routine use; the window is a failing statement's own duration.
   */
  async kill(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    await running.thread.terminate();
  }

  /**
   * Stops the worker after it answered everything posted before (the port
   * delivers in order), then resolves. Drain GroupCommit first (its close()):
   * rows still queued there would find the worker gone. Later writes reject.
   * Idempotent.
   */
  close(): Promise<void> {
    this.isClosed = true;
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    const running = this.running;
    if (running === undefined) return;
    running.isStopping = true;
    // Keep the process alive until the worker has closed its connection.
    running.thread.ref();
    const exited = new Promise<void>((resolve) => running.thread.once('exit', () => resolve()));
    running.thread.postMessage('stop');
    const timer = setTimeout(() => void running.thread.terminate(), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  }

  private post(mode: CommitRequest['mode'], records: readonly NewCertificateRecord[]): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('the ledger commit worker is closed; nothing more is recorded'));
    const running = this.running ?? this.start();
    const id = this.nextId++;
    const request: CommitRequest = { id, mode, records };
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // While a caller waits for an answer the thread keeps the process alive (an offline command awaiting its commit).
      if (this.pending.size === 1) running.thread.ref();
      running.thread.postMessage(request);
    });
  }

  private start(): RunningWorker {
    const thread = new Worker(new URL('./commit-worker-thread.js', import.meta.url), { workerData: this.data });
    const running: RunningWorker = { thread, isStopping: false, failure: undefined };
    this.running = running;
    this.workersStarted += 1;
    thread.unref();
    thread.on('message', (reply: CommitReply) => this.answer(reply));
    thread.on('error', (error) => {
      running.failure = error;
    });
    thread.on('exit', (code) => this.exited(running, code));
    return running;
  }

  private answer(reply: CommitReply): void {
    const pending = this.pending.get(reply.id);
    if (pending === undefined) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) this.running?.thread.unref();
    if (reply.ok) pending.resolve();
    else pending.reject(deserializeError(reply.error));
  }

  /** Whatever the worker had not answered can no longer be confirmed: rejected, never re-sent (it may have committed). */
  private exited(running: RunningWorker, code: number): void {
    if (this.running === running) this.running = undefined;
    if (!running.isStopping) this.workersLost += 1;
    if (this.pending.size === 0) return;
    const cause = running.failure ?? new Error(`the ledger commit worker exited with code ${code}`);
    const detail =
      `the ledger commit worker stopped before confirming the commit (${cause.message}); ` +
      'the certificate was not handed out, ask again';
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const request of pending) request.reject(new DomainError('unavailable', detail, { cause }));
  }
}

/** The worker's error as the main connection would have thrown it: the same DomainError kinds, SqliteError codes. */
function deserializeError(error: SerializedError): Error {
  switch (error.type) {
    case 'domain':
      return new DomainError(error.kind, error.detail);
    case 'sqlite':
      return new Database.SqliteError(error.message, error.code);
    case 'error':
      return new Error(error.message);
  }
}
