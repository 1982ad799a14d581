import { isDomainError } from '../shared/errors.js';
import type { CertificateRecord, NewCertificateRecord, RevocationReason } from '../shared/records.js';
import type { CertificateRepository, SerialStatus } from './certificate-repository.js';
import { checkNewRecord, checkSerial } from './certificate-rows.js';

/**
 * Group commit for the certificate ledger. A durable commit waits for the
 * disk (synchronous=FULL), so one row per transaction caps issuance at the
 * disk's sync rate; rows recorded in the same turn of the event loop are
 * queued and written together, one sync for up to `maxBatchRows` of them.
 *
 * Every promise settles only after ITS row's transaction finished: resolved
 * after the commit returned, rejected if it did not. A batch that fails on a
 * row's own fault (a DomainError: a serial or fingerprint already recorded)
 * is retried one row per transaction, so that row's caller gets 'conflict'
 * and the others still land. Any other failure (disk, lock timeout, closed
 * database) is not the row's fault and would hit every retry alike: the whole
 * batch is rejected with it, rather than holding the event loop for one
 * busy-timeout per row.
 *
 * It stands in for the repository as the Authority's CertificateStore; reads
 * and revocations pass straight through.
 */

/** What group commit needs of the repository (CertificateRepository fits; a test may wrap it to count calls). */
export type GroupCommitTarget = Pick<
  CertificateRepository,
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
  readonly #target: GroupCommitTarget;
  readonly #maxBatchRows: number;
  #queue: QueuedRow[] = [];
  /** Serials queued or being written, with a count in case one is queued twice. */
  readonly #pendingSerials = new Map<string, number>();
  #scheduledFlush: NodeJS.Immediate | undefined;
  #isClosed = false;
  #transactions = 0;
  #rowsCommitted = 0;
  #rowsRejected = 0;
  #batchRetries = 0;

  constructor(target: GroupCommitTarget, options: GroupCommitOptions = {}) {
    const maxBatchRows = options.maxBatchRows ?? DEFAULT_MAX_BATCH_ROWS;
    if (!Number.isInteger(maxBatchRows) || maxBatchRows < 1 || maxBatchRows > MAX_MAX_BATCH_ROWS) {
      throw new RangeError(`maxBatchRows must be an integer from 1 to ${MAX_MAX_BATCH_ROWS}`);
    }
    this.#target = target;
    this.#maxBatchRows = maxBatchRows;
  }

  /**
   * Queues a freshly signed certificate; resolves once its row is durably
   * committed. Rejects with 'malformed' at once for a bad record (so it cannot
   * spoil a batch), with 'conflict' for a serial or fingerprint already
   * recorded, and with a plain Error after close().
   */
  recordIssued(record: NewCertificateRecord): Promise<void> {
    if (this.#isClosed) return Promise.reject(new Error('the certificate ledger is closed; nothing more is recorded'));
    try {
      checkNewRecord(record);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ record, resolve, reject });
      this.#pendingSerials.set(record.serial, (this.#pendingSerials.get(record.serial) ?? 0) + 1);
      // setImmediate runs after the current turn's I/O callbacks: everything they queue shares the commit.
      this.#scheduledFlush ??= setImmediate(() => {
        this.#scheduledFlush = undefined;
        this.#drain();
      });
    });
  }

  /** True for serials in the ledger and for those queued but not yet committed (the Authority must not reuse either). */
  isSerialTaken(serial: string): boolean {
    checkSerial(serial);
    return this.#pendingSerials.has(serial) || this.#target.isSerialTaken(serial);
  }

  /** Committed rows only: a queued certificate has not left the process yet. */
  findBySerial(serial: string): CertificateRecord | undefined {
    return this.#target.findBySerial(serial);
  }

  revoke(serial: string, reason: RevocationReason, revokedAt: number): CertificateRecord {
    return this.#target.revoke(serial, reason, revokedAt);
  }

  statusOf(serial: string): SerialStatus | undefined {
    return this.#target.statusOf(serial);
  }

  /** Writes everything queued now; resolves when every queued row's promise has settled. Never rejects. */
  flush(): Promise<void> {
    if (this.#scheduledFlush !== undefined) {
      clearImmediate(this.#scheduledFlush);
      this.#scheduledFlush = undefined;
    }
    this.#drain();
    return Promise.resolve();
  }

  /**
   * Stops accepting rows and COMMITS what is queued (those certificates are
   * signed and their callers are waiting), then resolves. Close the ledger only
   * after this. Later recordIssued calls reject. Idempotent.
   */
  close(): Promise<void> {
    this.#isClosed = true;
    return this.flush();
  }

  stats(): GroupCommitStats {
    return {
      transactions: this.#transactions,
      rowsCommitted: this.#rowsCommitted,
      rowsRejected: this.#rowsRejected,
      batchRetries: this.#batchRetries,
      queued: this.#queue.length,
    };
  }

  /** Synchronous, like the ledger: nothing can be queued while it runs. */
  #drain(): void {
    while (this.#queue.length > 0) {
      this.#writeBatch(this.#queue.splice(0, this.#maxBatchRows));
    }
  }

  #writeBatch(batch: readonly QueuedRow[]): void {
    const [only] = batch;
    if (batch.length === 1 && only !== undefined) {
      this.#writeOne(only);
      return;
    }
    this.#transactions += 1;
    try {
      this.#target.recordIssuedMany(batch.map((row) => row.record));
    } catch (error) {
      if (isDomainError(error)) {
        // One row's fault rolled the batch back: give each row its own transaction and outcome.
        this.#batchRetries += 1;
        for (const row of batch) this.#writeOne(row);
      } else {
        for (const row of batch) this.#reject(row, error);
      }
      return;
    }
    for (const row of batch) this.#resolve(row);
  }

  #writeOne(row: QueuedRow): void {
    this.#transactions += 1;
    try {
      this.#target.recordIssued(row.record);
    } catch (error) {
      this.#reject(row, error);
      return;
    }
    this.#resolve(row);
  }

  /** Only after the row's commit returned. */
  #resolve(row: QueuedRow): void {
    this.#release(row.record.serial);
    this.#rowsCommitted += 1;
    row.resolve();
  }

  #reject(row: QueuedRow, error: unknown): void {
    this.#release(row.record.serial);
    this.#rowsRejected += 1;
    row.reject(error);
  }

  #release(serial: string): void {
    const count = this.#pendingSerials.get(serial) ?? 0;
    if (count <= 1) this.#pendingSerials.delete(serial);
    else this.#pendingSerials.set(serial, count - 1);
  }
}
