import { DomainError } from '../shared/errors.js';
import { checkTime } from './certificate-rows.js';

/**
 * What retention deletes, one step per kind of row, in the order a pass runs
 * them: a step may free rows for a later one (an order gone frees its
 * authorizations and its certificate; a certificate gone takes its alerts,
 * which frees the message that delivered them; a message gone frees its run).
 * One SQL text per step serves both backends (`:name` placeholders;
 * postgres/retention.ts numbers them).
 *
 * `:cutoff` is now - retentionPeriod; `:now` is now.
 */
export const RETENTION_STEPS = [
  'acme_orders',
  'acme_authorizations',
  'certificates',
  'revoked_certificates',
  'join_tokens',
  'alert_messages',
  'alert_runs',
  'acme_spent_nonces',
] as const;
export type RetentionStep = (typeof RETENTION_STEPS)[number];

/** The table each step deletes from (the metric's label): both certificate steps count as `certificates`. */
export const STEP_TABLE: { readonly [S in RetentionStep]: string } = {
  acme_orders: 'acme_orders',
  acme_authorizations: 'acme_authorizations',
  certificates: 'certificates',
  revoked_certificates: 'certificates',
  join_tokens: 'join_tokens',
  alert_messages: 'alert_messages',
  alert_runs: 'alert_runs',
  acme_spent_nonces: 'acme_spent_nonces',
};

interface StepSql {
  readonly table: string;
  readonly key: string;
  /** Over alias `x`; may use :cutoff and :now. */
  readonly where: string;
  readonly orderBy: string;
}

/**
 * Certificates that may go: notAfter at least the retention period ago (so a
 * revoked certificate never goes before its notAfter, whatever the period: the
 * CRL lists it until then, and drops it at expiry as RFC 5280 §5 allows, with no
 * ExpiredCertsOnCRL), never the CA's own rows, never
 * a delegated OCSP responder's current row (ocsp_responders references it),
 * never one an ACME order still names (the order goes first, by its own expiry).
 * The status term picks one partial index per step (valid: 0001's
 * certificates_valid_by_not_after; revoked: 0009's certificates_revoked_by_not_after).
 */
function certificateWhere(status: 'valid' | 'revoked'): string {
  return `x.status = '${status}' AND x.not_after <= :cutoff AND x.profile NOT IN ('root', 'intermediate')
    AND NOT EXISTS (SELECT 1 FROM ocsp_responders r WHERE r.serial = x.serial)
    AND NOT EXISTS (SELECT 1 FROM acme_orders o WHERE o.certificate_serial = x.serial)
    AND NOT EXISTS (SELECT 1 FROM acme_orders o WHERE o.replaces_serial = x.serial)`;
}

const STEPS: { readonly [S in RetentionStep]: StepSql } = {
  // An order is worth nothing once expired (RFC 8555 §7.1.3); one being finalized is never touched.
  acme_orders: {
    table: 'acme_orders',
    key: 'id',
    where: `x.expires_at <= :cutoff AND x.status <> 'processing'`,
    orderBy: 'x.expires_at, x.id',
  },
  // Challenges go with their authorization (ON DELETE CASCADE); an authorization an order still lists stays.
  acme_authorizations: {
    table: 'acme_authorizations',
    key: 'id',
    where: `x.expires_at <= :cutoff AND NOT EXISTS (SELECT 1 FROM acme_order_authorizations oa WHERE oa.authorization_id = x.id)`,
    orderBy: 'x.expires_at, x.id',
  },
  certificates: { table: 'certificates', key: 'serial', where: certificateWhere('valid'), orderBy: 'x.not_after, x.serial' },
  revoked_certificates: { table: 'certificates', key: 'serial', where: certificateWhere('revoked'), orderBy: 'x.not_after, x.serial' },
  // Expired a period ago, used or not: a used token cannot be redeemed again and an expired one never could, and
  // a token is redeemed before it expires, so one term (and 0009's index on expires_at) covers both.
  join_tokens: { table: 'join_tokens', key: 'token_hash', where: 'x.expires_at <= :cutoff', orderBy: 'x.expires_at, x.token_hash' },
  // Delivered, the period ago, and no alert row points at it any more (its certificates were pruned, so no
  // expiry alert can be raised for them again). Pending and failed messages stay for the operator.
  alert_messages: {
    table: 'alert_messages',
    key: 'id',
    where: `x.status = 'sent' AND x.sent_at <= :cutoff AND NOT EXISTS (SELECT 1 FROM alert_deliveries d WHERE d.message_id = x.id)`,
    orderBy: 'x.sent_at, x.id',
  },
  // A finished run nothing points at; the latest finished run stays, since the catch-up starts from it.
  alert_runs: {
    table: 'alert_runs',
    key: 'id',
    where: `x.finished_at IS NOT NULL AND x.started_at <= :cutoff
      AND x.started_at < (SELECT max(f.started_at) FROM alert_runs f WHERE f.finished_at IS NOT NULL)
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.run_id = x.id)
      AND NOT EXISTS (SELECT 1 FROM alert_messages m WHERE m.run_id = x.id)`,
    orderBy: 'x.started_at, x.id',
  },
  // A spent nonce only matters until it expires (RFC 8555 §6.5: after that the MAC refuses it anyway).
  acme_spent_nonces: { table: 'acme_spent_nonces', key: 'nonce_id', where: 'x.expires_at <= :now', orderBy: 'x.expires_at, x.nonce_id' },
};

/** Serials never pruned whatever their age (the listener's and the admin's current certificates): `:keep0`, `:keep1`... */
function keepClause(step: RetentionStep, keepCount: number): string {
  if (keepCount === 0 || (step !== 'certificates' && step !== 'revoked_certificates')) return '';
  return ` AND x.serial NOT IN (${Array.from({ length: keepCount }, (_, i) => `:keep${i}`).join(', ')})`;
}

/** Deletes one batch (at most :limit rows, oldest first) and returns the deleted keys (the certificate steps need them). */
export function deleteBatchSql(step: RetentionStep, keepCount: number): string {
  const s = STEPS[step];
  return `DELETE FROM ${s.table} WHERE ${s.key} IN (
    SELECT x.${s.key} FROM ${s.table} x WHERE (${s.where})${keepClause(step, keepCount)} ORDER BY ${s.orderBy} LIMIT :limit
  ) RETURNING ${s.key} AS key`;
}

/** How many rows the step would delete now (the dry run); rows an earlier step would free are not counted yet. */
export function countEligibleSql(step: RetentionStep, keepCount: number): string {
  const s = STEPS[step];
  return `SELECT count(*) AS n FROM ${s.table} x WHERE (${s.where})${keepClause(step, keepCount)}`;
}

/** spiffe_latest has no foreign key: its row for a SPIFFE ID whose newest certificate went goes with it. */
export function forgetLatestSql(count: number): string {
  return `DELETE FROM spiffe_latest WHERE serial IN (${Array.from({ length: count }, (_, i) => `:s${i}`).join(', ')})`;
}

export function isCertificateStep(step: RetentionStep): boolean {
  return step === 'certificates' || step === 'revoked_certificates';
}

export interface RetentionParams {
  readonly now: number;
  readonly periodMs: number;
  readonly limit: number;
  readonly keepSerials: readonly string[];
}

/** Largest batch: one transaction never holds the write lock for long. */
export const MAX_RETENTION_BATCH = 5_000;

/** The named values of a step's statement, checked before any SQL runs (same DomainError on both backends). */
export function retentionValues(params: RetentionParams): Record<string, number | string> {
  checkTime(params.now, 'now');
  if (!Number.isSafeInteger(params.periodMs) || params.periodMs < 0)
    throw new DomainError('malformed', 'the retention period is a non-negative number of milliseconds');
  if (!Number.isSafeInteger(params.limit) || params.limit < 1 || params.limit > MAX_RETENTION_BATCH) {
    throw new DomainError('malformed', `a retention batch is 1 to ${MAX_RETENTION_BATCH} rows`);
  }
  const values: Record<string, number | string> = { now: params.now, cutoff: params.now - params.periodMs, limit: params.limit };
  params.keepSerials.forEach((serial, i) => {
    values[`keep${i}`] = serial;
  });
  return values;
}
