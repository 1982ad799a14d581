/**
 * The default peer-chain verifier: an RFC 5280 §6 subset on node:crypto's
 * X509Certificate, built from a set of trust anchors (as rustls ships
 * webpki). Revocation and SPIFFE authorization are the caller's business.
 *
 * Parsed certificates and verified signatures are cached, so a returning
 * peer costs validity checks and map lookups (PERF-NOTES: parsing ~146 µs,
 * a signature check ~85 µs more).
 */
import type { KeyObject } from 'node:crypto';
import { systemClock } from '../shared/clock.js';
import { asBuffer } from '../shared/bytes.js';
import { cacheKey, CertificateCache, DEFAULT_CACHE_SIZE, DerIndex } from './cache.js';
import { refuse, type CertificateError } from './errors.js';
import { checkCriticalExtensions, checkIssuer, checkLeaf, type VerifyExpectation } from './path-checks.js';
import { parseCertificate, type ParsedCertificate, type PeerCertificates } from './parsed-certificate.js';
import { PathSearch } from './path-search.js';

export interface VerifiedChain {
  /** Chain leaf first, ending at the trust anchor. */
  readonly peer: PeerCertificates;
  /** For CertificateVerify. */
  readonly leafPublicKey: KeyObject;
  readonly leafNotAfterMs: number;
}

export interface ChainVerifierOptions {
  /** DER trust anchors. */
  readonly ca: readonly Uint8Array[];
  /** Default 60 000. */
  readonly clockSkewMs?: number;
  readonly now?: () => number;
  /** Parsed certificates kept, anchors not counted (default 1024). */
  readonly cacheSize?: number;
}

export interface VerifierStats {
  /** Certificates parsed (cache misses), anchors included. */
  readonly parsed: number;
  /** Signatures actually checked (not answered from the cache). */
  readonly signatureChecks: number;
}

const DEFAULT_CLOCK_SKEW_MS = 60_000;
/** Certificates accepted in one Certificate message; more only costs us parsing. */
const MAX_PRESENTED = 16;

export class ChainVerifier {
  /** DER of the anchors' subject Names, for the certificate_authorities extension. */
  readonly anchorSubjects: readonly Uint8Array[];

  private readonly clockSkewMs: number;
  private readonly now: () => number;
  private readonly cache: CertificateCache;
  private readonly anchorsByDer = new DerIndex();
  private readonly search: PathSearch;

  constructor(options: ChainVerifierOptions) {
    const skew = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
    const size = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isFinite(skew) || skew < 0) throw new RangeError('clockSkewMs must be a non-negative number');
    if (!Number.isInteger(size) || size < 1) throw new RangeError('cacheSize must be a positive integer');
    this.clockSkewMs = skew;
    // The engine passes its injected clock; the system clock is only the stand-alone default.
    this.now = options.now ?? (() => systemClock.now());
    this.cache = new CertificateCache(size);
    const anchors = this.loadAnchors(options.ca);
    this.search = new PathSearch(anchors, (path, expect, nowMs) => this.checkPath(path, expect, nowMs));
    this.anchorSubjects = this.search.anchorSubjects;
  }

  get stats(): VerifierStats {
    return { parsed: this.cache.parsed, signatureChecks: this.search.signatureChecks };
  }

  /** chainDer: as received, leaf first. Throws CertificateError. */
  verify(chainDer: readonly Uint8Array[], expect: VerifyExpectation): VerifiedChain {
    if (chainDer.length === 0) throw refuse('bad_certificate', 'empty certificate chain');
    if (chainDer.length > MAX_PRESENTED) {
      throw refuse('bad_certificate', `${chainDer.length} certificates presented, at most ${MAX_PRESENTED} accepted`);
    }
    // Duplicates map to one parsed object; a Set keeps the search from trying them twice.
    const presented = [...new Set(chainDer.map((der) => this.lookup(der)))];
    const [first] = presented;
    if (first === undefined) throw refuse('bad_certificate', 'empty certificate chain');
    const path = this.search.find(first, presented, expect, this.now());
    const leaf = path[0] ?? first;
    // checkLeaf refused leaves without a usable key, so the key is present here.
    const leafPublicKey = leaf.publicKey;
    if (leafPublicKey === undefined) throw refuse('internal_error', 'verified leaf without a public key');
    const views = path.map((c) => c.view);
    return { peer: { chain: views, leaf: leaf.view }, leafPublicKey, leafNotAfterMs: leaf.fields.notAfterMs };
  }

  private loadAnchors(ca: readonly Uint8Array[]): ParsedCertificate[] {
    const anchors: ParsedCertificate[] = [];
    ca.forEach((der, i) => {
      if (this.anchorsByDer.find(asBuffer(der)) !== undefined) return;
      let anchor: ParsedCertificate;
      try {
        anchor = parseCertificate(der);
      } catch (error) {
        throw new TypeError(`ca[${i}] is not a usable certificate: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.cache.parsed++;
      this.anchorsByDer.add(anchor);
      anchors.push(anchor);
    });
    return anchors;
  }

  private lookup(input: Uint8Array): ParsedCertificate {
    const der = asBuffer(input);
    const key = cacheKey(der);
    return this.anchorsByDer.find(der, key) ?? this.cache.get(der, key);
  }

  /** The RFC 5280 §6.1 checks on a complete path, leaf first, anchor last. */
  private checkPath(path: readonly ParsedCertificate[], expect: VerifyExpectation, nowMs: number): CertificateError | undefined {
    for (const cert of path) {
      const problem = this.checkValidity(cert, nowMs) ?? checkCriticalExtensions(cert);
      if (problem !== undefined) return problem;
    }
    for (let i = 1; i < path.length; i++) {
      const problem = checkIssuer(path, i);
      if (problem !== undefined) return problem;
    }
    const leaf = path[0];
    return leaf === undefined ? refuse('internal_error', 'empty path') : checkLeaf(leaf, expect);
  }

  /** §6.1.3(a)(2): now MUST be within [notBefore, notAfter], widened by the allowed clock skew. */
  private checkValidity(cert: ParsedCertificate, nowMs: number): CertificateError | undefined {
    const { notBeforeMs, notAfterMs } = cert.fields;
    if (nowMs + this.clockSkewMs < notBeforeMs) {
      return refuse('certificate_expired', `${cert.label} is not yet valid (notBefore ${new Date(notBeforeMs).toISOString()})`);
    }
    if (nowMs - this.clockSkewMs > notAfterMs) {
      return refuse('certificate_expired', `${cert.label} has expired (notAfter ${new Date(notAfterMs).toISOString()})`);
    }
    return undefined;
  }
}
