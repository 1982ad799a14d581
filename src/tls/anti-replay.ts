/** What the strike register says of a ClientHello's early data. */
export type StrikeVerdict = 'fresh' | 'replay' | 'full';

export interface StrikeRegisterOptions {
  /** Most entries held at once; when full (after dropping expired ones) early data is refused, never accepted. */
  readonly capacity: number;
  /** How long an entry is kept: past it, the ticket-age check alone refuses a replay. */
  readonly holdMs: number;
}

/**
 * A single-use register of ClientHellos that carried early data (RFC 8446
 * §8.2, "ClientHello recording"), keyed by the PSK binder, which is unique
 * to each ClientHello. An entry is held for twice the ticket-age window: a
 * copy arriving later fails the age check (§8.3), so the register only has
 * to remember the window. Bounded: when full it fails closed (§8.2: a server
 * that cannot record a ClientHello MUST NOT accept its early data).
 */
export class StrikeRegister {
  /** Key → expiry; insertion order is expiry order (the clock moves forward), so expired entries are at the front. */
  private readonly entries = new Map<string, number>();

  constructor(private readonly options: StrikeRegisterOptions) {
    if (!Number.isSafeInteger(options.capacity) || options.capacity < 1)
      throw new TypeError('strike register capacity must be a positive integer');
    if (!Number.isSafeInteger(options.holdMs) || options.holdMs < 1)
      throw new TypeError('strike register holdMs must be a positive integer');
  }

  get size(): number {
    return this.entries.size;
  }

  /** Records `key` at `now`; 'replay' when it is already held, 'full' when there is no room (nothing recorded). */
  strike(key: Uint8Array, now: number): StrikeVerdict {
    this.dropExpired(now);
    const id = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
    if (this.entries.has(id)) return 'replay';
    if (this.entries.size >= this.options.capacity) return 'full';
    this.entries.set(id, now + this.options.holdMs);
    return 'fresh';
  }

  private dropExpired(now: number): void {
    for (const [id, expiresAt] of this.entries) {
      if (expiresAt > now) return;
      this.entries.delete(id);
    }
  }
}
