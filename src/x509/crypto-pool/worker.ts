/*
 * A crypto worker (pool.ts): runs CSR checks and leaf signatures on its own
 * thread with synchronous node:crypto calls (no second hop to the libuv
 * pool). The CSR check is csr.ts `parseCsr` unchanged: our bounded DER reader
 * and key policy run before node:crypto sees the key, because a native abort
 * in a worker ends the whole process just as on the main thread.
 */
import { parentPort } from 'node:worker_threads';
import { parseCsr } from '../csr.js';
import { LeafSigner } from '../leaf-signer.js';
import { checkSubjectPublicKey } from '../subject-key.js';
import { toWireError, type CryptoJob, type FromWorker, type JobOutcome, type ToWorker } from './protocol.js';

const port = parentPort;
if (port === null) throw new Error('src/x509/crypto-pool/worker.js runs as a worker thread (pool.ts starts it)');

const signers = new Map<number, LeafSigner>();
/** Work done before the outcomes so far are posted back (one CSR check or leaf signature takes ~0.15-0.3 ms). */
const SLICE_MS = 0.5;

async function run(job: CryptoJob): Promise<JobOutcome> {
  try {
    if (job.kind === 'csr') {
      const csr = await parseCsr(job.csr, { onThisThread: true });
      // A memo hit: parseCsr checked exactly this array.
      return { ok: true, value: { csr, policyKey: checkSubjectPublicKey(csr.publicKey).policyKey } };
    }
    const signer = signers.get(job.issuer);
    if (signer === undefined) throw new Error(`crypto worker: issuer ${job.issuer} was never loaded`);
    const der = signer.signNow(job.tbs);
    signer.checkNow(der, job.expected);
    return { ok: true, value: der };
  } catch (err) {
    return { ok: false, error: toWireError(err) };
  }
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'fail') throw new Error(message.message);
  if (message.type === 'issuer') {
    signers.set(message.issuer, new LeafSigner(message.keys));
    return;
  }
  void (async () => {
    let outcomes: JobOutcome[] = [];
    let sliceStart = performance.now();
    // One at a time: the jobs are CPU-bound on this thread, and the order of outcomes is the order of jobs.
    // Answered in slices of about SLICE_MS of work: a caller whose job is done waits at most that long for
    // the ones after it, and a hop is still shared by the jobs that finished in the same slice.
    for (const job of message.jobs) {
      outcomes.push(await run(job));
      const now = performance.now();
      if (now - sliceStart >= SLICE_MS) {
        const reply: FromWorker = { batch: message.batch, outcomes };
        port.postMessage(reply);
        outcomes = [];
        sliceStart = now;
      }
    }
    if (outcomes.length > 0) {
      const reply: FromWorker = { batch: message.batch, outcomes };
      port.postMessage(reply);
    }
  })();
});
