/**
 * The SPIFFE bundle's `spiffe_sequence` (SPIFFE Trust Domain and Bundle
 * §4.1.1: "MUST be a monotonically increasing integer, and MUST be changed
 * whenever the contents of the bundle are updated"; at least 64 bits).
 *
 * Every part of the bundle that can change (the JWT-SVID keys here; the X.509
 * authorities when intermediates rotate) reports when its published set last
 * changed, in ms since the epoch, computed from times recorded in ca/ (not
 * from when this process noticed). The sequence is the latest of those times.
 * So it grows with every change, every node holding the same ca/ reports the
 * same number without talking to the others, and nothing needs a counter that
 * a crash could leave behind. It never goes below 1, the value served before
 * any rotation existed.
 */

/** A part of the bundle: when what it publishes last changed, as of `now` (ms); never decreasing in `now`. */
export interface PublishedSetHistory {
  lastChangedAt(now: number): number;
}

export const FIRST_BUNDLE_SEQUENCE = 1;

export function bundleSequence(parts: readonly PublishedSetHistory[], now: number): number {
  let sequence = FIRST_BUNDLE_SEQUENCE;
  for (const part of parts) sequence = Math.max(sequence, part.lastChangedAt(now));
  return sequence;
}
