/**
 * Serials this node has been told are revoked (by its own Authority, or by
 * the cluster's revocation feed), kept in memory so that the per-request
 * client-certificate check refuses them before it asks the ledger: a
 * revoked client certificate is refused on its next request even while the
 * database cannot be reached, and the TLS layer (which cannot wait for a
 * database) refuses it at the handshake.
 *
 * Bounded: past `maxSize` the oldest serials are forgotten. Forgetting only
 * costs the fast path; the ledger, asked on every request, stays the
 * authority. Revocation never reverts (RFC 5280 §3.3; keysmith has no
 * certificateHold release), so a remembered serial never needs removing.
 */
export const DEFAULT_MAX_REVOKED_SERIALS = 100_000;

export class RevokedSerials {
  private readonly serials = new Set<string>();

  constructor(readonly maxSize: number = DEFAULT_MAX_REVOKED_SERIALS) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError('RevokedSerials: maxSize must be a positive integer');
  }

  /** Remembers a serial (ledger form: lowercase hex); an arrow, so it can be handed out as a listener. */
  readonly add = (serial: string): void => {
    // Re-adding moves it to the young end: a serial told about again is kept longest.
    this.serials.delete(serial);
    this.serials.add(serial);
    if (this.serials.size <= this.maxSize) return;
    const oldest = this.serials.values().next();
    if (oldest.done !== true) this.serials.delete(oldest.value);
  };

  has(serial: string): boolean {
    return this.serials.has(serial);
  }

  get size(): number {
    return this.serials.size;
  }
}
