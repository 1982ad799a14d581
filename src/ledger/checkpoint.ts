/**
 * The ledger's WAL checkpoint policy.
 *
 * SQLite's automatic checkpoint runs inside the commit that crosses
 * wal_autocheckpoint pages, on the event loop: copying frames and syncing the
 * database file there stalls every request, and after a long reader (a check, a
 * big listing) let the WAL grow, the first commit afterwards copies all of it
 * at once. And a WAL file never shrinks by itself: it is reused from the start,
 * at its largest size, unless journal_size_limit is set.
 *
 * So, while the service runs: the main connection's automatic checkpoint is off,
 * a worker thread with its own connection checkpoints every `everyMs`
 * (checkpoint-worker.ts: PASSIVE, which never waits for a reader; TRUNCATE
 * once nothing pins the frames and the file is over the limit), and
 * journal_size_limit cuts the file back whenever a writer restarts the log. If
 * the worker fails, the automatic checkpoint comes back on, so the WAL is
 * never left to grow without bound.
 */
import { Worker } from 'node:worker_threads';
import type { CheckpointWorkerData, CheckpointWorkerMessage } from './checkpoint-worker.js';

/** SQLite's default: a checkpoint every 1,000 pages. */
export const DEFAULT_WAL_AUTOCHECKPOINT_PAGES = 1000;
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;
/** The WAL file is cut back to this after a checkpoint (journal_size_limit). */
export const DEFAULT_WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024;

export interface CheckpointOptions {
  /** How often the worker looks at the WAL; default 1 s. */
  readonly everyMs?: number;
  /** Truncate above this size once nothing pins the frames; default 64 MiB (also the journal_size_limit). */
  readonly walSizeLimitBytes?: number;
  readonly onError?: (error: Error) => void;
  /** Each checkpoint the worker made (tests, metrics). */
  readonly onCheckpoint?: (report: Extract<CheckpointWorkerMessage, { type: 'checkpoint' }>) => void;
}

/** What the checkpointer needs of the main connection: turn its own automatic checkpoint off and back on. */
export interface CheckpointedConnection {
  setAutocheckpoint(pages: number): void;
}

export class WalCheckpointer {
  private readonly worker: Worker;
  private isStopped = false;

  constructor(path: string, connection: CheckpointedConnection, options: CheckpointOptions = {}) {
    const everyMs = options.everyMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    const limit = options.walSizeLimitBytes ?? DEFAULT_WAL_SIZE_LIMIT_BYTES;
    if (!Number.isInteger(everyMs) || everyMs < 10) throw new RangeError('the checkpoint interval is at least 10 ms');
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError('the WAL size limit is a non-negative integer of bytes');
    const workerData: CheckpointWorkerData = { path, everyMs, truncateAboveBytes: limit };
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), { workerData });
    // The listener keeps the process alive; the checkpointer alone must not.
    this.worker.unref();
    connection.setAutocheckpoint(0);
    const fallBack = (error: Error): void => {
      if (this.isStopped) return;
      connection.setAutocheckpoint(DEFAULT_WAL_AUTOCHECKPOINT_PAGES);
      options.onError?.(error);
    };
    this.worker.on('message', (message: CheckpointWorkerMessage) => {
      if (message.type === 'error') options.onError?.(new Error(`WAL checkpoint failed: ${message.message}`));
      else options.onCheckpoint?.(message);
    });
    this.worker.on('error', fallBack);
    this.worker.on('exit', (code) => fallBack(new Error(`the WAL checkpoint worker exited (${code})`)));
    this.restore = () => connection.setAutocheckpoint(DEFAULT_WAL_AUTOCHECKPOINT_PAGES);
  }

  private readonly restore: () => void;

  /** Stops the worker and gives the main connection its automatic checkpoint back. */
  async stop(): Promise<void> {
    if (this.isStopped) return;
    this.isStopped = true;
    const exited = new Promise<void>((resolve) => this.worker.once('exit', () => resolve()));
    this.worker.postMessage('stop');
    // A worker stuck in a long checkpoint is not waited for past this.
    const timer = setTimeout(() => void this.worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
    this.restore();
  }
}
