/*
 * The intermediate CA rotation state machine (after SPIRE's prepared /
 * active / old authorities), as pure functions of the facts on disk and in
 * the ledger and of the time. Nothing here is stored: every node that sees
 * the same `ca/` directory and the same ledger computes the same states at
 * the same instant, so activation needs no write and no coordination, and a
 * crash at any point leaves the facts (and so the states) as they were.
 *
 *   prepared --(activateAt reached)--> active --(a successor activates)--> retiring
 *   retiring --(its last possible leaf expired)--> retired
 *   prepared | active | retiring --(revoke-intermediate)--> revoked
 *
 * Published in the trust bundle: prepared, active and retiring ones.
 */

export type IntermediateState = 'prepared' | 'active' | 'retiring' | 'retired' | 'revoked';

/** What the state of one intermediate is computed from. */
export interface IntermediateFacts {
  /** Lowercase hex. */
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
  /** When it was written into `ca/` (published from then on). */
  readonly preparedAt: number;
  /** When it starts signing. */
  readonly activateAt: number;
  /** When the ledger recorded it revoked (RFC 5280 §5 via the ARL); undefined while valid. */
  readonly revokedAt: number | undefined;
}

export interface IntermediateStatus extends IntermediateFacts {
  readonly state: IntermediateState;
  /** When it stopped (or stops) signing: its successor's activateAt; undefined while nothing succeeds it. */
  readonly signedUntil: number | undefined;
  /** When it leaves the bundle: revocation, or its last possible leaf's expiry; undefined while active or prepared. */
  readonly droppedAt: number | undefined;
}

export interface RotationPolicy {
  /**
   * The longest life a leaf signed by an intermediate can have (plus the
   * time a node may take to notice an activation). A retiring intermediate
   * stays published this long after it stops signing, capped by its own
   * notAfter: no leaf outlives its issuer (the Authority caps notAfter).
   */
  readonly longestLeafMs: number;
}

function compareActivation(a: IntermediateFacts, b: IntermediateFacts): number {
  // Later activation wins; a tie (two prepared for the same instant) goes to the larger serial, the same on every node.
  return a.activateAt - b.activateAt || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0);
}

/**
 * The state of every intermediate at `now`. The active one is, of those
 * not revoked whose activateAt has come and that have not expired, the one
 * activated last. Every intermediate that was active before it signs until
 * the next one's activateAt.
 */
export function classifyIntermediates(all: readonly IntermediateFacts[], now: number, policy: RotationPolicy): IntermediateStatus[] {
  const usable = all.filter((i) => i.revokedAt === undefined || i.revokedAt > now);
  const started = usable.filter((i) => i.activateAt <= now).sort(compareActivation);
  const current = started.filter((i) => i.notAfter > now);
  const active = current.at(-1);
  return all.map((facts): IntermediateStatus => {
    // The next intermediate (revoked or not) to have activated after this one ended its signing then.
    const successor = all
      .filter(
        (other) => other !== facts && compareActivation(other, facts) > 0 && other.activateAt <= Math.min(now, other.revokedAt ?? Infinity),
      )
      .sort(compareActivation)[0];
    const signedUntil = successor?.activateAt;
    if (facts.revokedAt !== undefined && facts.revokedAt <= now) {
      return { ...facts, state: 'revoked', signedUntil, droppedAt: facts.revokedAt };
    }
    if (facts === active) return { ...facts, state: 'active', signedUntil: undefined, droppedAt: undefined };
    if (facts.activateAt > now) return { ...facts, state: 'prepared', signedUntil: undefined, droppedAt: undefined };
    const lastLeaf = Math.min(facts.notAfter, (signedUntil ?? facts.notAfter) + policy.longestLeafMs);
    const state: IntermediateState = now < lastLeaf ? 'retiring' : 'retired';
    return { ...facts, state, signedUntil, droppedAt: lastLeaf };
  });
}

/** The one that signs now, if any. */
export function activeOf(statuses: readonly IntermediateStatus[]): IntermediateStatus | undefined {
  return statuses.find((s) => s.state === 'active');
}

/** Those the trust bundle carries: prepared (published before they sign), active, retiring. */
export function publishedOf(statuses: readonly IntermediateStatus[]): IntermediateStatus[] {
  return statuses.filter((s) => s.state === 'prepared' || s.state === 'active' || s.state === 'retiring');
}

/**
 * The instants at which the published set changed, up to `now`: each
 * intermediate's publication and, once past, its removal. Together with the
 * same list for the JWT authorities this is the SPIFFE bundle's
 * `spiffe_sequence` (bundle-sequence.ts): the latest of these instants, so it
 * grows with every change and every node derives the same number without storing one.
 */
export function x509BundleChanges(statuses: readonly IntermediateStatus[], now: number): number[] {
  const changes: number[] = [];
  for (const s of statuses) {
    if (s.preparedAt <= now) changes.push(s.preparedAt);
    if (s.droppedAt !== undefined && s.droppedAt <= now) changes.push(s.droppedAt);
  }
  return changes.sort((a, b) => a - b);
}

/** Share of its life (0..1) an intermediate has left at `now`. */
export function lifeLeft(facts: Pick<IntermediateFacts, 'notBefore' | 'notAfter'>, now: number): number {
  const life = facts.notAfter - facts.notBefore;
  if (life <= 0) return 0;
  return Math.max(0, Math.min(1, (facts.notAfter - now) / life));
}
