import { DomainError } from '../shared/errors.js';
import type { ExpiryTimelineCount, ExpiryTimelineQuery } from '../domain/certificates.js';
import { checkTime, isProfileName } from './certificate-rows.js';

/**
 * The expiry timeline (GET /v1/certificates/timeline): certificates not
 * revoked whose notAfter falls in [now, to), counted per UTC day and profile
 * by the database, so a fleet of any size answers with at most days x
 * profiles rows. One SQL text for both backends (PostgreSQL gets it with
 * numbered placeholders). `status = 'valid'` is spelled literally so both
 * planners can walk the partial index certificates_valid_by_not_after over
 * the window's range (test/unit/ledger/query-plans.test.ts checks SQLite's plan).
 */

const DAY_MS = 86_400_000;
/** 366 days: what the route allows, with room for a window that starts before now. */
const MAX_WINDOW_MS = 367 * DAY_MS;

export const EXPIRY_TIMELINE_SQL = `
  SELECT CAST((not_after - :from) / ${DAY_MS} AS INTEGER) AS day, profile, CAST(count(*) AS INTEGER) AS count
    FROM certificates
   WHERE status = 'valid' AND not_after >= :now AND not_after < :to
   GROUP BY 1, 2
   ORDER BY 1, 2`;

export interface TimelineRow {
  readonly day: number;
  readonly profile: string;
  readonly count: number;
}

export type TimelineParams = Record<'from' | 'now' | 'to', number>;

/** The statement's parameters; 'malformed' unless from <= now <= to, all integers, within 367 days. */
export function timelineParams(query: ExpiryTimelineQuery): TimelineParams {
  const { from, now, to } = query;
  checkTime(from, 'from');
  checkTime(now, 'now');
  checkTime(to, 'to');
  if (from > now || now > to) throw new DomainError('malformed', 'the timeline window is from <= now <= to');
  if (to - from > MAX_WINDOW_MS) throw new DomainError('malformed', 'the timeline window is at most 367 days');
  return { from, now, to };
}

/** Rows from our own CHECKed schema; a profile outside it is corruption (a plain Error). */
export function toTimelineCounts(rows: readonly TimelineRow[]): ExpiryTimelineCount[] {
  return rows.map((row) => {
    if (!isProfileName(row.profile)) throw new Error(`certificates: unknown stored profile '${row.profile}'`);
    return { day: Number(row.day), profile: row.profile, count: Number(row.count) };
  });
}
