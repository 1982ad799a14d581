import { DomainError } from '../shared/errors.js';
import type { EntryQuery, NewRegistrationEntry, RegistrationEntry, RegistrationEntryPatch } from '../domain/entries.js';
import { normalizeDnsName } from '../x509/index.js';
import { isAdminPath, requireOwnTrustDomain, requireWorkloadId } from './identity.js';
import type { EntryInput } from './ports.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const DEFAULT_X509_TTL_MS = HOUR;
/** The svid profile's ceiling; the configured maximum may only be lower. */
export const SVID_PROFILE_MAX_TTL_MS = DAY;
export const DEFAULT_JWT_TTL_MS = 5 * MINUTE;
export const MAX_JWT_TTL_MS = DAY;
export const MAX_ENTRY_DNS_NAMES = 100;
const MAX_PAGE_LIMIT = 500;

export interface EntryRules {
  readonly trustDomain: string;
  /** Highest x509 TTL an entry may carry (configuration; at most SVID_PROFILE_MAX_TTL_MS). */
  readonly maxX509TtlMs: number;
}

/** An entry's fields after validation and defaults, before the id and audit fields are added. */
export type CheckedEntryFields = Omit<NewRegistrationEntry, 'id' | 'createdBy'>;

/** Validates a new entry and applies the default TTLs. */
export function checkNewEntry(input: EntryInput, rules: EntryRules, now: number): CheckedEntryFields {
  const id = requireWorkloadId(input.spiffeId, rules.trustDomain, 'spiffe_id');
  const admin = input.admin ?? false;
  checkAdminFlag(admin, id.path, input.spiffeId);
  return {
    spiffeId: input.spiffeId,
    parentId: checkParentId(input.parentId, rules),
    x509TtlMs: checkX509Ttl(input.x509TtlMs ?? Math.min(DEFAULT_X509_TTL_MS, rules.maxX509TtlMs), rules),
    jwtTtlMs: checkJwtTtl(input.jwtTtlMs ?? DEFAULT_JWT_TTL_MS),
    dnsNames: normalizeEntryDnsNames(input.dnsNames ?? []),
    admin,
    expiresAt: checkExpiresAt(input.expiresAt ?? null, now),
  };
}

/** Validates a patch against the entry it changes; returns it with DNS names normalized. */
export function checkEntryPatch(
  current: RegistrationEntry,
  patch: RegistrationEntryPatch,
  rules: EntryRules,
  now: number,
): RegistrationEntryPatch {
  if (patch.admin !== undefined) {
    // The SPIFFE ID never changes, so neither may the admin flag: it must keep matching the path.
    checkAdminFlag(patch.admin, requireWorkloadId(current.spiffeId, rules.trustDomain, 'spiffe_id').path, current.spiffeId);
  }
  return {
    ...(patch.parentId === undefined ? {} : { parentId: checkParentId(patch.parentId, rules) }),
    ...(patch.x509TtlMs === undefined ? {} : { x509TtlMs: checkX509Ttl(patch.x509TtlMs, rules) }),
    ...(patch.jwtTtlMs === undefined ? {} : { jwtTtlMs: checkJwtTtl(patch.jwtTtlMs) }),
    ...(patch.dnsNames === undefined ? {} : { dnsNames: normalizeEntryDnsNames(patch.dnsNames) }),
    ...(patch.admin === undefined ? {} : { admin: patch.admin }),
    ...(patch.expiresAt === undefined ? {} : { expiresAt: checkExpiresAt(patch.expiresAt, now) }),
  };
}

export function checkEntryQuery(query: EntryQuery): EntryQuery {
  if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 1 || query.limit > MAX_PAGE_LIMIT)) {
    throw new DomainError('malformed', `limit must be an integer from 1 to ${MAX_PAGE_LIMIT}`);
  }
  return query;
}

function checkParentId(parentId: string, rules: EntryRules): string {
  requireOwnTrustDomain(parentId, rules.trustDomain, 'parent_id');
  return parentId;
}

function checkAdminFlag(admin: boolean, path: string, spiffeId: string): void {
  const isAdmin = isAdminPath(path);
  if (admin && !isAdmin) throw new DomainError('malformed', `admin is true but ${spiffeId} does not lie under /admin/`);
  // An operator grants an admin identity explicitly, never by naming a path alone.
  if (!admin && isAdmin) throw new DomainError('malformed', `${spiffeId} lies under /admin/: set admin to true to grant an admin identity`);
}

function checkX509Ttl(ttlMs: number, rules: EntryRules): number {
  checkWholeMs(ttlMs, 'x509 ttl');
  if (ttlMs < SECOND) throw new DomainError('malformed', 'x509 ttl must be at least 1 s');
  if (ttlMs > rules.maxX509TtlMs)
    throw new DomainError('malformed', `x509 ttl ${formatSeconds(ttlMs)} exceeds the maximum of ${formatSeconds(rules.maxX509TtlMs)}`);
  return ttlMs;
}

function checkJwtTtl(ttlMs: number): number {
  checkWholeMs(ttlMs, 'jwt ttl');
  if (ttlMs < SECOND) throw new DomainError('malformed', 'jwt ttl must be at least 1 s');
  if (ttlMs > MAX_JWT_TTL_MS)
    throw new DomainError('malformed', `jwt ttl ${formatSeconds(ttlMs)} exceeds the maximum of ${formatSeconds(MAX_JWT_TTL_MS)}`);
  return ttlMs;
}

/** Lowercase, checked, without duplicates; wildcards are not SVID names. */
function normalizeEntryDnsNames(names: readonly string[]): readonly string[] {
  if (names.length > MAX_ENTRY_DNS_NAMES) throw new DomainError('malformed', `an entry carries at most ${MAX_ENTRY_DNS_NAMES} DNS names`);
  return [...new Set(names.map((name) => normalizeDnsName(name)))];
}

function checkExpiresAt(expiresAt: number | null, now: number): number | null {
  if (expiresAt === null) return null;
  checkWholeMs(expiresAt, 'expires_at');
  if (expiresAt <= now) throw new DomainError('malformed', `expires_at ${new Date(expiresAt).toISOString()} is not in the future`);
  return expiresAt;
}

function checkWholeMs(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) throw new DomainError('malformed', `${what} must be a whole number of milliseconds`);
}

export function formatSeconds(ms: number): string {
  return `${ms / SECOND} s`;
}
