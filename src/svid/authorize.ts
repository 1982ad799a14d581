import { DomainError } from '../shared/errors.js';
import type { RegistrationEntry } from '../domain/entries.js';

/**
 * Which registration entry lets `callerId` obtain an SVID for `spiffeId`
 * (SPIRE's model, reduced): the caller is the entry's parent, or the caller
 * already holds `spiffeId` and renews it with its current SVID. Expired
 * entries grant nothing. Refusals are `forbidden` and say why.
 */
export function findGrantingEntry(
  entries: readonly RegistrationEntry[],
  callerId: string,
  spiffeId: string,
  now: number,
): RegistrationEntry {
  const isRenewal = callerId === spiffeId;
  const matching = entries.filter((entry) => entry.spiffeId === spiffeId && (isRenewal || entry.parentId === callerId));
  if (matching.length === 0) throw new DomainError('forbidden', `no registration entry lets ${callerId} obtain ${spiffeId}`);

  const live = matching.filter((entry) => entry.expiresAt === null || entry.expiresAt > now);
  const [first] = [...live].sort(byPreference(callerId));
  if (first !== undefined) return first;

  const [expired] = [...matching].sort(byPreference(callerId));
  if (expired === undefined || expired.expiresAt === null) throw new Error('unreachable: an entry that is not live has an expiry');
  throw new DomainError('forbidden', `entry ${expired.id} expired at ${new Date(expired.expiresAt).toISOString()}`);
}

/**
 * A deterministic choice when several entries match: the one naming the
 * caller as parent first (its TTL and DNS names were meant for this caller),
 * then the oldest, then by id.
 */
function byPreference(callerId: string): (a: RegistrationEntry, b: RegistrationEntry) => number {
  return (a, b) => {
    const parentOrder = Number(b.parentId === callerId) - Number(a.parentId === callerId);
    if (parentOrder !== 0) return parentOrder;
    if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  };
}
