import type { Clock } from '../shared/clock.js';
import type { CertificatePage, CertificateQuery } from '../shared/records.js';
import { describeCertificate, encodeCrl, issuerFromCertificate, type CertificateIssuer, type CrlEntry } from '../x509/index.js';
import type { CaMaterial } from './issuer.js';
import { ecdsaSigner } from './ocsp-signer.js';

/** What the CRL needs from the ledger: the revoked certificates, page by page (src/ledger fits it). */
export interface RevokedCertificateLister {
  list(query: CertificateQuery): CertificatePage;
}

/** One signed CRL and the facts HTTP caching is built from. */
export interface PublishedCrl {
  readonly der: Uint8Array;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly crlNumber: number;
  readonly entries: number;
}

export interface CrlPublisherDeps {
  readonly material: CaMaterial;
  readonly ledger: RevokedCertificateLister;
  readonly clock: Clock;
  /** nextUpdate - thisUpdate; default 24 h. */
  readonly validityMs?: number;
}

export const DEFAULT_CRL_VALIDITY_MS = 24 * 3_600_000;
const PAGE = 500;

function fingerprint(entries: readonly CrlEntry[]): string {
  return entries.map((e) => `${e.serial}:${e.revokedAt}:${e.reason ?? ''}`).join(',');
}

/**
 * The intermediate's full CRL (RFC 5280 §5): every revoked certificate it
 * issued that has not yet expired. Rebuilt when a revocation is reported
 * (coalesced, and at the latest when the CRL is next read), and by the
 * schedule `start` sets when the ledger's revoked set changed or half the
 * validity has passed; each build gets a larger crlNumber.
 */
export class CrlPublisher {
  readonly #deps: CrlPublisherDeps;
  readonly #issuer: CertificateIssuer;
  readonly #issuerName: string;
  readonly #sign: (tbs: Uint8Array) => Uint8Array;
  readonly #validityMs: number;
  #current: PublishedCrl | undefined;
  #isStale = true;
  #entriesFingerprint = '';
  #isRebuildQueued = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: CrlPublisherDeps) {
    const validity = deps.validityMs ?? DEFAULT_CRL_VALIDITY_MS;
    if (!Number.isFinite(validity) || validity < 60_000) throw new Error('the CRL validity must be at least one minute');
    const { intermediate } = deps.material;
    this.#deps = deps;
    this.#issuer = issuerFromCertificate(intermediate.certDer, intermediate.key);
    this.#issuerName = describeCertificate(intermediate.certDer).subject;
    this.#sign = ecdsaSigner(intermediate.keyObject, this.#issuer.curve);
    this.#validityMs = validity;
  }

  /** The current CRL, rebuilt first when a revocation came in since the last build or it is past its nextUpdate. */
  current(): PublishedCrl {
    const current = this.#current;
    if (current === undefined || this.#isStale || this.#deps.clock.now() >= current.nextUpdate) return this.rebuild();
    return current;
  }

  /** Builds and signs a new CRL now. Synchronous: the ledger and the signature both are. */
  rebuild(): PublishedCrl {
    const now = this.#deps.clock.now();
    return this.#build(this.#revokedEntries(now), now);
  }

  /**
   * The scheduled check: re-reads the ledger and re-signs only when the
   * revoked set changed (a revocation by another process, an expiry) or half
   * the validity has passed, so relying parties' cached copies stay valid.
   */
  refresh(): PublishedCrl {
    const now = this.#deps.clock.now();
    const entries = this.#revokedEntries(now);
    const current = this.#current;
    const isHalfSpent = current === undefined || now >= current.thisUpdate + (current.nextUpdate - current.thisUpdate) / 2;
    if (current === undefined || this.#isStale || isHalfSpent || fingerprint(entries) !== this.#entriesFingerprint) return this.#build(entries, now);
    return current;
  }

  #build(entries: readonly CrlEntry[], now: number): PublishedCrl {
    const thisUpdate = Math.floor(now / 1000) * 1000;
    // Monotonic across restarts without storage: the build time in ms, or one more than the last number.
    const crlNumber = Math.max(thisUpdate, (this.#current?.crlNumber ?? 0) + 1);
    const nextUpdate = thisUpdate + this.#validityMs;
    const der = encodeCrl({ thisUpdate, nextUpdate, crlNumber, entries }, { issuer: this.#issuer, sign: this.#sign });
    this.#isStale = false;
    this.#entriesFingerprint = fingerprint(entries);
    this.#current = { der, thisUpdate, nextUpdate, crlNumber, entries: entries.length };
    return this.#current;
  }

  /** For Authority.onRevoked: marks the CRL stale and rebuilds it soon, once for a burst of revocations. */
  readonly noteRevoked = (): void => {
    this.#isStale = true;
    if (this.#isRebuildQueued) return;
    this.#isRebuildQueued = true;
    setImmediate(() => {
      this.#isRebuildQueued = false;
      // current() may have rebuilt it in the meantime.
      if (this.#isStale) this.rebuild();
    });
  };

  /** Runs `refresh` every `everyMs`, so revocations made by other processes (the offline CLI) appear and nextUpdate never passes. */
  start(options: { everyMs: number; onError: (err: unknown) => void }): void {
    this.stop();
    if (!(options.everyMs > 0 && options.everyMs < this.#validityMs)) throw new Error('the CRL refresh interval must be positive and below its validity');
    this.#timer = setInterval(() => {
      try {
        this.refresh();
      } catch (err) {
        options.onError(err);
      }
    }, options.everyMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #revokedEntries(now: number): CrlEntry[] {
    const entries: CrlEntry[] = [];
    let cursor: string | null = null;
    do {
      const page: CertificatePage = this.#deps.ledger.list({ status: 'revoked', now, limit: PAGE, ...(cursor === null ? {} : { cursor }) });
      for (const record of page.items) {
        // RFC 5280 §5: this CRL's scope is what the intermediate issued; an expired certificate may leave it (§3.3).
        if (record.issuer !== this.#issuerName || record.notAfter <= now || record.revokedAt === null) continue;
        entries.push({ serial: record.serial, revokedAt: record.revokedAt, reason: record.revocationReason });
      }
      cursor = page.nextCursor;
    } while (cursor !== null);
    return entries.sort((a, b) => (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  }
}
