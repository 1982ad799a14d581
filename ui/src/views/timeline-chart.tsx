/**
 * The expiry timeline as a hand-drawn SVG: one stacked bar per UTC day (by profile, PROFILE_NAMES order from
 * the bottom), the configured alert thresholds and CA notAfter dates as vertical lines. Over it lies a grid of
 * one transparent <button> per day (so each day can be focused and clicked); arrow keys move between days.
 * Colours come from console.css classes (CSP: no inline styles), geometry from SVG attributes.
 */
import { useRef, useState } from 'preact/hooks';
import type { ProfileName, Timeline } from '../api.js';

const DAY_MS = 86_400_000;
const WIDTH = 900;
const LABEL_ROWS = [14, 32];
const PLOT_TOP = 44;
const PLOT_BOTTOM = 236;
const HEIGHT = 262;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** A round ceiling for the y axis: 1, 2, 5 × 10^k. */
export function niceMax(value: number): number {
  if (value <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

export function thresholdLabel(withinDays: number, profiles: readonly ProfileName[] | null): string {
  const base = `${withinDays}-day alert threshold`;
  return profiles === null ? base : `${base} (${profiles.join(', ')})`;
}

interface Props {
  readonly timeline: Timeline;
  readonly selected: string | null;
  readonly onSelect: (date: string) => void;
}

export function TimelineChart({ timeline, selected, onSelect }: Props) {
  const buckets = timeline.buckets;
  const from = Date.parse(timeline.from);
  const column = WIDTH / Math.max(1, buckets.length);
  const top = niceMax(Math.max(0, ...buckets.map((b) => b.total)));
  const scale = (PLOT_BOTTOM - PLOT_TOP) / top;
  const gridValues = [top, top / 2];
  const xOf = (ms: number) => ((ms - from) / DAY_MS) * column;
  const end = from + buckets.length * DAY_MS;

  const [focused, setFocused] = useState(0);
  const buttons = useRef<(HTMLButtonElement | null)[]>([]);
  const moveTo = (index: number) => {
    const target = Math.min(buckets.length - 1, Math.max(0, index));
    setFocused(target);
    buttons.current[target]?.focus();
  };
  const onKeyDown = (index: number, event: KeyboardEvent) => {
    const moves: Record<string, number> = { ArrowLeft: index - 1, ArrowRight: index + 1, Home: 0, End: buckets.length - 1 };
    const target = moves[event.key];
    if (target === undefined) return;
    event.preventDefault();
    moveTo(target);
  };

  const thresholds = timeline.thresholds
    .map((t) => ({ ...t, x: xOf(Date.parse(timeline.now) + t.within_days * DAY_MS) }))
    .filter((t) => t.x >= 0 && t.x < WIDTH);
  const authorities = timeline.authorities
    .map((a) => ({ ...a, ms: Date.parse(a.not_after) }))
    .filter((a) => a.ms >= from && a.ms < end)
    .map((a) => ({ ...a, x: xOf(a.ms) }));

  return (
    <div class="chart">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-labelledby="chart-title" class="chart-svg">
        <title id="chart-title">Certificates expiring per day over the next {buckets.length} days, stacked by profile</title>
        {gridValues.map((value) => (
          <line key={value} class="grid" x1={0} x2={WIDTH} y1={PLOT_BOTTOM - value * scale} y2={PLOT_BOTTOM - value * scale} />
        ))}
        <line class="axis" x1={0} x2={WIDTH} y1={PLOT_BOTTOM} y2={PLOT_BOTTOM} />
        {buckets.map((bucket, index) => {
          let y = PLOT_BOTTOM;
          const x = index * column;
          return (
            <g key={bucket.date} class={bucket.date === selected ? 'day day-selected' : 'day'}>
              {bucket.date === selected ? (
                <rect class="day-highlight" x={x} y={PLOT_TOP} width={column} height={PLOT_BOTTOM - PLOT_TOP} />
              ) : null}
              {timeline.profiles.map((profile) => {
                const count = bucket.counts[profile] ?? 0;
                if (count === 0) return null;
                const height = count * scale;
                y -= height;
                return <rect key={profile} class={`bar bar-${profile}`} x={x + 1} y={y} width={Math.max(1, column - 2)} height={height} />;
              })}
              {index % 7 === 0 ? (
                <text class="tick" x={x + 1} y={PLOT_BOTTOM + 16}>
                  {MONTHS[Number(bucket.date.slice(5, 7)) - 1]} {Number(bucket.date.slice(8, 10))}
                </text>
              ) : null}
            </g>
          );
        })}
        {/* The grid's numbers go over the bars (a halo keeps them readable where a bar is as tall). */}
        {gridValues.map((value) => (
          <text key={value} class="grid-label" x={WIDTH - 2} y={PLOT_BOTTOM - value * scale - 3} text-anchor="end">
            {Number.isInteger(value) ? value : value.toFixed(1)}
          </text>
        ))}
        {thresholds.map((t, index) => (
          <g key={`t${index}`} class="threshold">
            <line x1={t.x} x2={t.x} y1={PLOT_TOP - 8} y2={PLOT_BOTTOM} />
            <text x={t.x > WIDTH * 0.7 ? t.x - 4 : t.x + 4} y={LABEL_ROWS[0]} text-anchor={t.x > WIDTH * 0.7 ? 'end' : 'start'}>
              {thresholdLabel(t.within_days, t.profiles)}
            </text>
          </g>
        ))}
        {authorities.map((a) => (
          <g key={a.serial} class="ca-marker">
            <title>{`${a.kind} ${a.subject} (serial ${a.serial})`}</title>
            <line x1={a.x} x2={a.x} y1={PLOT_TOP - 8} y2={PLOT_BOTTOM} />
            <text x={a.x > WIDTH * 0.7 ? a.x - 4 : a.x + 4} y={LABEL_ROWS[1]} text-anchor={a.x > WIDTH * 0.7 ? 'end' : 'start'}>
              CA expires {a.not_after.slice(0, 10)}
            </text>
          </g>
        ))}
      </svg>
      <div class="day-buttons">
        {buckets.map((bucket, index) => (
          <button
            key={bucket.date}
            type="button"
            ref={(element) => {
              buttons.current[index] = element;
            }}
            class="day-button"
            tabIndex={index === focused ? 0 : -1}
            aria-label={`${bucket.date}: ${bucket.total} certificates`}
            aria-pressed={bucket.date === selected}
            title={`${bucket.date}: ${bucket.total} certificates`}
            onFocus={() => setFocused(index)}
            onKeyDown={(event) => onKeyDown(index, event)}
            onClick={() => onSelect(bucket.date)}
          />
        ))}
      </div>
    </div>
  );
}
