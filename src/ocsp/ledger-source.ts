import { createHash } from 'node:crypto';
import type { Awaitable } from '../shared/awaitable.js';
import { allAwaitable, isPromise, mapAwaitable, recoverAwaitable } from '../shared/awaitable-flow.js';
import type { Clock } from '../shared/clock.js';
import { DomainError, isDomainError } from '../shared/errors.js';
import {
  describeCertificate,
  ocspIssuerHashes,
  type CertIdHash,
  type IssuerHashes,
  type OcspCertId,
  type OcspCertStatus,
  type OcspSingleResponse,
} from '../x509/index.js';
import type { OcspCertificateRow, OcspLedger, OcspResponseSigner } from './ports.js';
import type { OcspRequest } from './request.js';
import type { CacheFacts, OcspResponse, Source } from './source.js';

export interface LedgerSourceOptions {
  readonly ledger: OcspLedger;
  readonly signer: OcspResponseSigner;
  /** DER of the CA whose certificates this source answers for (the online intermediate). */
  readonly issuerCertificate: Uint8Array;
  readonly clock: Clock;
  /** nextUpdate - thisUpdate of a fresh response; default 1 h. Cached responses are re-signed after half of it. */
  readonly validityMs?: number;
  /**
   * Pre-signed responses kept in memory; the oldest goes first. Default 120,000: ~1.1 KB each with a
   * POST and a GET key (bench/ledger/ocsp-cache.ts), so ~130 MB holds a fleet's ~100,000 live certificates.
   */
  readonly maxCachedResponses?: number;
  /**
   * How a cached response is known to be still true when it is asked for again.
   * - 'ledger-read' (the default; SQLite): one indexed status read per hit (~6 µs on
   *   the local file), which also catches a revocation the offline CLI wrote behind
   *   the server's back.
   * - 'revocation-feed' (PostgreSQL): no read at all. The caller must call `drop`
   *   for every serial revoked anywhere in the cluster (RevocationFeed: NOTIFY within
   *   ~1 s, a catch-up poll after a reconnect, a safety poll every 5 s). A read per
   *   hit would be a round trip, and would fail exactly when the database is down,
   *   while a cached answer must keep being served. In this mode a response past its
   *   refresh point is also served, until its nextUpdate, when re-signing fails
   *   because the ledger cannot be reached.
   */
  readonly cacheCheck?: OcspCacheCheck;
}

export type OcspCacheCheck = 'ledger-read' | 'revocation-feed';

export const DEFAULT_OCSP_VALIDITY_MS = 3_600_000;
const DEFAULT_MAX_CACHED = 120_000;
/** Keys remembered per cached response: request bytes and GET paths, in the encodings clients actually send. */
const MAX_REQUEST_ALIASES = 8;

/** One pre-signed response for one certificate and one CertID encoding. */
interface Entry {
  readonly serial: string;
  /** The ledger status it was signed for: any other status on a later read means it is stale. */
  readonly ledgerStatus: 'valid' | 'revoked';
  readonly response: OcspResponse;
  readonly refreshAt: number;
  /** The response's own nextUpdate: it is never served after it (RFC 5019 §2.2.4: a client would reject it). */
  readonly nextUpdate: number;
  readonly certIdKey: string;
  readonly requestKeys: string[];
}

/**
 * One ledger read in flight for an answer that may be cached. `drop` marks
 * every fill of its serial: a marked fill's answer was read before the
 * revocation was heard, so it goes to its own request but never into the cache.
 */
interface Fill {
  isStale: boolean;
}

interface Answer {
  readonly single: OcspSingleResponse;
  /** Set when the certificate is in the ledger as one of ours: the response may be kept. */
  readonly ledgerStatus: 'valid' | 'revoked' | undefined;
  readonly serial: string | null;
}

/**
 * Answers from the ledger, signed by the delegated responder, with
 * pre-signed responses kept in memory per certificate (Boulder's db source
 * with an in-memory cache in front). A cached response is served only while
 * it is younger than half its validity and, on SQLite ('ledger-read'), the
 * ledger still gives the status it was signed for: that one indexed read
 * also catches revocations made by another process (the offline CLI).
 * `drop` (Authority.onRevoked, and on PostgreSQL the revocation feed)
 * removes a serial's responses at once. Nonce requests, requests about
 * several certificates and `unknown` answers are signed per request and
 * never kept, so nothing a client chooses can fill the cache.
 *
 * The ledger's reads are Awaitable: on SQLite they answer at once and so does
 * every method here (a cache hit costs no microtask: mapAwaitable continues
 * synchronously); on PostgreSQL the same steps run when each read settles.
 *
 * With `cacheCheck: 'revocation-feed'` (PostgreSQL) a hit reads nothing and
 * `drop` is the only way a response leaves the cache early, which opens a
 * race: a fill reads `valid` from the ledger, the revocation commits and its
 * notification calls `drop` (nothing cached yet, nothing to drop), then the
 * fill stores its `good`, which would be served until refreshAt. Closed with
 * a per-serial generation: every fill registers itself under its serial
 * before its read starts, `drop` marks all registered fills of that serial,
 * and a marked fill is never cached. Chosen over consulting RevokedSerials
 * before caching because that set remembers serials, not when they were
 * heard (a drop that arrives between the check and the store would still be
 * lost), and because the mark costs nothing on a hit, which never looks at
 * it. Nothing is kept for serials with no read in flight, so the bookkeeping
 * is bounded by the reads in flight, not by the revocations ever made.
 */
export class LedgerSource implements Source {
  private readonly options: LedgerSourceOptions;
  private readonly validityMs: number;
  private readonly maxCached: number;
  private readonly issuerName: string;
  private readonly issuerHashes: Readonly<Record<CertIdHash, IssuerHashes>>;
  private readonly byCertId = new Map<string, Entry>();
  private readonly byRequest = new Map<string, Entry>();
  private readonly bySerial = new Map<string, Set<Entry>>();
  /** Ledger reads in flight per serial (see the class comment); emptied as each read settles. */
  private readonly fills = new Map<string, Set<Fill>>();
  private readonly readsOnHit: boolean;

  constructor(options: LedgerSourceOptions) {
    const validity = options.validityMs ?? DEFAULT_OCSP_VALIDITY_MS;
    if (!Number.isFinite(validity) || validity < 60_000) throw new Error('the OCSP response validity must be at least one minute');
    const max = options.maxCachedResponses ?? DEFAULT_MAX_CACHED;
    if (!Number.isInteger(max) || max < 0) throw new Error('maxCachedResponses must be a non-negative integer');
    this.options = options;
    this.validityMs = validity;
    this.maxCached = max;
    this.readsOnHit = (options.cacheCheck ?? 'ledger-read') === 'ledger-read';
    this.issuerName = describeCertificate(options.issuerCertificate).subject;
    this.issuerHashes = {
      sha1: ocspIssuerHashes(options.issuerCertificate, 'sha1'),
      sha256: ocspIssuerHashes(options.issuerCertificate, 'sha256'),
    };
  }

  /** Pre-signed responses held now. */
  get size(): number {
    return this.byCertId.size;
  }

  cachedFor(requestKey: string): Awaitable<OcspResponse | undefined> {
    const entry = this.byRequest.get(requestKey);
    if (entry === undefined) return undefined;
    // Due for re-signing: `response` decides (re-signs, or on PostgreSQL keeps serving it while the ledger is down).
    if (this.options.clock.now() >= entry.refreshAt) return undefined;
    if (!this.readsOnHit) return entry.response;
    return mapAwaitable(this.isCurrent(entry), (isCurrent) => (isCurrent ? entry.response : undefined));
  }

  response(request: OcspRequest, requestKeys: readonly string[]): Awaitable<OcspResponse> {
    // RFC 6960 §2.3: a responder answers only for the issuers it is authoritative for; one foreign CertID makes the request unauthorized.
    for (const certId of request.certIds) {
      if (!this.isOurIssuer(certId)) throw new DomainError('notFound', 'keysmith is not the OCSP responder for this issuer');
    }
    const [only] = request.certIds;
    if (only !== undefined && request.certIds.length === 1 && request.nonce === undefined) return this.cacheable(only, requestKeys);
    // Several CertIDs or a nonce: one signature for this request alone.
    const now = this.options.clock.now();
    const answers = allAwaitable(request.certIds.map((certId) => this.answer(certId, now)));
    return mapAwaitable(answers, (settled) => this.sign(settled, now, request.nonce));
  }

  /**
   * Drops every pre-signed response for a serial (Authority.onRevoked; on
   * PostgreSQL also the revocation feed) and marks its fills in flight so
   * that none of them caches what it read: the next request reads the ledger.
   */
  readonly drop = (serial: string): void => {
    for (const fill of this.fills.get(serial) ?? []) fill.isStale = true;
    for (const entry of this.bySerial.get(serial) ?? []) this.remove(entry);
  };

  private cacheable(certId: OcspCertId, requestKeys: readonly string[]): Awaitable<OcspResponse> {
    const certIdKey = Buffer.from(certId.der).toString('latin1');
    const known = this.byCertId.get(certIdKey);
    if (known === undefined) return this.fresh(certId, certIdKey, requestKeys);
    const now = this.options.clock.now();
    if (now >= known.refreshAt) {
      if (this.readsOnHit || now >= known.nextUpdate) {
        this.remove(known);
        return this.fresh(certId, certIdKey, requestKeys);
      }
      // Feed mode: re-sign from the ledger; while it cannot be reached, the response we hold is still true until its nextUpdate.
      return recoverAwaitable(
        () => this.fresh(certId, certIdKey, requestKeys),
        (error) => this.servedWhileUnavailable(known, error, requestKeys),
      );
    }
    if (!this.readsOnHit) return this.served(known, requestKeys);
    return mapAwaitable(this.isCurrent(known), (isCurrent) =>
      isCurrent ? this.served(known, requestKeys) : this.fresh(certId, certIdKey, requestKeys),
    );
  }

  private served(entry: Entry, requestKeys: readonly string[]): OcspResponse {
    for (const key of requestKeys) this.alias(entry, key);
    return entry.response;
  }

  /**
   * The held response when re-signing failed only because the ledger is down
   * (RFC 6960 §2.3 would otherwise make it tryLater), it was not dropped
   * meanwhile (a revocation heard removes it) and its nextUpdate is still ahead.
   */
  private servedWhileUnavailable(entry: Entry, error: unknown, requestKeys: readonly string[]): OcspResponse {
    const isHeld = this.byCertId.get(entry.certIdKey) === entry;
    if (!isDomainError(error, 'unavailable') || !isHeld || this.options.clock.now() >= entry.nextUpdate) throw error;
    return this.served(entry, requestKeys);
  }

  /** A newly signed answer for one CertID, kept when it is cacheable and its serial was not dropped during the read. */
  private fresh(certId: OcspCertId, certIdKey: string, requestKeys: readonly string[]): Awaitable<OcspResponse> {
    // Taken before the ledger read: thisUpdate never claims more than the read knew.
    const now = this.options.clock.now();
    const serial = certId.serial;
    const fill: Fill = { isStale: false };
    if (serial !== null) this.beginFill(serial, fill);
    let answer: Awaitable<Answer>;
    try {
      answer = this.answer(certId, now);
    } catch (error) {
      if (serial !== null) this.endFill(serial, fill);
      throw error;
    }
    const settle = (settled: Answer): OcspResponse => {
      if (serial !== null) this.endFill(serial, fill);
      return this.keep(settled, now, certIdKey, requestKeys, fill);
    };
    if (!isPromise(answer)) return settle(answer);
    return answer.then(settle, (error: unknown) => {
      if (serial !== null) this.endFill(serial, fill);
      throw error;
    });
  }

  private beginFill(serial: string, fill: Fill): void {
    let forSerial = this.fills.get(serial);
    if (forSerial === undefined) {
      forSerial = new Set();
      this.fills.set(serial, forSerial);
    }
    forSerial.add(fill);
  }

  private endFill(serial: string, fill: Fill): void {
    const forSerial = this.fills.get(serial);
    forSerial?.delete(fill);
    if (forSerial?.size === 0) this.fills.delete(serial);
  }

  private keep(answer: Answer, now: number, certIdKey: string, requestKeys: readonly string[], fill: Fill): OcspResponse {
    const response = this.sign([answer], now, undefined);
    const cache = response.cache;
    if (answer.ledgerStatus === undefined || answer.serial === null || cache === undefined || this.maxCached === 0) return response;
    // Read before a revocation of this serial was heard: true for this request (it was asked before), never kept for the next.
    if (fill.isStale) return response;
    const entry: Entry = {
      serial: answer.serial,
      ledgerStatus: answer.ledgerStatus,
      response,
      // Re-signed after half its window, so what is served always has half its validity left.
      refreshAt: cache.thisUpdate + Math.floor((cache.nextUpdate - cache.thisUpdate) / 2),
      nextUpdate: cache.nextUpdate,
      certIdKey,
      requestKeys: [],
    };
    this.store(entry);
    for (const key of requestKeys) this.alias(entry, key);
    return response;
  }

  /** 'ledger-read' mode: the ledger still gives the status the entry was signed for (one indexed read per hit). */
  private isCurrent(entry: Entry): Awaitable<boolean> {
    return mapAwaitable(this.options.ledger.statusOf(entry.serial), (status) => {
      const isCurrent = status?.status === entry.ledgerStatus;
      if (!isCurrent) this.remove(entry);
      return isCurrent;
    });
  }

  private isOurIssuer(certId: OcspCertId): boolean {
    const hash = certId.hashAlgorithm;
    // A CertID hashed with anything else cannot be matched to our issuer, so it is not ours to answer.
    if (hash !== 'sha1' && hash !== 'sha256') return false;
    const ours = this.issuerHashes[hash];
    return Buffer.from(ours.nameHash).equals(certId.issuerNameHash) && Buffer.from(ours.keyHash).equals(certId.issuerKeyHash);
  }

  /** The status of one CertID from the ledger, with its window. */
  private answer(certId: OcspCertId, now: number): Awaitable<Answer> {
    const serial = certId.serial;
    if (serial === null) return this.answerFrom(certId, serial, undefined, now);
    return mapAwaitable(this.options.ledger.findBySerial(serial), (row) => this.answerFrom(certId, serial, row, now));
  }

  private answerFrom(certId: OcspCertId, serial: string | null, row: OcspCertificateRow | undefined, now: number): Answer {
    const thisUpdate = Math.floor(now / 1000) * 1000;
    // The ledger also holds the root and the intermediate, which this issuer did not sign: unknown, as for a serial never seen.
    const isOurs = row !== undefined && row.issuer === this.issuerName;
    let status: OcspCertStatus = { kind: 'unknown' };
    if (isOurs && row.status === 'revoked' && row.revokedAt !== null)
      status = { kind: 'revoked', revokedAt: row.revokedAt, reason: row.revocationReason };
    else if (isOurs && row.status === 'valid') status = { kind: 'good' };
    return {
      single: { certId: certId.der, status, thisUpdate, nextUpdate: this.nextUpdate(thisUpdate, isOurs ? row.notAfter : null) },
      ledgerStatus: isOurs && status.kind !== 'unknown' ? row.status : undefined,
      serial,
    };
  }

  /**
   * thisUpdate + the validity, but never past the certificate's own notAfter
   * (no status is needed after it) nor past the responder certificate's
   * (a client would refuse the signature).
   */
  private nextUpdate(thisUpdate: number, certificateNotAfter: number | null): number {
    let next = Math.min(thisUpdate + this.validityMs, this.options.signer.notAfter);
    if (certificateNotAfter !== null && certificateNotAfter > thisUpdate) next = Math.min(next, certificateNotAfter);
    if (next <= thisUpdate) throw new Error('the OCSP responder certificate has expired: no response can be signed');
    return next;
  }

  private sign(answers: readonly Answer[], now: number, nonce: Uint8Array | undefined): OcspResponse {
    const singles = answers.map((a) => a.single);
    const signed = this.options.signer.signResponse({ producedAt: now, responses: singles, ...(nonce === undefined ? {} : { nonce }) });
    // A Buffer view (no copy): what the HTTP layer sends, as is, for every hit.
    const der = Buffer.from(signed.buffer, signed.byteOffset, signed.byteLength);
    const certStatuses = singles.map((single) => single.status.kind);
    if (nonce !== undefined) return { der, cache: undefined, certStatuses };
    const first = singles[0];
    if (first === undefined) throw new Error('a response needs at least one SingleResponse');
    const cache: CacheFacts = {
      producedAt: Math.floor(now / 1000) * 1000,
      thisUpdate: first.thisUpdate,
      nextUpdate: Math.min(...singles.map((s) => s.nextUpdate)),
      etag: `"${createHash('sha256').update(der).digest('base64url')}"`,
    };
    return { der, cache, certStatuses };
  }

  private store(entry: Entry): void {
    const previous = this.byCertId.get(entry.certIdKey);
    if (previous !== undefined) this.remove(previous);
    // Bounded: the oldest response goes first. O(1) per eviction: a Map iterates in insertion order, so
    // the first entry is the oldest, and #remove touches only that entry's own keys (at most 8 aliases).
    while (this.byCertId.size >= this.maxCached) {
      const oldest = this.byCertId.values().next();
      if (oldest.done === true) break;
      this.remove(oldest.value);
    }
    this.byCertId.set(entry.certIdKey, entry);
    let forSerial = this.bySerial.get(entry.serial);
    if (forSerial === undefined) {
      forSerial = new Set();
      this.bySerial.set(entry.serial, forSerial);
    }
    forSerial.add(entry);
  }

  private alias(entry: Entry, requestKey: string): void {
    if (this.byRequest.get(requestKey) === entry || entry.requestKeys.length >= MAX_REQUEST_ALIASES) return;
    const other = this.byRequest.get(requestKey);
    const at = other?.requestKeys.indexOf(requestKey) ?? -1;
    if (at !== -1) other?.requestKeys.splice(at, 1);
    entry.requestKeys.push(requestKey);
    this.byRequest.set(requestKey, entry);
  }

  private remove(entry: Entry): void {
    if (this.byCertId.get(entry.certIdKey) === entry) this.byCertId.delete(entry.certIdKey);
    for (const key of entry.requestKeys) if (this.byRequest.get(key) === entry) this.byRequest.delete(key);
    entry.requestKeys.length = 0;
    const forSerial = this.bySerial.get(entry.serial);
    forSerial?.delete(entry);
    if (forSerial?.size === 0) this.bySerial.delete(entry.serial);
  }
}
