const UNITS: readonly (readonly [string, number])[] = [
  ['d', 86_400_000],
  ['h', 3_600_000],
  ['m', 60_000],
  ['s', 1_000],
];

/**
 * A duration in its largest whole unit: 604800000 → '7d', 5400000 → '90m'; odd values in ms.
 * The one spelling of alert thresholds (alert keys, the API, the CLI) and of entry TTLs in the CLI.
 */
export function durationText(ms: number): string {
  for (const [unit, size] of UNITS) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}
