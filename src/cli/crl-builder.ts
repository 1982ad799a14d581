import { Worker } from 'node:worker_threads';
import type { BuiltCrlSet, CrlBuilder, CrlBuildOrder, RevokedSetProbe } from '../ca/index.js';
import type { RevokedSummary } from '../ledger/index.js';
import type { CrlWorkerReply, CrlWorkerRequest, CrlWorkerSetup } from './crl-worker.js';

/** What every build of one service shares: where the ledger is (SQLite or PostgreSQL), whose CRL, how it is laid out. */
export interface CrlBuildSetup extends CrlWorkerSetup {
  /** A build or check that takes longer is abandoned (the worker is terminated and restarted) and reported; default 120 s. */
  readonly timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 120_000;
const WORKER_URL = new URL('./crl-worker.js', import.meta.url);

interface Pending {
  readonly resolve: (reply: CrlWorkerReply) => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Builds CRLs and answers the periodic change check in one long-lived worker
 * thread (src/cli/crl-worker.ts): nothing of either runs on the event loop.
 * The worker starts on first use, is unref'd (it never keeps the process
 * alive), and is replaced if it fails or a request outlives the timeout.
 * One thread for the life of the service: starting and tearing down a thread
 * per build cost the event loop up to ~100 ms (isolate teardown), measured.
 */
export class WorkerCrlBuilder implements CrlBuilder, RevokedSetProbe {
  private readonly setup: CrlBuildSetup;
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  constructor(setup: CrlBuildSetup) {
    this.setup = setup;
  }

  async build(order: CrlBuildOrder): Promise<BuiltCrlSet> {
    const reply = await this.ask({ id: this.nextId++, kind: 'build', order });
    if (reply.ok && reply.kind === 'build') return reply.set;
    throw new Error(`the CRL build failed: ${reply.ok ? 'unexpected reply' : reply.message}`);
  }

  /** The change check, off the event loop (the revoked summary over the worker's connection, either backend). */
  async revokedSummary(_issuer: string, now: number): Promise<RevokedSummary> {
    const reply = await this.ask({ id: this.nextId++, kind: 'summary', now });
    if (reply.ok && reply.kind === 'summary') return reply.summary;
    throw new Error(`the CRL change check failed: ${reply.ok ? 'unexpected reply' : reply.message}`);
  }

  /** Ends the worker (shutdown). */
  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll(new Error('the CRL worker was closed'));
    if (worker !== undefined) await worker.terminate();
  }

  private ask(request: CrlWorkerRequest): Promise<CrlWorkerReply> {
    const worker = this.ensureWorker();
    const timeoutMs = this.setup.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(request.id);
        reject(new Error(`the CRL worker did not answer within ${timeoutMs} ms; it is restarted`));
        this.discard(worker);
      }, timeoutMs);
      timer.unref();
      this.pending.set(request.id, { resolve, reject, timer });
      worker.postMessage(request);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker !== undefined) return this.worker;
    const { timeoutMs, ...setup } = this.setup;
    // On PostgreSQL the listing of a large CRL may take longer than the service's statement timeout; the build's own timeout bounds it.
    const ledger =
      setup.ledger.kind === 'postgres' ? { ...setup.ledger, statementTimeoutMs: timeoutMs ?? DEFAULT_TIMEOUT_MS } : setup.ledger;
    const worker = new Worker(WORKER_URL, { workerData: { ...setup, ledger } satisfies CrlWorkerSetup });
    worker.unref();
    worker.on('message', (reply: CrlWorkerReply) => {
      const pending = this.pending.get(reply.id);
      if (pending === undefined) return;
      this.pending.delete(reply.id);
      clearTimeout(pending.timer);
      pending.resolve(reply);
    });
    worker.once('error', (err) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(err);
    });
    worker.once('exit', (code) => {
      if (this.worker === worker) this.worker = undefined;
      this.failAll(new Error(`the CRL worker exited with code ${code}`));
    });
    this.worker = worker;
    return worker;
  }

  private discard(worker: Worker): void {
    if (this.worker === worker) this.worker = undefined;
    void worker.terminate();
  }

  private failAll(err: Error): void {
    for (const [id, pending] of this.pending) {
      clearTimeout(pending.timer);
      this.pending.delete(id);
      pending.reject(err);
    }
  }
}
