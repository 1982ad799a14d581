/**
 * The WAL checkpointer's thread (checkpoint.ts starts it): its own connection
 * to the ledger, so copying WAL frames into the database file and syncing it
 * never runs on the event loop. Every `everyMs`:
 * - nothing to do when the WAL file is empty, or when no other connection
 *   committed since the last complete checkpoint (PRAGMA data_version; the
 *   file's size alone would not tell, as a restarted log is rewritten in place);
 * - PASSIVE: copy every frame no reader still needs; never waits for anyone;
 * - when that copied everything and the file is over `truncateAboveBytes` (a
 *   long reader pinned it while it grew), TRUNCATE with no busy wait: it resets
 *   the file to zero bytes, or reports busy and is tried again next time.
 * SQLite documents both modes: https://sqlite.org/c3ref/wal_checkpoint_v2.html
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointWorkerData {
  readonly path: string;
  readonly everyMs: number;
  readonly truncateAboveBytes: number;
}

export type CheckpointWorkerMessage =
  | {
      readonly type: 'checkpoint';
      readonly mode: 'PASSIVE' | 'TRUNCATE';
      readonly isComplete: boolean;
      readonly walBytes: number;
      readonly ms: number;
    }
  | { readonly type: 'error'; readonly message: string };

interface CheckpointRow {
  readonly busy: number;
  readonly log: number;
  readonly checkpointed: number;
}

function isWorkerData(value: unknown): value is CheckpointWorkerData {
  if (typeof value !== 'object' || value === null) return false;
  const { path, everyMs, truncateAboveBytes } = value as Record<string, unknown>;
  return typeof path === 'string' && typeof everyMs === 'number' && typeof truncateAboveBytes === 'number';
}

function walBytes(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

function run(data: CheckpointWorkerData): void {
  const port = parentPort;
  if (port === null) throw new Error('the checkpoint worker runs as a worker thread');
  const db = new Database(data.path, { fileMustExist: true, timeout: 0 });
  db.pragma('busy_timeout = 0');
  db.pragma(`journal_size_limit = ${Math.trunc(data.truncateAboveBytes)}`);
  const passive = db.prepare<[], CheckpointRow>('PRAGMA wal_checkpoint(PASSIVE)');
  const truncate = db.prepare<[], CheckpointRow>('PRAGMA wal_checkpoint(TRUNCATE)');
  const dataVersion = db.prepare<[], number>('PRAGMA data_version').pluck();
  /** data_version and WAL size after the last complete checkpoint: both unchanged means nothing to do. */
  let settled: { version: number; bytes: number } | undefined;

  const tick = (): void => {
    const before = walBytes(data.path);
    const version = dataVersion.get() ?? -1;
    if (before === 0 || (settled !== undefined && settled.version === version && settled.bytes === before)) return;
    const started = performance.now();
    const row = passive.get();
    const isComplete = row !== undefined && row.busy === 0 && row.log === row.checkpointed;
    let mode: 'PASSIVE' | 'TRUNCATE' = 'PASSIVE';
    let isTruncated = false;
    if (isComplete && before > data.truncateAboveBytes) {
      mode = 'TRUNCATE';
      const result = truncate.get();
      isTruncated = result !== undefined && result.busy === 0;
    }
    const after = walBytes(data.path);
    settled = isComplete && (isTruncated || mode === 'PASSIVE') ? { version, bytes: after } : undefined;
    const message: CheckpointWorkerMessage = { type: 'checkpoint', mode, isComplete, walBytes: after, ms: performance.now() - started };
    port.postMessage(message);
  };

  const timer = setInterval(() => {
    try {
      tick();
    } catch (error) {
      // SQLITE_BUSY from the TRUNCATE's locks is the ordinary "try again later".
      if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY')) return;
      const message: CheckpointWorkerMessage = { type: 'error', message: error instanceof Error ? error.message : String(error) };
      port.postMessage(message);
    }
  }, data.everyMs);
  port.on('message', (message: unknown) => {
    if (message !== 'stop') return;
    clearInterval(timer);
    db.close();
    port.close();
  });
}

if (!isWorkerData(workerData)) throw new Error('the checkpoint worker needs { path, everyMs, truncateAboveBytes }');
run(workerData);
