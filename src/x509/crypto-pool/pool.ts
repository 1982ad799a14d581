/*
 * A pool of worker threads for the CPU-heavy, pure parts of issuance: CSR
 * checks (parse, key policy, import, verify) and leaf signatures with the
 * check of what was signed. What stays on the event loop is what must be
 * ordered there: authorization, the serial, the TBS encoding and the durable
 * ledger write before anything leaves the process (src/ca/authority.ts).
 *
 * Jobs submitted in one turn of the event loop are sent together, one
 * message per worker (split evenly when there are enough), so a batch of 100
 * SVIDs pays a handful of hops rather than 200. A worker that dies (or is
 * stopped) fails its in-flight jobs with `busy` (HTTP 503) and is
 * replaced; a full queue refuses new jobs with `busy` and a
 * Retry-After rather than growing memory.
 */
import { Worker } from 'node:worker_threads';
import { DomainError } from '../../shared/errors.js';
import type { ParsedCsr } from '../csr.js';
import type { LeafExpectation, LeafSigningKeys } from '../leaf-signer.js';
import { rememberCheckedSubjectKey } from '../subject-key.js';
import { fromWireError, type CheckedCsr, type CryptoJob, type FromWorker, type JobOutcome, type ToWorker } from './protocol.js';

export interface CryptoPoolOptions {
  /** Worker threads, at least 1 (0 means no pool: the composition root then keeps the work on the event loop). */
  readonly workers: number;
  /** Jobs queued or in flight at most; one more is refused with `busy`. Default 4096. */
  readonly queueLimit?: number;
  /**
   * Told about a worker's uncaught error (its 'error' event; the worker then
   * exits, its jobs fail with `busy` and it is replaced), so the composition
   * root can log it. Default: nothing.
   */
  readonly onWorkerError?: (error: Error) => void;
}

export const DEFAULT_CRYPTO_QUEUE_LIMIT = 4096;
/** What a refused job tells the client (RFC 9110 §10.2.3 Retry-After): the queue drains in milliseconds. */
const RETRY_AFTER_SECONDS = 1;
/** A worker that dies before it came online is replaced after this, so a broken build cannot spin. */
const RESPAWN_DELAY_MS = 1000;
const MAX_WORKERS = 64;
/** Unanswered batches per worker: one being worked on and the next already waiting in its port. */
const BATCHES_PER_WORKER = 2;

interface Pending {
  readonly job: CryptoJob;
  readonly resolve: (value: CheckedCsr | Uint8Array) => void;
  readonly reject: (err: Error) => void;
  /** Set for leaf jobs: the issuer's keys, sent to a worker before its first job for that issuer. */
  readonly keys?: LeafSigningKeys;
}

interface WorkerSlot {
  readonly worker: Worker;
  isOnline: boolean;
  /** Set on its 'error' (an exit follows) or its 'exit': nothing more is sent to it. */
  hasExited: boolean;
  readonly issuers: Set<number>;
  /** Sent batches not yet answered in full, by batch number, with how many of their jobs were answered (in order). */
  readonly inFlight: Map<number, { readonly chunk: readonly Pending[]; answered: number }>;
  jobsInFlight: number;
}

export class CryptoPool {
  private readonly slots: WorkerSlot[] = [];
  private readonly queueLimit: number;
  private readonly issuerIds = new WeakMap<LeafSigningKeys, number>();
  private nextIssuer = 1;
  private nextBatch = 1;
  private pending: Pending[] = [];
  private queued = 0;
  private isFlushScheduled = false;
  private isClosed = false;
  private readonly workers: number;
  private readonly respawnTimers = new Set<NodeJS.Timeout>();
  private readonly onWorkerError: ((error: Error) => void) | undefined;

  constructor(options: CryptoPoolOptions) {
    if (!Number.isSafeInteger(options.workers) || options.workers < 1 || options.workers > MAX_WORKERS) {
      throw new RangeError(`a crypto pool has 1 to ${MAX_WORKERS} workers, not ${options.workers}`);
    }
    const limit = options.queueLimit ?? DEFAULT_CRYPTO_QUEUE_LIMIT;
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError('queueLimit must be a positive integer');
    this.queueLimit = limit;
    this.workers = options.workers;
    this.onWorkerError = options.onWorkerError;
  }

  /** Worker threads: none before the first job (offline commands never start them), then the configured number until `close`. */
  get size(): number {
    return this.slots.length;
  }

  /** csr.ts `parseCsr` on a worker: the same result, or the same DomainError. */
  async checkCsr(csr: string | Uint8Array): Promise<ParsedCsr> {
    const value = await this.submit({ kind: 'csr', csr });
    if (value instanceof Uint8Array) throw new Error('crypto worker answered a CSR job with bytes');
    rememberCheckedSubjectKey(value.csr.publicKey, value.policyKey);
    return value.csr;
  }

  /** Signs a leaf's TBS with the issuer `keys` and checks the result (leaf-signer.ts); the DER certificate. */
  async signLeaf(keys: LeafSigningKeys, tbs: Uint8Array, expected: LeafExpectation): Promise<Uint8Array> {
    const value = await this.submit({ kind: 'leaf', issuer: this.issuerId(keys), tbs, expected }, keys);
    if (!(value instanceof Uint8Array)) throw new Error('crypto worker answered a leaf job with something else');
    return value;
  }

  /**
   * Ends one worker as a crash would (its in-flight jobs fail with
   * `busy`, a replacement starts): for tests and diagnostics.
   */
  async stopWorker(index: number): Promise<void> {
    const slot = this.slots[index];
    if (slot === undefined) throw new RangeError(`no crypto worker ${index}`);
    await slot.worker.terminate();
  }

  /**
   * Makes one worker throw an uncaught Error with `message`, as a bug in it
   * would ('error', then exit; its in-flight jobs fail with `busy`, a
   * replacement starts): for tests and diagnostics.
   */
  failWorker(index: number, message: string): void {
    const slot = this.slots[index];
    if (slot === undefined) throw new RangeError(`no crypto worker ${index}`);
    const fail: ToWorker = { type: 'fail', message };
    // Held until it exits, as a busy worker is: the caller may be waiting on the report and nothing else.
    slot.worker.ref();
    slot.worker.postMessage(fail);
  }

  /** Fails what is queued or in flight with `busy` and ends every worker; the process can then exit. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    for (const timer of this.respawnTimers) clearTimeout(timer);
    const closing = busy('the crypto workers are shutting down');
    for (const pending of this.pending) pending.reject(closing);
    this.pending = [];
    const slots = this.slots.splice(0);
    for (const slot of slots) this.failInFlight(slot, closing);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
    this.queued = 0;
  }

  private issuerId(keys: LeafSigningKeys): number {
    let id = this.issuerIds.get(keys);
    if (id === undefined) {
      id = this.nextIssuer++;
      this.issuerIds.set(keys, id);
    }
    return id;
  }

  private submit(job: CryptoJob, keys?: LeafSigningKeys): Promise<CheckedCsr | Uint8Array> {
    if (this.isClosed) return Promise.reject(busy('the crypto workers are shut down'));
    if (this.queued >= this.queueLimit) {
      return Promise.reject(busy(`the crypto workers have ${this.queueLimit} jobs queued; retry shortly`));
    }
    this.queued++;
    if (this.slots.length === 0) for (let i = 0; i < this.workers; i++) this.slots.push(this.spawn());
    return new Promise((resolve, reject) => {
      this.pending.push({ job, resolve, reject, ...(keys === undefined ? {} : { keys }) });
      this.scheduleFlush();
    });
  }

  /** After this turn's I/O callbacks and their microtasks: everything submitted meanwhile travels together. */
  private scheduleFlush(): void {
    if (this.isFlushScheduled || this.pending.length === 0) return;
    this.isFlushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.isFlushScheduled = false;
    const pending = this.pending;
    this.pending = [];
    if (pending.length === 0) return;
    const live = this.slots.filter((slot) => !slot.hasExited);
    if (live.length === 0) {
      this.queued -= pending.length;
      const down = busy('no crypto worker is running (one is being restarted); retry');
      for (const p of pending) p.reject(down);
      return;
    }
    // A worker gets a new batch only while it has fewer than BATCHES_PER_WORKER unanswered: the rest wait
    // here and leave together when one is answered, so under load batches grow and hops (each of which
    // wakes a thread that competes with the event loop for a core) stay few.
    const ready = live.filter((slot) => slot.inFlight.size < BATCHES_PER_WORKER);
    if (ready.length === 0) {
      this.pending = pending;
      return;
    }
    // Least loaded first; a flush big enough for every worker is split evenly, a small one goes to one worker.
    const slots = ready.sort((a, b) => a.jobsInFlight - b.jobsInFlight);
    const parts = Math.min(slots.length, Math.max(1, Math.floor(pending.length / 2)));
    const per = Math.ceil(pending.length / parts);
    for (let i = 0; i < parts; i++) {
      const chunk = pending.slice(i * per, (i + 1) * per);
      const slot = slots[i];
      if (chunk.length > 0 && slot !== undefined) this.send(slot, chunk);
    }
  }

  private send(slot: WorkerSlot, chunk: readonly Pending[]): void {
    for (const pending of chunk) {
      const { job, keys } = pending;
      if (job.kind !== 'leaf' || keys === undefined || slot.issuers.has(job.issuer)) continue;
      const load: ToWorker = { type: 'issuer', issuer: job.issuer, keys };
      slot.worker.postMessage(load);
      slot.issuers.add(job.issuer);
    }
    const batch = this.nextBatch++;
    slot.inFlight.set(batch, { chunk, answered: 0 });
    if (slot.jobsInFlight === 0) slot.worker.ref();
    slot.jobsInFlight += chunk.length;
    const message: ToWorker = { type: 'jobs', batch, jobs: chunk.map((pending) => pending.job) };
    try {
      slot.worker.postMessage(message);
    } catch (err) {
      // A job that cannot be cloned (a caller's bug): only this batch fails.
      this.settle(
        slot,
        batch,
        chunk.map(() => ({ ok: false, error: { message: `crypto job could not be sent: ${String(err)}` } })),
      );
    }
  }

  /** The next `outcomes` of `batch`, in job order (a worker answers a batch in one or more slices). */
  private settle(slot: WorkerSlot, batch: number, outcomes: readonly JobOutcome[]): void {
    const sent = slot.inFlight.get(batch);
    if (sent === undefined) return;
    const answered = sent.chunk.slice(sent.answered, sent.answered + outcomes.length);
    sent.answered += answered.length;
    if (sent.answered >= sent.chunk.length) {
      slot.inFlight.delete(batch);
      // Jobs held back while every worker had its batches: they go now, as one batch.
      if (this.pending.length > 0 && !this.isFlushScheduled) this.flush();
    }
    slot.jobsInFlight -= answered.length;
    this.queued -= answered.length;
    // Idle workers do not keep the process alive; busy ones do, so an awaited job is never cut short by exit.
    if (slot.jobsInFlight === 0) slot.worker.unref();
    answered.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (outcome === undefined) pending.reject(new Error('crypto worker answered fewer jobs than it was sent'));
      else if (outcome.ok) pending.resolve(outcome.value);
      else pending.reject(fromWireError(outcome.error));
    });
  }

  private failInFlight(slot: WorkerSlot, error: Error): void {
    for (const sent of slot.inFlight.values()) {
      const unanswered = sent.chunk.slice(sent.answered);
      this.queued -= unanswered.length;
      for (const pending of unanswered) pending.reject(error);
    }
    slot.inFlight.clear();
    slot.jobsInFlight = 0;
  }

  private spawn(): WorkerSlot {
    const worker = new Worker(new URL('./worker.js', import.meta.url));
    const slot: WorkerSlot = { worker, isOnline: false, hasExited: false, issuers: new Set(), inFlight: new Map(), jobsInFlight: 0 };
    worker.on('online', () => {
      slot.isOnline = true;
    });
    worker.on('message', (reply: FromWorker) => this.settle(slot, reply.batch, reply.outcomes));
    // 'error' is followed by 'exit'; the exit handler does the work once. The error is only reported.
    worker.on('error', (error: unknown) => {
      // It is on its way out: nothing more is sent to it (#flush skips it) before 'exit' fails what it holds.
      slot.hasExited = true;
      this.reportWorkerError(error);
    });
    worker.on('exit', (code) => this.onExit(slot, code));
    // After the listeners (adding a 'message' listener refs the port again): idle, it does not hold the process.
    worker.unref();
    return slot;
  }

  private reportWorkerError(error: unknown): void {
    const report = this.onWorkerError;
    if (report === undefined) return;
    try {
      report(error instanceof Error ? error : new Error(`a crypto worker threw a non-Error value (${typeof error})`));
    } catch {
      // A failing reporter must not stop the exit handler from failing the jobs and replacing the worker.
    }
  }

  private onExit(slot: WorkerSlot, code: number): void {
    slot.hasExited = true;
    this.failInFlight(slot, busy(`a crypto worker stopped (exit code ${code}); retry`));
    const index = this.slots.indexOf(slot);
    if (this.isClosed || index < 0) return;
    if (slot.isOnline) {
      this.slots[index] = this.spawn();
      this.scheduleFlush();
      return;
    }
    // It never started: wait before trying again, and keep the slot so jobs do not pile onto the others.
    const timer = setTimeout(() => {
      this.respawnTimers.delete(timer);
      const at = this.slots.indexOf(slot);
      if (!this.isClosed && at >= 0) {
        this.slots[at] = this.spawn();
        this.scheduleFlush();
      }
    }, RESPAWN_DELAY_MS);
    timer.unref();
    this.respawnTimers.add(timer);
  }
}

/** keysmith at capacity, not its database: `busy` (HTTP 503 service-busy, ACME serverInternal 503), with Retry-After. */
function busy(detail: string): DomainError {
  return new DomainError('busy', detail, { retryAfterSeconds: RETRY_AFTER_SECONDS });
}
