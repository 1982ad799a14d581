/**
 * The caches of parsed certificates. A returning peer then costs map
 * lookups instead of a parse (PERF-NOTES: parsing ~146 µs).
 */
import { asBuffer } from '../shared/bytes.js';
import { parseCertificate, type ParsedCertificate } from './parsed-certificate.js';

export const DEFAULT_CACHE_SIZE = 1024;

/**
 * Cache key: the last 32 octets, i.e. part of the signature, which differs
 * between any two certificates in practice. A hit still compares the whole
 * DER, so a crafted collision only costs its sender a re-parse. Hashing a
 * short key is what keeps warm lookups cheap (the full DER as a latin1
 * string costs ~4x more per lookup; SHA-256 of it ~2 µs).
 */
export function cacheKey(der: Buffer): string {
  return der.toString('latin1', Math.max(0, der.length - 32));
}

/** Exact DER → parsed certificate, for a fixed set (the anchors). */
export class DerIndex {
  private readonly byKey = new Map<string, ParsedCertificate[]>();

  find(der: Buffer, key: string = cacheKey(der)): ParsedCertificate | undefined {
    return this.byKey.get(key)?.find((c) => c.der.equals(der));
  }

  add(cert: ParsedCertificate): void {
    const key = cacheKey(cert.der);
    const bucket = this.byKey.get(key);
    if (bucket === undefined) this.byKey.set(key, [cert]);
    else bucket.push(cert);
  }
}

/** A bounded LRU of parsed certificates keyed by their DER. */
export class CertificateCache {
  private readonly entries = new Map<string, ParsedCertificate>();
  /** Certificates parsed through this cache (misses), plus any the owner counts in. */
  parsed = 0;

  constructor(private readonly capacity: number) {}

  get(der: Buffer, key: string = cacheKey(der)): ParsedCertificate {
    const hit = this.entries.get(key);
    if (hit !== undefined && hit.der.equals(der)) {
      // Re-insert so Map order is recency order; the first key is the eviction candidate.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const parsed = parseCertificate(der);
    this.parsed++;
    // delete first: a colliding entry is replaced and moves to the recent end.
    this.entries.delete(key);
    this.entries.set(key, parsed);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    return parsed;
  }
}

const sharedCache = new CertificateCache(DEFAULT_CACHE_SIZE);

/** Parse without verifying: for our own chain, and for building PeerCertificate views. Cached; throws CertificateError. */
export function describeCertificate(der: Uint8Array): ParsedCertificate {
  return sharedCache.get(asBuffer(der));
}
