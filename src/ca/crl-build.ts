import { createHash, type KeyObject } from 'node:crypto';
import { crlIssuerOf, encodeCrlTbs, issuerFromCertificate, joinCrl, type CrlEntry, type CrlIssuer } from '../x509/index.js';
import type { CaMaterial } from './issuer.js';
import { ecdsaSigner } from './ocsp-signer.js';
import { crlShardOf, crlShardUrl } from './crl-shard.js';

/*
 * One CRL build, as pure work over rows already read: the full CRL and, with
 * shards, one CRL per shard, all signed with the same thisUpdate, nextUpdate
 * and crlNumber. It runs in a worker thread (src/cli/crl-worker.ts), so
 * neither the encoding nor the signature over megabytes of TBS blocks the
 * service's event loop.
 */

/** The intermediate as its CRLs name it: the DER parts (for the build) and the Name as the ledger stores it (for the query). */
export function crlIssuerFor(material: CaMaterial): { readonly issuer: CrlIssuer; readonly issuerName: string } {
  const issuer = issuerFromCertificate(material.intermediate.certDer, material.intermediate.key);
  return { issuer: crlIssuerOf(issuer), issuerName: issuer.nameText };
}

/** What the publisher decides for a build: its dates and number. */
export interface CrlBuildOrder {
  /** The instant "unexpired" is judged at; the change check later asks the ledger about the same instant. */
  readonly now: number;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly crlNumber: number;
}

/** Everything the build needs besides the rows. Crosses to the worker by structured clone (a KeyObject clones). */
export interface CrlBuildParams extends CrlBuildOrder {
  readonly issuer: CrlIssuer;
  readonly signingKey: KeyObject;
  readonly shardCount: number;
  /** The CRL URL certificates name (`<base>/crl`); the shards' Issuing Distribution Points are `<crlUrl>/<n>`. */
  readonly crlUrl?: string;
}

/** One signed CRL of a build. */
export interface BuiltCrl {
  readonly der: Uint8Array;
  readonly entries: number;
  /** Strong ETag: the base64url SHA-256 of the DER, quoted. */
  readonly etag: string;
}

/** A build's result: the full CRL, the shards (empty when unsharded) and the summary the change check compares with. */
export interface BuiltCrlSet extends CrlBuildOrder {
  readonly full: BuiltCrl;
  readonly shards: readonly BuiltCrl[];
  readonly count: number;
  readonly lastRevokedAt: number;
  /** Time spent, for logs and the bench. */
  readonly timings: { readonly readMs: number; readonly encodeMs: number; readonly signMs: number };
}

function compareSerials(a: CrlEntry, b: CrlEntry): number {
  // Equal-length lowercase hex compares as numbers; shorter serials first.
  return a.serial.length - b.serial.length || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);
}

/** Encodes and signs the CRLs of one build from the revoked, unexpired rows of the issuer. */
export function buildCrlSet(params: CrlBuildParams, rows: readonly CrlEntry[], readMs = 0): BuiltCrlSet {
  if (params.shardCount > 1 && params.crlUrl === undefined)
    throw new Error('sharded CRLs need the CRL URL their distribution points hang under');
  let encodeMs = 0;
  let signMs = 0;
  const sign = ecdsaSigner(params.signingKey, params.issuer.curve);
  const signed = (entries: readonly CrlEntry[], distributionPoint?: string): BuiltCrl => {
    const started = performance.now();
    const tbs = encodeCrlTbs(
      {
        thisUpdate: params.thisUpdate,
        nextUpdate: params.nextUpdate,
        crlNumber: params.crlNumber,
        entries,
        ...(distributionPoint === undefined ? {} : { distributionPoint }),
      },
      params.issuer,
    );
    const encoded = performance.now();
    // The ECDSA-Sig-Value X.509 carries (RFC 3279 §2.2.3).
    const der = joinCrl(tbs, params.issuer.curve, sign(tbs));
    const etag = `"${createHash('sha256').update(der).digest('base64url')}"`;
    encodeMs += encoded - started;
    signMs += performance.now() - encoded;
    return { der, entries: entries.length, etag };
  };
  const sorted = [...rows].sort(compareSerials);
  let lastRevokedAt = 0;
  for (const row of sorted) if (row.revokedAt > lastRevokedAt) lastRevokedAt = row.revokedAt;
  const full = signed(sorted);
  const shards: BuiltCrl[] = [];
  if (params.shardCount > 1 && params.crlUrl !== undefined) {
    const buckets: CrlEntry[][] = Array.from({ length: params.shardCount }, () => []);
    for (const row of sorted) buckets[crlShardOf(row.serial, params.shardCount)]?.push(row);
    for (const [shard, entries] of buckets.entries()) shards.push(signed(entries, crlShardUrl(params.crlUrl, shard)));
  }
  return {
    now: params.now,
    thisUpdate: params.thisUpdate,
    nextUpdate: params.nextUpdate,
    crlNumber: params.crlNumber,
    full,
    shards,
    count: sorted.length,
    lastRevokedAt,
    timings: { readMs, encodeMs, signMs },
  };
}
