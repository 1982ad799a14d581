/**
 * #/certificates/<serial>: one certificate's fields, its chain as a PEM download, what the OCSP responder
 * answers for it right now, its alert history, and revocation (a modal dialog, confirmed). After a revoke the
 * page loads everything again, so the status and the OCSP answer shown are the server's, not a guess.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { useAction } from '../action.js';
import { api, REVOCABLE_REASONS, type Certificate, type RevocableReason } from '../api.js';
import { ErrorMessage, Modal, ProfileBadge, StatusBadge, WhenLoaded } from '../components.js';
import { dateTime } from '../format.js';
import { useLoad } from '../load.js';

export function CertificateView({ serial }: { serial: string }) {
  const [generation, setGeneration] = useState(0);
  const cert = useLoad(() => api.certificate(serial), [serial, generation]);
  const reload = () => setGeneration((n) => n + 1);
  return (
    <>
      <h1 tabIndex={-1} class="wrap">
        Certificate <span class="mono">{serial}</span>
      </h1>
      <p>
        <a href="#/certificates">Back to search</a>
      </p>
      <WhenLoaded loaded={cert}>
        {(data) => (
          <>
            <Fields cert={data} />
            <div class="actions">
              <DownloadChain serial={data.serial} />
              {data.status === 'revoked' ? null : <RevokeButton serial={data.serial} onRevoked={reload} />}
            </div>
            <OcspSection key={`ocsp${generation}`} serial={data.serial} />
            <AlertHistory key={`alerts${generation}`} serial={data.serial} />
          </>
        )}
      </WhenLoaded>
    </>
  );
}

function Fields({ cert }: { cert: Certificate }) {
  const rows: [string, ComponentChildren][] = [
    ['Subject', cert.subject],
    ['Issuer', cert.issuer],
    ['SPIFFE ID', cert.spiffe_id ?? '—'],
    ['DNS names', cert.dns_names.length === 0 ? '—' : cert.dns_names.join(', ')],
    ['Profile', <ProfileBadge profile={cert.profile} />],
    ['Requester', cert.requester],
    ['Not before', dateTime(cert.not_before)],
    ['Not after', dateTime(cert.not_after)],
    ['Status', <StatusBadge status={cert.status} />],
    ['Revoked at', dateTime(cert.revoked_at)],
    ['Reason', cert.revocation_reason ?? '—'],
    ['Fingerprint (SHA-256)', <span class="mono">{cert.fingerprint}</span>],
  ];
  return (
    <dl class="fields">
      {rows.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd class="wrap">{value}</dd>
        </div>
      ))}
    </dl>
  );
}

/** Fetches the chain with the admin's connection and saves it as <serial>.pem through a Blob URL. */
function DownloadChain({ serial }: { serial: string }) {
  const download = useAction(async () => {
    const pem = await api.chainPem(serial);
    const url = URL.createObjectURL(new Blob([pem], { type: 'application/pem-certificate-chain' }));
    const link = document.createElement('a');
    link.href = url;
    link.download = `${serial}.pem`;
    document.body.append(link);
    link.click();
    link.remove();
    // After the click has handed the URL to the download.
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  });
  return (
    <>
      <button type="button" onClick={() => void download.run()}>
        Download chain (PEM)
      </button>
      <ErrorMessage error={download.error} />
    </>
  );
}

function RevokeButton({ serial, onRevoked }: { serial: string; onRevoked: () => void }) {
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState<RevocableReason>('unspecified');
  const revoke = useAction(async () => {
    await api.revoke(serial, reason);
    setOpen(false);
    onRevoked();
  });
  const submit = (event: Event) => {
    event.preventDefault();
    void revoke.run();
  };
  return (
    <>
      <button
        type="button"
        class="danger"
        onClick={() => {
          revoke.clearError();
          setReason('unspecified');
          setOpen(true);
        }}
      >
        Revoke…
      </button>
      <Modal open={open} title="Revoke this certificate?" onClose={() => setOpen(false)}>
        <form method="dialog" onSubmit={submit}>
          <p>
            Serial <span class="mono">{serial}</span> will be revoked at once: OCSP answers <em>revoked</em> from now on and the next CRL
            lists it. This cannot be undone.
          </p>
          <div class="field">
            <label for="revoke-reason">Reason</label>
            <select
              id="revoke-reason"
              value={reason}
              onChange={(e) => {
                const value = REVOCABLE_REASONS.find((r) => r === e.currentTarget.value);
                if (value !== undefined) setReason(value);
              }}
            >
              {REVOCABLE_REASONS.map((r) => (
                <option key={r} value={r}>
                  {r}
                </option>
              ))}
            </select>
          </div>
          <ErrorMessage error={revoke.error} />
          <div class="actions">
            <button type="submit" class="danger" disabled={revoke.busy}>
              Revoke certificate
            </button>
            <button type="button" onClick={() => setOpen(false)}>
              Cancel
            </button>
          </div>
        </form>
      </Modal>
    </>
  );
}

function OcspSection({ serial }: { serial: string }) {
  const ocsp = useLoad(() => api.ocsp(serial), [serial]);
  return (
    <section aria-labelledby="ocsp-heading">
      <h2 id="ocsp-heading">OCSP status</h2>
      <WhenLoaded loaded={ocsp} loadingText="Asking the responder…">
        {(answer) => (
          <>
            <p>
              The responder answers{' '}
              <span data-testid="ocsp-status" class={`badge badge-${answer.cert_status}`}>
                {answer.cert_status}
              </span>
              {answer.revocation_reason === null ? null : ` (${answer.revocation_reason}, since ${dateTime(answer.revoked_at)})`}
            </p>
            <dl class="fields fields-compact">
              <div>
                <dt>Produced at</dt>
                <dd>{dateTime(answer.produced_at)}</dd>
              </div>
              <div>
                <dt>This update</dt>
                <dd>{dateTime(answer.this_update)}</dd>
              </div>
              <div>
                <dt>Next update</dt>
                <dd>{dateTime(answer.next_update)}</dd>
              </div>
              <div>
                <dt>Responder</dt>
                <dd class="wrap">{answer.responder}</dd>
              </div>
            </dl>
          </>
        )}
      </WhenLoaded>
    </section>
  );
}

function AlertHistory({ serial }: { serial: string }) {
  const alerts = useLoad(() => api.alerts({ serial, limit: 100 }), [serial]);
  return (
    <section aria-labelledby="alert-history-heading">
      <h2 id="alert-history-heading">Alert history</h2>
      <ErrorMessage error={alerts.error} />
      {alerts.data === undefined ? null : alerts.data.items.length === 0 ? (
        <p>No expiry alert was raised for this certificate.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Enqueued</th>
              <th scope="col">Threshold</th>
              <th scope="col">Status</th>
              <th scope="col">Deliveries</th>
            </tr>
          </thead>
          <tbody>
            {alerts.data.items.map((alert) => (
              <tr key={alert.id}>
                <td>{dateTime(alert.enqueued_at)}</td>
                <td>{alert.threshold}</td>
                <td>
                  <StatusBadge status={alert.status} />
                </td>
                <td class="wrap">{alert.deliveries.map((d) => `${d.channel} ${d.recipient}: ${d.status}`).join('; ') || '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
