/**
 * The commit worker's thread (commit-worker.ts starts it): its own connection
 * to the ledger file, so the durable write of issued certificates (the WAL
 * fsync of synchronous=FULL) never runs on the event loop. It writes through
 * the same CertificateRepository as the main connection (same SQL, same
 * checks, same 'conflict' mapping), one request at a time, in the order they
 * arrive, and answers each only after its transaction committed or failed.
 *
 * Messages in: a CommitRequest, or 'stop' (sent after the last request: the
 * port delivers in order, so everything before it has been answered). Out: a
 * CommitReply per request, carrying the error as data (SerializedError) since
 * class identity does not cross threads.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { isDomainError, type DomainErrorKind } from '../shared/errors.js';
import type { NewCertificateRecord } from '../domain/certificates.js';
import { CertificateRepository } from './certificate-repository.js';
import { configureConnection } from './connection.js';

export interface CommitWorkerData {
  readonly path: string;
  /** The main connection's busy_timeout: the worker waits for the write lock as long as the main thread would have. */
  readonly busyTimeoutMs: number;
  readonly walSizeLimitBytes: number;
  /** The schema has spiffe_latest (migrations/0006), which recording a certificate keeps. */
  readonly tracksLatest: boolean;
}

export interface CommitRequest {
  readonly id: number;
  /** 'many': one transaction for all (recordIssuedMany); 'one': exactly one record (recordIssued). */
  readonly mode: 'many' | 'one';
  readonly records: readonly NewCertificateRecord[];
}

export type SerializedError =
  | { readonly type: 'domain'; readonly kind: DomainErrorKind; readonly detail: string }
  | { readonly type: 'sqlite'; readonly code: string; readonly message: string }
  | { readonly type: 'error'; readonly message: string };

export type CommitReply =
  { readonly id: number; readonly ok: true } | { readonly id: number; readonly ok: false; readonly error: SerializedError };

function serializeError(error: unknown): SerializedError {
  if (isDomainError(error)) return { type: 'domain', kind: error.kind, detail: error.detail };
  if (error instanceof Database.SqliteError) return { type: 'sqlite', code: error.code, message: error.message };
  return { type: 'error', message: error instanceof Error ? error.message : String(error) };
}

function isWorkerData(value: unknown): value is CommitWorkerData {
  if (typeof value !== 'object' || value === null) return false;
  const { path, busyTimeoutMs, walSizeLimitBytes, tracksLatest } = value as Record<string, unknown>;
  return (
    typeof path === 'string' &&
    typeof busyTimeoutMs === 'number' &&
    typeof walSizeLimitBytes === 'number' &&
    typeof tracksLatest === 'boolean'
  );
}

/** Between attempts to take the write lock, as SQLite's own busy handler (sqliteDefaultBusyCallback) steps. */
const LOCK_RETRY_DELAYS_MS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/**
 * Runs `write`, retrying it while another connection holds the write lock,
 * for at most `timeoutMs`. SQLite's busy timeout would sleep inside the native
 * call instead, and a thread terminated there (Worker.terminate, a shutdown
 * past its grace) aborts the whole process when better-sqlite3 then builds
 * its SQLITE_BUSY error in the dying isolate. Atomics.wait is interrupted by
 * termination cleanly. A failed attempt committed nothing (BEGIN IMMEDIATE
 * did not get the lock, or the transaction rolled back), so retrying it
 * cannot write a row twice.
 */
function withLockRetries(write: () => void, timeoutMs: number): void {
  const deadline = performance.now() + timeoutMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      write();
      return;
    } catch (error) {
      const isBusy = error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY');
      const left = deadline - performance.now();
      if (!isBusy || left <= 0) throw error;
      const delay = LOCK_RETRY_DELAYS_MS[Math.min(attempt, LOCK_RETRY_DELAYS_MS.length - 1)] ?? 100;
      Atomics.wait(sleeper, 0, 0, Math.min(delay, left));
    }
  }
}

function run(data: CommitWorkerData): void {
  const port = parentPort;
  if (port === null) throw new Error('the commit worker runs as a worker thread');
  // The main thread created and migrated the file; the worker never makes one.
  const db = new Database(data.path, { fileMustExist: true, timeout: data.busyTimeoutMs });
  configureConnection(db, { busyTimeoutMs: data.busyTimeoutMs, readonly: false, walSizeLimitBytes: data.walSizeLimitBytes });
  // From here on lock waits happen in withLockRetries, outside SQLite (see there why).
  db.pragma('busy_timeout = 0');
  // DurableWrites inside raises each of its commits to synchronous=FULL.
  const certificates = new CertificateRepository(db, undefined, data.tracksLatest);

  port.on('message', (message: CommitRequest | 'stop') => {
    if (message === 'stop') {
      db.close();
      port.close();
      return;
    }
    let reply: CommitReply;
    try {
      const [only] = message.records;
      if (message.mode === 'one') {
        if (only === undefined || message.records.length !== 1) throw new Error('a single-row commit carries exactly one record');
        withLockRetries(() => certificates.recordIssued(only), data.busyTimeoutMs);
      } else {
        withLockRetries(() => certificates.recordIssuedMany(message.records), data.busyTimeoutMs);
      }
      reply = { id: message.id, ok: true };
    } catch (error) {
      reply = { id: message.id, ok: false, error: serializeError(error) };
    }
    port.postMessage(reply);
  });
}

if (!isWorkerData(workerData)) throw new Error('the commit worker needs { path, busyTimeoutMs, walSizeLimitBytes, tracksLatest }');
run(workerData);
