/**
 * "Needs a person" in SQL: the rule the default expiry listing and alert
 * detection share with src/alerts/select-expiring.ts (hasStoppedRenewing).
 *
 * An SVID stopped renewing when it is the newest certificate of its SPIFFE ID
 * (by issued_at, then serial) and its renewal point has passed: half its
 * lifetime after issuance (renewal_due_at = issued_at + (not_after -
 * issued_at) / 2, integer division), where SPIFFE agents rotate. spiffe_latest
 * (migrations/0006) keeps the newest certificate of each SPIFFE ID.
 */

const DAY_MS = 86_400_000;

/**
 * The longest workload SVID (the svid profile's 24 h, svidMaxTtl) and the
 * longest SVID of all (the admin profile's 90 days). A valid SVID's renewal
 * point lies less than half its lifetime in the past, which bounds each index
 * range to the workloads that stopped, not every one that ever did
 * (migrations/0006 keeps the two classes in separate partial indexes).
 */
export const DAY_SVID_LIFETIME_MS = DAY_MS;
export const LONGEST_SVID_LIFETIME_MS = 90 * DAY_MS;

/**
 * Serials of SVIDs that stopped renewing at :now and are still valid then
 * (parameters :now, :dayFloor and :longFloor). Every term reads the index, so
 * an expired SVID in the range costs no row read.
 */
export const STOPPED_RENEWING_SERIALS = `
  SELECT serial FROM spiffe_latest
   WHERE profile = 'svid' AND lifetime_ms <= ${DAY_SVID_LIFETIME_MS}
     AND renewal_due_at <= :now AND renewal_due_at > :dayFloor AND not_after >= :now
  UNION ALL
  SELECT serial FROM spiffe_latest
   WHERE profile = 'svid' AND lifetime_ms > ${DAY_SVID_LIFETIME_MS}
     AND renewal_due_at <= :now AND renewal_due_at > :longFloor AND not_after >= :now`;

/**
 * The same, for alert detection at threshold :withinMs, which needs a lifetime
 * longer than the threshold (select-expiring.ts): the lifetime is in
 * spiffe_latest, and the guard on :withinMs, a term of no table, lets SQLite
 * skip the day SVIDs' range outright for thresholds of a day or more (a 1-hour
 * SVID never lives longer than a 7-day threshold).
 */
export const STOPPED_RENEWING_SERIALS_LONGER_THAN = `
  SELECT serial FROM spiffe_latest
   WHERE :withinMs < ${DAY_SVID_LIFETIME_MS}
     AND profile = 'svid' AND lifetime_ms <= ${DAY_SVID_LIFETIME_MS} AND lifetime_ms > :withinMs
     AND renewal_due_at <= :now AND renewal_due_at > :dayFloor AND not_after > :now
  UNION ALL
  SELECT serial FROM spiffe_latest
   WHERE profile = 'svid' AND lifetime_ms > ${DAY_SVID_LIFETIME_MS} AND lifetime_ms > :withinMs
     AND renewal_due_at <= :now AND renewal_due_at > :longFloor AND not_after > :now`;

export interface StoppedRenewingParams {
  readonly now: number;
  readonly dayFloor: number;
  readonly longFloor: number;
}

export function stoppedRenewingParams(now: number): StoppedRenewingParams {
  return { now, dayFloor: now - DAY_SVID_LIFETIME_MS / 2, longFloor: now - LONGEST_SVID_LIFETIME_MS / 2 };
}

export const LATEST_COLUMNS = 'spiffe_id, serial, profile, issued_at, not_after, lifetime_ms, renewal_due_at';

/**
 * The upsert's rule, shared by SQLite's one-row INSERT and PostgreSQL's
 * many-row one (postgres/certificate-writes.ts): a row replaces the stored one
 * only when it is newer (issued_at, then serial), so recording out of order
 * keeps the newest.
 */
export const KEEP_NEWEST_LATEST = `
  ON CONFLICT (spiffe_id) DO UPDATE
    SET serial = excluded.serial, profile = excluded.profile, issued_at = excluded.issued_at, not_after = excluded.not_after,
        lifetime_ms = excluded.lifetime_ms, renewal_due_at = excluded.renewal_due_at
  WHERE excluded.issued_at > spiffe_latest.issued_at
     OR (excluded.issued_at = spiffe_latest.issued_at AND excluded.serial > spiffe_latest.serial)`;

/** Keeps spiffe_latest: run in the transaction that records a certificate with a SPIFFE ID. */
export const RECORD_LATEST_PER_SPIFFE_ID = `
  INSERT INTO spiffe_latest (${LATEST_COLUMNS})
  VALUES (:spiffeId, :serial, :profile, :issuedAt, :notAfter, :lifetimeMs, :renewalDueAt)
  ${KEEP_NEWEST_LATEST}`;

/** The order KEEP_NEWEST_LATEST keeps: newer issued_at, then the greater serial. */
export function isNewerLatest(a: LatestParams, b: LatestParams): boolean {
  return a.issuedAt > b.issuedAt || (a.issuedAt === b.issuedAt && a.serial > b.serial);
}

export interface LatestParams {
  readonly spiffeId: string;
  readonly serial: string;
  readonly profile: string;
  readonly issuedAt: number;
  readonly notAfter: number;
  readonly lifetimeMs: number;
  readonly renewalDueAt: number;
}

/**
 * The renewal point, computed here: a JS number binds as REAL, and SQL's
 * division of REALs keeps a half millisecond the STRICT INTEGER column refuses.
 * Integer division as the migration's fill does it (times are positive).
 */
export function latestParams(record: {
  readonly spiffeId: string;
  readonly serial: string;
  readonly profile: string;
  readonly issuedAt: number;
  readonly notAfter: number;
}): LatestParams {
  const { spiffeId, serial, profile, issuedAt, notAfter } = record;
  return {
    spiffeId,
    serial,
    profile,
    issuedAt,
    notAfter,
    lifetimeMs: notAfter - issuedAt,
    renewalDueAt: issuedAt + Math.floor((notAfter - issuedAt) / 2),
  };
}
