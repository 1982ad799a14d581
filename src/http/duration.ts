/** Durations in query parameters: a positive integer and one unit, e.g. 90s, 15m, 12h, 7d. */

const DAY_MS = 86_400_000;
const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: DAY_MS };

export const DURATION_PATTERN = /^([1-9][0-9]{0,5})([smhd])$/;
/** Ten years: far beyond any certificate keysmith issues, and far below Number.MAX_SAFE_INTEGER. */
export const MAX_DURATION_MS = 3650 * DAY_MS;

/** Milliseconds, or undefined when the text is not a duration within MAX_DURATION_MS. */
export function parseDuration(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (match === null) return undefined;
  const factor = UNIT_MS[match[2] ?? ''];
  if (factor === undefined) return undefined;
  const ms = Number(match[1]) * factor;
  return ms <= MAX_DURATION_MS ? ms : undefined;
}
