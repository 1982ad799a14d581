/**
 * #/timeline: what expires when over the next 90 days. The server aggregates (GET /v1/certificates/timeline);
 * the browser draws 90 buckets, never the certificates themselves, until a day is picked: then that day's
 * certificates are listed, a page at a time (expires_after/expires_before with keyset paging).
 */
import { useState } from 'preact/hooks';
import { api, PROFILE_NAMES, type Timeline } from '../api.js';
import { CertificateTable, PagedList, WhenLoaded } from '../components.js';
import { nextDay } from '../format.js';
import { useLoad } from '../load.js';
import { usePagedLoad } from '../paging.js';
import { TimelineChart } from './timeline-chart.js';

const DAYS = 90;
const DAY_PAGE = 25;

export function TimelineView() {
  const timeline = useLoad(() => api.timeline(DAYS), []);
  const [selected, setSelected] = useState<string | null>(null);
  return (
    <>
      <h1 tabIndex={-1}>Expiry timeline</h1>
      <WhenLoaded loaded={timeline}>
        {(data) => (
          <>
            <p data-testid="timeline-total" class="lead">
              {data.total} certificates expire in the next {data.days} days
            </p>
            <Legend profiles={data.profiles} />
            <TimelineChart timeline={data} selected={selected} onSelect={setSelected} />
            <p class="hint">
              Each bar is one UTC day, today first. Pick a day (Tab to the chart, then arrow keys) to list its certificates.
            </p>
            <AuthoritiesOutside timeline={data} />
            <DayTable timeline={data} />
            {selected === null ? null : <DayList key={selected} date={selected} />}
          </>
        )}
      </WhenLoaded>
    </>
  );
}

function Legend({ profiles }: { profiles: readonly string[] }) {
  return (
    <ul class="legend" aria-label="Legend">
      {profiles.map((profile) => (
        <li key={profile}>
          <span class={`swatch swatch-${profile}`} aria-hidden="true" />
          {profile}
        </li>
      ))}
      <li>
        <span class="swatch-line swatch-threshold" aria-hidden="true" />
        alert threshold
      </li>
      <li>
        <span class="swatch-line swatch-ca" aria-hidden="true" />
        CA certificate notAfter
      </li>
    </ul>
  );
}

/** CA certificates whose notAfter is outside the chart's window: named under it. */
function AuthoritiesOutside({ timeline }: { timeline: Timeline }) {
  const from = Date.parse(timeline.from);
  const end = from + timeline.days * 86_400_000;
  const outside = timeline.authorities.filter((a) => {
    const ms = Date.parse(a.not_after);
    return ms < from || ms >= end;
  });
  if (outside.length === 0) return null;
  return (
    <div class="authorities">
      <h2>CA certificates</h2>
      <ul>
        {outside.map((a) => (
          <li key={a.serial}>
            {a.subject} expires {a.not_after.slice(0, 10)}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The chart's numbers for screen readers (and anyone who prefers a table). */
function DayTable({ timeline }: { timeline: Timeline }) {
  const profiles = timeline.profiles.length > 0 ? timeline.profiles : PROFILE_NAMES;
  return (
    <table class="visually-hidden">
      <caption>Certificates expiring per day, by profile</caption>
      <thead>
        <tr>
          <th scope="col">Date</th>
          <th scope="col">Total</th>
          {profiles.map((p) => (
            <th key={p} scope="col">
              {p}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {timeline.buckets.map((b) => (
          <tr key={b.date}>
            <th scope="row">{b.date}</th>
            <td>{b.total}</td>
            {profiles.map((p) => (
              <td key={p}>{b.counts[p] ?? 0}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** One day's valid certificates, keyset paged. */
function DayList({ date }: { date: string }) {
  const { paging, page } = usePagedLoad(
    (cursor) =>
      api.certificates({
        expires_after: `${date}T00:00:00.000Z`,
        expires_before: `${nextDay(date)}T00:00:00.000Z`,
        status: 'valid',
        limit: DAY_PAGE,
        ...(cursor === undefined ? {} : { cursor }),
      }),
    [date],
  );
  const label = `Certificates expiring on ${date}`;
  return (
    <section aria-label={label} class="day-list">
      <h2>{label}</h2>
      <PagedList paging={paging} page={page} empty="No valid certificates expire on this day.">
        {(items) => <CertificateTable items={items} caption={`Valid certificates whose notAfter falls on ${date} (UTC)`} />}
      </PagedList>
    </section>
  );
}
