/**
 * #/alerts: the expiry-alert outbox (pending, sent, failed), filtered by status, and "Run now", which runs
 * detection at once and shows what it enqueued (delivery continues on the server after the answer).
 */
import { useState } from 'preact/hooks';
import { useAction } from '../action.js';
import { ALERT_STATUSES, api, type AlertRun } from '../api.js';
import { ErrorMessage, PagedList, ProfileBadge, StatusBadge } from '../components.js';
import { dateTime, identityOf, plural } from '../format.js';
import { usePagedLoad } from '../paging.js';
import { certificateHref } from '../router.js';

const PAGE_SIZE = 50;

export function AlertsView() {
  const [status, setStatus] = useState('');
  return (
    <>
      <h1 tabIndex={-1}>Alerts</h1>
      <RunNow />
      <div class="field field-inline">
        <label for="alerts-status">Status</label>
        <select id="alerts-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">Any</option>
          {ALERT_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <Outbox key={status} status={status} />
    </>
  );
}

function RunNow() {
  const [run, setRun] = useState<AlertRun | null>(null);
  const start = useAction(async () => setRun(await api.runAlerts()));
  return (
    <div class="panel">
      <div class="actions">
        <button type="button" class="primary" disabled={start.busy} onClick={() => void start.run()}>
          Run now
        </button>
        <span class="hint">Runs expiry detection at once; new alerts are delivered after it answers.</span>
      </div>
      <ErrorMessage error={start.error} />
      {run === null ? null : (
        <div role="status" class="notice">
          <p>
            Run {run.run_id} enqueued {plural(run.enqueued.length, 'alert', 'alerts')} and queued{' '}
            {plural(run.messages_queued, 'message', 'messages')}.
          </p>
          {run.enqueued.length === 0 ? null : (
            <ul>
              {run.enqueued.map((a) => (
                <li key={a.id}>
                  <a class="mono" href={certificateHref(a.serial)}>
                    {a.serial}
                  </a>{' '}
                  {identityOf(a)}: {a.threshold} threshold, expires {dateTime(a.not_after)}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </div>
  );
}

function Outbox({ status }: { status: string }) {
  const { paging, page } = usePagedLoad(
    (cursor) =>
      api.alerts({
        limit: PAGE_SIZE,
        ...(status === '' ? {} : { status }),
        ...(cursor === undefined ? {} : { cursor }),
      }),
    [],
  );
  return (
    <section aria-label="Outbox">
      <PagedList paging={paging} page={page} empty={`No alerts${status === '' ? '' : ` with status ${status}`}.`}>
        {(items) => (
          <table>
            <caption class="visually-hidden">Expiry alert outbox</caption>
            <thead>
              <tr>
                <th scope="col">Enqueued</th>
                <th scope="col">Certificate</th>
                <th scope="col">Profile</th>
                <th scope="col">Threshold</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">Deliveries</th>
              </tr>
            </thead>
            <tbody>
              {items.map((alert) => (
                <tr key={alert.id}>
                  <td>{dateTime(alert.enqueued_at)}</td>
                  <td class="wrap">
                    <a class="mono" href={certificateHref(alert.certificate.serial)}>
                      {alert.certificate.serial}
                    </a>
                    <br />
                    {identityOf(alert.certificate)}
                  </td>
                  <td>
                    <ProfileBadge profile={alert.certificate.profile} />
                  </td>
                  <td>{alert.threshold}</td>
                  <td>{dateTime(alert.certificate.not_after)}</td>
                  <td>
                    <StatusBadge status={alert.status} />
                    {alert.last_error === null ? null : <div class="muted wrap">{alert.last_error}</div>}
                  </td>
                  <td class="wrap">
                    {alert.deliveries.length === 0
                      ? '—'
                      : alert.deliveries
                          .map((d) => `${d.channel} ${d.recipient}: ${d.status} (${plural(d.attempts, 'attempt', 'attempts')})`)
                          .join('; ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </PagedList>
    </section>
  );
}
