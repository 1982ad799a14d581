import { parentPort, workerData } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { buildCrlSet, type BuiltCrlSet, type CrlBuildOrder } from '../ca/index.js';
import { openRevokedReader, type RevokedSummary } from '../ledger/index.js';
import type { CrlIssuer } from '../x509/index.js';

/*
 * The CRL worker thread (src/cli/crl-builder.ts starts one per service and
 * keeps it): a read-only connection of its own reads the revoked, unexpired
 * rows of the issuer over the partial index (WAL: it never blocks the
 * service's writer; it holds no read transaction between requests, so it
 * does not pin the WAL), then src/ca encodes and signs the CRLs. The change
 * check of the periodic refresh runs here too, so at no size does either
 * touch the service's event loop. The issuer key arrives as a cloned
 * KeyObject and is never exported or logged. DER goes back as transferred
 * buffers (no copy on the service's thread).
 */

export interface CrlWorkerSetup {
  readonly databasePath: string;
  /** The issuer Name as the ledger stores it. */
  readonly issuerName: string;
  readonly issuer: CrlIssuer;
  readonly signingKey: KeyObject;
  readonly shardCount: number;
  readonly crlUrl?: string;
}

export type CrlWorkerRequest =
  | { readonly id: number; readonly kind: 'build'; readonly order: CrlBuildOrder }
  | { readonly id: number; readonly kind: 'summary'; readonly now: number };

export type CrlWorkerReply =
  | { readonly id: number; readonly ok: true; readonly kind: 'build'; readonly set: BuiltCrlSet }
  | { readonly id: number; readonly ok: true; readonly kind: 'summary'; readonly summary: RevokedSummary }
  | { readonly id: number; readonly ok: false; readonly message: string };

const setup = workerData as CrlWorkerSetup;
let reader: ReturnType<typeof openRevokedReader> | undefined;

function listing(): ReturnType<typeof openRevokedReader>['listing'] {
  reader ??= openRevokedReader(setup.databasePath);
  return reader.listing;
}

function build(order: CrlBuildOrder): BuiltCrlSet {
  const started = performance.now();
  const rows = listing().revokedUnexpired(setup.issuerName, order.now);
  return buildCrlSet(
    { ...order, issuer: setup.issuer, signingKey: setup.signingKey, shardCount: setup.shardCount, ...(setup.crlUrl === undefined ? {} : { crlUrl: setup.crlUrl }) },
    rows,
    performance.now() - started,
  );
}

function answer(request: CrlWorkerRequest): { reply: CrlWorkerReply; transfer: ArrayBuffer[] } {
  try {
    if (request.kind === 'summary') return { reply: { id: request.id, ok: true, kind: 'summary', summary: listing().summary(setup.issuerName, request.now) }, transfer: [] };
    const set = build(request.order);
    const transfer: ArrayBuffer[] = [];
    for (const built of [set.full, ...set.shards]) if (built.der.buffer instanceof ArrayBuffer && !transfer.includes(built.der.buffer)) transfer.push(built.der.buffer);
    return { reply: { id: request.id, ok: true, kind: 'build', set }, transfer };
  } catch (err) {
    // A broken connection is reopened on the next request.
    reader?.close();
    reader = undefined;
    return { reply: { id: request.id, ok: false, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) }, transfer: [] };
  }
}

parentPort?.on('message', (request: CrlWorkerRequest) => {
  const { reply, transfer } = answer(request);
  parentPort?.postMessage(reply, transfer);
});
