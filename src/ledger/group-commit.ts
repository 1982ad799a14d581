import type { Awaitable, AwaitableMethods } from '../shared/awaitable.js';
import { isPromise } from '../shared/awaitable-flow.js';
import { isDomainError } from '../shared/errors.js';
import type { CertificateRecord, NewCertificateRecord, RevocationReason } from '../domain/certificates.js';
import type { CertificateRepository, SerialStatus } from './certificate-repository.js';
import { checkNewRecord, checkSerial } from './certificate-rows.js';

/**
 * Group commit for the certificate ledger. A durable commit waits for the
 * disk (SQLite synchronous=FULL; PostgreSQL's WAL flush, plus a round trip),
 * so one row per transaction caps issuance at the commit rate; rows recorded
 * in the same turn of the event loop are queued and written together, one
 * commit for up to `maxBatchRows` of them. With an asynchronous target, rows
 * recorded while a batch is in flight wait for it and go in the next one, so
 * batches grow with the load.
 *
 * Every promise settles only after ITS row's transaction finished: resolved
 * after the commit returned, rejected if it did not. A batch that fails on a
 * row's own fault (DomainError 'conflict': a serial or fingerprint already
 * recorded) is retried one row per transaction, so that row's caller gets
 * 'conflict' and the others still land. Any other failure (disk, lock
 * timeout, closed database, the database or the commit worker gone: 503) is
 * not the row's fault and would hit every retry alike: the whole batch is
 * rejected with it, never retried (a batch whose commit was not confirmed may
 * have committed; it must not be written twice).
 *
 * The target answers synchronously (the SQLite repository itself: the whole
 * drain then runs at once, on the event loop) or with promises: PostgreSQL's
 * pool, or on SQLite the commit worker (commit-worker.ts), which commits on
 * a thread of its own so the disk wait never holds the event loop. `serve`
 * and every command use the asynchronous ones.
 *
 * It stands in for the repository as the Authority's CertificateStore; reads
 * and revocations pass straight through.
 */

/** What group commit needs of the repository (either backend's fits; a test may wrap it to count calls). */
export type GroupCommitTarget = Pick<
  AwaitableMethods<CertificateRepository>,
  'recordIssued' | 'recordIssuedMany' | 'isSerialTaken' | 'findBySerial' | 'revoke' | 'statusOf'
>;

export interface GroupCommitOptions {
  /** Rows per durable transaction, 1..10,000 (default 256); a longer queue is written in several. */
  readonly maxBatchRows?: number;
}

/** Counters since construction, for metrics. */
export interface GroupCommitStats {
  /** Durable transactions attempted (batches, and single rows of a retried batch). */
  readonly transactions: number;
  readonly rowsCommitted: number;
  readonly rowsRejected: number;
  /** Batches that failed on a row's fault and were retried one row per transaction. */
  readonly batchRetries: number;
  /** Rows waiting for the next flush. */
  readonly queued: number;
}

export const DEFAULT_MAX_BATCH_ROWS = 256;
const MAX_MAX_BATCH_ROWS = 10_000;

interface QueuedRow {
  readonly record: NewCertificateRecord;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class GroupCommit {
  private readonly target: GroupCommitTarget;
  private readonly maxBatchRows: number;
  private queue: QueuedRow[] = [];
  /** Serials queued or being written, with a count in case one is queued twice. */
  private readonly pendingSerials = new Map<string, number>();
  private scheduledFlush: NodeJS.Immediate | undefined;
  /** The asynchronous drain under way (PostgreSQL, the commit worker), if any. */
  private inFlight: Promise<void> | undefined;
  private isClosed = false;
  private transactions = 0;
  private rowsCommitted = 0;
  private rowsRejected = 0;
  private batchRetries = 0;

  constructor(target: GroupCommitTarget, options: GroupCommitOptions = {}) {
    const maxBatchRows = options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS;
    if (!Number.isInteger(maxBatchRows) || maxBatchRows < 1 || maxBatchRows > MAX_MAX_BATCH_ROWS) {
      throw new RangeError(`maxBatchRows must be an integer from 1 to ${MAX_MAX_BATCH_ROWS}`);
    }
    this.target = target;
    this.maxBatchRows = maxBatchRows;
  }

  /**
   * Queues a freshly signed certificate; resolves once its row is durably
   * committed. Rejects with 'malformed' at once for a bad record (so it cannot
   * spoil a batch), with 'conflict' for a serial or fingerprint already
   * recorded, and with a plain Error after close().
   */
  recordIssued(record: NewCertificateRecord): Promise<void> {
    if (this.isClosed) return Promise.reject(new Error('the certificate ledger is closed; nothing more is recorded'));
    try {
      checkNewRecord(record);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      this.pendingSerials.set(record.serial, (this.pendingSerials.get(record.serial) ?? 0) + 1);
      // setImmediate runs after the current turn's I/O callbacks: everything they queue shares the commit.
      this.scheduledFlush ??= setImmediate(() => {
        this.scheduledFlush = undefined;
        void this.drain();
      });
    });
  }

  /** True for serials in the ledger and for those queued but not yet committed (the Authority must not reuse either). */
  isSerialTaken(serial: string): Awaitable<boolean> {
    checkSerial(serial);
    return this.pendingSerials.has(serial) || this.target.isSerialTaken(serial);
  }

  /** Committed rows only: a queued certificate has not left the process yet. */
  findBySerial(serial: string): Awaitable<CertificateRecord | undefined> {
    return this.target.findBySerial(serial);
  }

  revoke(serial: string, reason: RevocationReason, revokedAt: number): Awaitable<CertificateRecord> {
    return this.target.revoke(serial, reason, revokedAt);
  }

  statusOf(serial: string): Awaitable<SerialStatus | undefined> {
    return this.target.statusOf(serial);
  }

  /**
   * Writes everything queued now (on SQLite before it returns); resolves when
   * every queued row's promise has settled. Never rejects.
   */
  flush(): Promise<void> {
    if (this.scheduledFlush !== undefined) {
      clearImmediate(this.scheduledFlush);
      this.scheduledFlush = undefined;
    }
    return this.drain() ?? Promise.resolve();
  }

  /**
   * Stops accepting rows and COMMITS what is queued (those certificates are
   * signed and their callers are waiting), then resolves. Close the ledger only
   * after this. Later recordIssued calls reject. Idempotent.
   */
  close(): Promise<void> {
    this.isClosed = true;
    return this.flush();
  }

  stats(): GroupCommitStats {
    return {
      transactions: this.transactions,
      rowsCommitted: this.rowsCommitted,
      rowsRejected: this.rowsRejected,
      batchRetries: this.batchRetries,
      queued: this.queue.length,
    };
  }

  /**
   * Writes the queue, batch after batch, one batch in flight at a time (rows
   * commit in call order). With a synchronous target (the SQLite repository) it
   * runs to the end at once and returns undefined: nothing can be queued
   * meanwhile. With an asynchronous one (PostgreSQL, the commit worker) it returns a promise that settles when
   * the queue is empty; rows queued while a batch is in flight join the next
   * batch, so batches grow with the load (one round trip each, not one per row).
   */
  private drain(): Promise<void> | undefined {
    if (this.inFlight !== undefined) return this.inFlight;
    while (this.queue.length > 0) {
      const written = this.writeBatch(this.queue.splice(0, this.maxBatchRows));
      if (written !== undefined) {
        const inFlight = written.then(() => {
          this.inFlight = undefined;
          return this.drain();
        });
        this.inFlight = inFlight;
        return inFlight;
      }
    }
    return undefined;
  }

  /** Never rejects: every outcome goes to the rows' own promises. */
  private writeBatch(batch: readonly QueuedRow[]): Promise<void> | undefined {
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) return this.writeOne(only);
    this.transactions += 1;
    let written: Awaitable<void>;
    try {
      written = this.target.recordIssuedMany(batch.map((row) => row.record));
    } catch (error) {
      return this.batchFailed(batch, error);
    }
    if (isPromise(written)) {
      return written.then(
        () => this.resolveAll(batch),
        (error: unknown) => this.batchFailed(batch, error),
      );
    }
    this.resolveAll(batch);
    return undefined;
  }

  private batchFailed(batch: readonly QueuedRow[], error: unknown): Promise<void> | undefined {
    // Only a conflict names a row at fault; 'unavailable' (the database or the worker gone) hits every row alike.
    if (isDomainError(error, 'conflict')) {
      // One row's fault rolled the batch back: give each row its own transaction and outcome.
      this.batchRetries += 1;
      return this.writeEach(batch, 0);
    }
    for (const row of batch) this.reject(row, error);
    return undefined;
  }

  /** One transaction per row from `from` on, in order. */
  private writeEach(batch: readonly QueuedRow[], from: number): Promise<void> | undefined {
    for (let index = from; index < batch.length; index++) {
      const row = batch[index];
      if (row === undefined) continue;
      const written = this.writeOne(row);
      if (written !== undefined) return written.then(() => this.writeEach(batch, index + 1));
    }
    return undefined;
  }

  private writeOne(row: QueuedRow): Promise<void> | undefined {
    this.transactions += 1;
    let written: Awaitable<void>;
    try {
      written = this.target.recordIssued(row.record);
    } catch (error) {
      this.reject(row, error);
      return undefined;
    }
    if (isPromise(written)) {
      return written.then(
        () => this.resolve(row),
        (error: unknown) => this.reject(row, error),
      );
    }
    this.resolve(row);
    return undefined;
  }

  private resolveAll(batch: readonly QueuedRow[]): void {
    for (const row of batch) this.resolve(row);
  }

  /** Only after the row's commit returned. */
  private resolve(row: QueuedRow): void {
    this.release(row.record.serial);
    this.rowsCommitted += 1;
    row.resolve();
  }

  private reject(row: QueuedRow, error: unknown): void {
    this.release(row.record.serial);
    this.rowsRejected += 1;
    row.reject(error);
  }

  private release(serial: string): void {
    const count = this.pendingSerials.get(serial) ?? 0;
    if (count <= 1) this.pendingSerials.delete(serial);
    else this.pendingSerials.set(serial, count - 1);
  }
}
