/**
 * Anti-replay nonces (RFC 8555 §6.5): 128 random bits, base64url, each
 * accepted once and only before it expires. In memory and bounded: when the
 * table is full the oldest nonce goes, and a client holding it gets badNonce
 * and retries with the fresh one that answer carries (§6.5: clients MUST retry).
 */

export interface NonceOptions {
  readonly lifetimeMs?: number;
  readonly maxOutstanding?: number;
  readonly random: (length: number) => Uint8Array;
}

const DEFAULT_LIFETIME_MS = 60 * 60 * 1000;
const DEFAULT_MAX_OUTSTANDING = 100_000;
const NONCE_BYTES = 16;

export class NonceStore {
  readonly #lifetimeMs: number;
  readonly #maxOutstanding: number;
  readonly #random: (length: number) => Uint8Array;
  /** Insertion order is issue order, so the first key is the oldest. */
  readonly #expiries = new Map<string, number>();

  constructor(options: NonceOptions) {
    this.#lifetimeMs = options.lifetimeMs ?? DEFAULT_LIFETIME_MS;
    this.#maxOutstanding = options.maxOutstanding ?? DEFAULT_MAX_OUTSTANDING;
    this.#random = options.random;
  }

  issue(now: number): string {
    while (this.#expiries.size >= this.#maxOutstanding) {
      const oldest = this.#expiries.keys().next();
      if (oldest.done === true) break;
      this.#expiries.delete(oldest.value);
    }
    const nonce = Buffer.from(this.#random(NONCE_BYTES)).toString('base64url');
    this.#expiries.set(nonce, now + this.#lifetimeMs);
    return nonce;
  }

  /** True once per issued, unexpired nonce; the nonce is spent either way. */
  redeem(nonce: string, now: number): boolean {
    const expiresAt = this.#expiries.get(nonce);
    if (expiresAt === undefined) return false;
    this.#expiries.delete(nonce);
    return expiresAt > now;
  }

  get outstanding(): number {
    return this.#expiries.size;
  }
}
