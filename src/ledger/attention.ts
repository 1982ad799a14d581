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
 * The longest SVID keysmith issues (the admin profile's 90 days). A valid SVID's
 * renewal point then lies less than half of it in the past, which bounds the
 * index range to workloads that stopped recently, not every one that ever did.
 */
export const LONGEST_SVID_LIFETIME_MS = 90 * DAY_MS;

/** Serials of SVIDs that stopped renewing at :now (parameters :now and :renewalFloor). */
export const STOPPED_RENEWING_SERIALS = `
  SELECT serial FROM spiffe_latest
   WHERE profile = 'svid' AND renewal_due_at <= :now AND renewal_due_at > :renewalFloor`;

export function renewalFloor(now: number): number {
  return now - LONGEST_SVID_LIFETIME_MS / 2;
}

/**
 * Keeps spiffe_latest: run in the transaction that records a certificate with a
 * SPIFFE ID. A row replaces the stored one only when it is newer (issued_at,
 * then serial), so recording out of order keeps the newest.
 */
export const RECORD_LATEST_PER_SPIFFE_ID = `
  INSERT INTO spiffe_latest (spiffe_id, serial, profile, issued_at, renewal_due_at)
  VALUES (:spiffeId, :serial, :profile, :issuedAt, :renewalDueAt)
  ON CONFLICT (spiffe_id) DO UPDATE
    SET serial = excluded.serial, profile = excluded.profile, issued_at = excluded.issued_at, renewal_due_at = excluded.renewal_due_at
  WHERE excluded.issued_at > spiffe_latest.issued_at
     OR (excluded.issued_at = spiffe_latest.issued_at AND excluded.serial > spiffe_latest.serial)`;

export interface LatestParams {
  readonly spiffeId: string;
  readonly serial: string;
  readonly profile: string;
  readonly issuedAt: number;
  readonly renewalDueAt: number;
}

/**
 * The renewal point, computed here: a JS number binds as REAL, and SQL's
 * division of REALs keeps a half millisecond the STRICT INTEGER column refuses.
 * Integer division as the migration's fill does it (times are positive).
 */
export function latestParams(record: { readonly spiffeId: string; readonly serial: string; readonly profile: string; readonly issuedAt: number; readonly notAfter: number }): LatestParams {
  const { spiffeId, serial, profile, issuedAt, notAfter } = record;
  return { spiffeId, serial, profile, issuedAt, renewalDueAt: issuedAt + Math.floor((notAfter - issuedAt) / 2) };
}
