/**
 * What counts as expiring, as pure functions. The ledger runs the same rules
 * in SQL over its indexes (src/ledger alert-outbox.ts); `selectExpiring` is
 * the readable statement of them, and tests hold the SQL to it.
 *
 * A certificate is alert material at threshold T when:
 * - its status is valid and now < notAfter <= now + T;
 * - its whole lifetime is longer than T: short-lived SVIDs renewed every
 *   hour never qualify. The lifetime counts from issuance (notAfter -
 *   issuedAt), not from notBefore: notBefore is backdated a minute for clock
 *   skew, which would make a 7-day OCSP responder certificate look longer
 *   than a 7-day threshold and alert on every rotation;
 * - it has no successor: no other valid certificate of the same identity,
 *   issued no earlier, that lives past now + T. The identity is the SPIFFE ID
 *   when there is one, else the set of DNS/IP names, else subject and
 *   profile (the CA's own root and intermediate);
 * - it was not alerted at T, nor at a tighter threshold (several thresholds
 *   matching at once give the tightest only);
 * - it is in T's scope (`isInScope`): with no profile list, what needs a
 *   person: every profile but svid, plus SVIDs that stopped renewing
 *   (`hasStoppedRenewing`); with a list, every certificate of those profiles
 *   (name svid there to be alerted about all SVIDs).
 * CA certificates, the OCSP signer and the listener's certificate are ledger
 * rows like any other and follow the same rules.
 */
import type { CertificateRecord, ProfileName } from '../domain/certificates.js';
import type { ExpiryThreshold } from '../domain/alerts.js';
import { durationText } from '../shared/duration.js';

export const DAY_MS = 86_400_000;

/** The largest whole unit: 604800000 → '7d', 5400000 → '90m'; odd values in ms. */
export const formatThreshold = durationText;

/**
 * The key every delivery of one alert carries (webhook Idempotency-Key,
 * mail Message-ID): stable across restarts and resends, and unique per
 * (certificate, threshold), which is what the outbox enqueues once.
 */
export function alertKey(serial: string, thresholdMs: number): string {
  return `keysmith-${serial}-${formatThreshold(thresholdMs)}`;
}

/** Whole days left, rounded down: 6.9 days is "6 days left". Negative once expired. */
export function daysLeft(notAfter: number, now: number): number {
  return Math.floor((notAfter - now) / DAY_MS);
}

/** Tightest first, which is the order detection runs them in. */
export function sortThresholds(thresholds: readonly ExpiryThreshold[]): ExpiryThreshold[] {
  return [...thresholds].sort((a, b) => a.withinMs - b.withinMs);
}

export function appliesTo(threshold: ExpiryThreshold, profile: ProfileName): boolean {
  return threshold.profiles === null || threshold.profiles.includes(profile);
}

/** When a SPIFFE agent renews: half the lifetime after issuance (integer ms, rounded down, as the ledger computes it). */
export function renewalDueAt(certificate: Pick<CertificateRecord, 'issuedAt' | 'notAfter'>): number {
  return certificate.issuedAt + Math.floor((certificate.notAfter - certificate.issuedAt) / 2);
}

/**
 * An SVID whose SPIFFE ID stopped renewing: it is the newest certificate of its
 * SPIFFE ID (no other, of any profile or status, issued later, or at the same
 * ms with a greater serial) and its renewal point has passed. The ledger keeps
 * the newest certificate per SPIFFE ID (spiffe_latest) to find these by index.
 */
export function hasStoppedRenewing(certificate: CertificateRecord, all: readonly CertificateRecord[], now: number): boolean {
  const { spiffeId } = certificate;
  if (certificate.profile !== 'svid' || spiffeId === null || renewalDueAt(certificate) > now) return false;
  return !all.some(
    (s) =>
      s.spiffeId === spiffeId &&
      s.serial !== certificate.serial &&
      (s.issuedAt > certificate.issuedAt || (s.issuedAt === certificate.issuedAt && s.serial > certificate.serial)),
  );
}

/** Whether a threshold looks at a certificate at all (see the rules above). */
export function isInScope(
  threshold: ExpiryThreshold,
  certificate: CertificateRecord,
  all: readonly CertificateRecord[],
  now: number,
): boolean {
  if (threshold.profiles !== null) return threshold.profiles.includes(certificate.profile);
  return certificate.profile !== 'svid' || hasStoppedRenewing(certificate, all, now);
}

/** The identity a successor must share: SPIFFE ID, else the DNS/IP name set, else subject and profile. */
export function identityOf(certificate: CertificateRecord): string {
  if (certificate.spiffeId !== null) return `spiffe ${certificate.spiffeId}`;
  const names = new Set<string>();
  for (const san of certificate.sans) {
    if (san.type === 'dns') names.add(`dns:${san.value.toLowerCase()}`);
    else if (san.type === 'ip') names.add(`ip:${san.value}`);
  }
  if (names.size > 0) return `names ${[...names].sort().join(',')}`;
  return `subject ${certificate.profile} ${certificate.subject}`;
}

export interface ExpiringSelection {
  readonly serial: string;
  readonly thresholdMs: number;
}

/**
 * The reference rules over certificates in memory: which (certificate,
 * threshold) pairs a run at `now` enqueues, given the pairs already alerted.
 */
export function selectExpiring(
  now: number,
  certificates: readonly CertificateRecord[],
  thresholds: readonly ExpiryThreshold[],
  alreadyAlerted: readonly ExpiringSelection[] = [],
): ExpiringSelection[] {
  const alerted = new Map<string, number[]>();
  const remember = (serial: string, thresholdMs: number): void => {
    alerted.set(serial, [...(alerted.get(serial) ?? []), thresholdMs]);
  };
  for (const pair of alreadyAlerted) remember(pair.serial, pair.thresholdMs);

  const byIdentity = new Map<string, CertificateRecord[]>();
  for (const certificate of certificates) {
    const identity = identityOf(certificate);
    byIdentity.set(identity, [...(byIdentity.get(identity) ?? []), certificate]);
  }

  const selected: ExpiringSelection[] = [];
  for (const threshold of sortThresholds(thresholds)) {
    const horizon = now + threshold.withinMs;
    for (const c of certificates) {
      if (c.status !== 'valid' || c.notAfter <= now || c.notAfter > horizon) continue;
      if (c.notAfter - c.issuedAt <= threshold.withinMs) continue;
      if (!isInScope(threshold, c, certificates, now)) continue;
      if ((alerted.get(c.serial) ?? []).some((ms) => ms <= threshold.withinMs)) continue;
      const hasSuccessor = (byIdentity.get(identityOf(c)) ?? []).some(
        (s) => s.serial !== c.serial && s.status === 'valid' && s.issuedAt >= c.issuedAt && s.notAfter > horizon,
      );
      if (hasSuccessor) continue;
      selected.push({ serial: c.serial, thresholdMs: threshold.withinMs });
      remember(c.serial, threshold.withinMs);
    }
  }
  return selected;
}
