import { parentPort, workerData } from 'node:worker_threads';
import { buildCrlSet, type BuiltCrlSet, type CrlBuildParams } from '../ca/index.js';
import { openRevokedReader } from '../ledger/index.js';

/*
 * One CRL build in a worker thread (src/cli/crl-builder.ts starts it): a
 * read-only connection of its own reads the revoked, unexpired rows of the
 * issuer over the partial index (WAL: it never blocks the service's writer),
 * then src/ca encodes and signs the CRLs. The issuer key arrives as a cloned
 * KeyObject and is never exported or logged. The DER goes back as
 * transferred buffers (no copy on the service's thread).
 */

export interface CrlWorkerInput {
  readonly databasePath: string;
  /** The issuer Name as the ledger stores it. */
  readonly issuerName: string;
  readonly params: CrlBuildParams;
}

export type CrlWorkerOutput = { readonly ok: true; readonly set: BuiltCrlSet } | { readonly ok: false; readonly message: string };

function run(input: CrlWorkerInput): BuiltCrlSet {
  const started = performance.now();
  const reader = openRevokedReader(input.databasePath);
  let rows;
  try {
    rows = reader.listing.revokedUnexpired(input.issuerName, input.params.now);
  } finally {
    reader.close();
  }
  return buildCrlSet(input.params, rows, performance.now() - started);
}

const port = parentPort;
if (port !== null) {
  let output: CrlWorkerOutput;
  const transfer: ArrayBuffer[] = [];
  try {
    const set = run(workerData as CrlWorkerInput);
    output = { ok: true, set };
    for (const built of [set.full, ...set.shards]) if (built.der.buffer instanceof ArrayBuffer && !transfer.includes(built.der.buffer)) transfer.push(built.der.buffer);
  } catch (err) {
    output = { ok: false, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
  port.postMessage(output, transfer);
}
