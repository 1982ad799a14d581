import { parentPort, workerData } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { buildCrlSet, type BuiltCrlSet, type CrlBuildOrder } from '../ca/index.js';
import {
  openPostgresRevokedReader,
  openRevokedReader,
  type LedgerLocation,
  type RevokedReader,
  type RevokedSummary,
} from '../ledger/index.js';
import type { CrlIssuer } from '../x509/index.js';

/*
 * The CRL worker thread (src/cli/crl-builder.ts starts one per service and
 * keeps it): a connection of its own reads the revoked, unexpired rows of
 * the issuer over the partial index, then src/ca encodes and signs the CRLs.
 * On SQLite it is a read-only connection (WAL: it never blocks the service's
 * writer; it holds no read transaction between requests, so it does not pin
 * the WAL). On PostgreSQL it is a `pg` connection of the worker's own: the
 * query would not block the event loop, but decoding a result of 100,000
 * rows would (pg parses rows on the thread that asked), so that happens here
 * too. The change
 * check of the periodic refresh runs here too, so at no size does either
 * touch the service's event loop. The issuer key arrives as a cloned
 * KeyObject and is never exported or logged. DER goes back as transferred
 * buffers (no copy on the service's thread).
 */

export interface CrlWorkerSetup {
  /** Where the ledger is: the SQLite file, or PostgreSQL's URL and settings (cloned into the worker; the URL's password never leaves the process). */
  readonly ledger: LedgerLocation;
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

interface OpenReader {
  readonly listing: RevokedReader;
  close(): void | Promise<void>;
}

let reader: OpenReader | undefined;

function openReader(location: LedgerLocation): OpenReader {
  if (location.kind === 'sqlite') return openRevokedReader(location.path);
  const { kind: _kind, ...options } = location;
  return openPostgresRevokedReader(options);
}

function listing(): RevokedReader {
  reader ??= openReader(setup.ledger);
  return reader.listing;
}

async function build(order: CrlBuildOrder): Promise<BuiltCrlSet> {
  const started = performance.now();
  const rows = await listing().revokedUnexpired(setup.issuerName, order.now);
  return buildCrlSet(
    {
      ...order,
      issuer: setup.issuer,
      signingKey: setup.signingKey,
      shardCount: setup.shardCount,
      ...(setup.crlUrl === undefined ? {} : { crlUrl: setup.crlUrl }),
    },
    rows,
    performance.now() - started,
  );
}

async function answer(request: CrlWorkerRequest): Promise<{ reply: CrlWorkerReply; transfer: ArrayBuffer[] }> {
  try {
    if (request.kind === 'summary')
      return {
        reply: { id: request.id, ok: true, kind: 'summary', summary: await listing().summary(setup.issuerName, request.now) },
        transfer: [],
      };
    const set = await build(request.order);
    const transfer: ArrayBuffer[] = [];
    for (const built of [set.full, ...set.shards])
      if (built.der.buffer instanceof ArrayBuffer && !transfer.includes(built.der.buffer)) transfer.push(built.der.buffer);
    return { reply: { id: request.id, ok: true, kind: 'build', set }, transfer };
  } catch (err) {
    // A broken SQLite connection is reopened on the next request; a pg pool replaces a broken connection itself
    // (and closing it here would fail a request that shares it).
    if (setup.ledger.kind === 'sqlite') {
      void reader?.close();
      reader = undefined;
    }
    return {
      reply: { id: request.id, ok: false, message: err instanceof Error ? `${err.name}: ${err.message}` : String(err) },
      transfer: [],
    };
  }
}

parentPort?.on('message', (request: CrlWorkerRequest) => {
  void answer(request).then(({ reply, transfer }) => parentPort?.postMessage(reply, transfer));
});
