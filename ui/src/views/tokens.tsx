/**
 * #/tokens: one-time join tokens for nodes. A new token's secret is shown once, right after it is created
 * (the server stores only its digest); it is held in this component's state and nowhere else.
 */
import { useState } from 'preact/hooks';
import { useAction } from '../action.js';
import { api, type JoinToken } from '../api.js';
import { Confirm, ErrorMessage, PagedList, StatusBadge } from '../components.js';
import { dateTime } from '../format.js';
import { usePagedLoad } from '../paging.js';

const PAGE_SIZE = 50;

export function TokensView() {
  const { paging, page } = usePagedLoad((cursor) => api.joinTokens({ limit: PAGE_SIZE, ...(cursor === undefined ? {} : { cursor }) }), []);
  const [revoking, setRevoking] = useState<JoinToken | null>(null);
  const [created, setCreated] = useState<(JoinToken & { readonly token: string }) | null>(null);
  const revoke = useAction(async (token: JoinToken) => {
    await api.revokeJoinToken(token.id);
    page.reload();
  });

  return (
    <>
      <h1 tabIndex={-1}>Join tokens</h1>
      <NewTokenForm
        onCreated={(token) => {
          setCreated(token);
          page.reload();
        }}
      />
      {created === null ? null : (
        <section aria-labelledby="new-token-heading" class="panel panel-secret">
          <h2 id="new-token-heading">Token for {created.spiffe_id}</h2>
          <p>Copy it now: it is shown this once. It expires at {dateTime(created.expires_at)} and can be used once.</p>
          <code data-testid="new-token" class="secret">
            {created.token}
          </code>
          <div class="actions">
            <button type="button" onClick={() => setCreated(null)}>
              Done, hide the token
            </button>
          </div>
        </section>
      )}
      <ErrorMessage error={revoke.error} />
      <PagedList paging={paging} page={page} empty="No join tokens.">
        {(items) => (
          <table>
            <caption class="visually-hidden">Join tokens</caption>
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">Node SPIFFE ID</th>
                <th scope="col">Status</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">Used by</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((token) => (
                <tr key={token.id}>
                  <td class="mono">{token.id}</td>
                  <td class="wrap">{token.spiffe_id}</td>
                  <td>
                    <StatusBadge status={token.status} />
                  </td>
                  <td>
                    {dateTime(token.created_at)}
                    <br />
                    <span class="muted">{token.created_by}</span>
                  </td>
                  <td>{dateTime(token.expires_at)}</td>
                  <td class="mono">{token.used_by_serial ?? '—'}</td>
                  <td>
                    {token.status === 'unused' ? (
                      <button type="button" class="danger small" aria-label={`Revoke token ${token.id}`} onClick={() => setRevoking(token)}>
                        Revoke
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </PagedList>
      <Confirm
        open={revoking !== null}
        title="Revoke this join token?"
        message={revoking === null ? '' : `Token ${revoking.id} for ${revoking.spiffe_id} will no longer be accepted.`}
        confirmLabel="Yes, revoke token"
        busy={revoke.busy}
        onConfirm={() => void (revoking === null ? undefined : revoke.run(revoking).then(() => setRevoking(null)))}
        onCancel={() => setRevoking(null)}
      />
    </>
  );
}

function NewTokenForm({ onCreated }: { onCreated: (token: JoinToken & { readonly token: string }) => void }) {
  const [spiffeId, setSpiffeId] = useState('');
  const [ttl, setTtl] = useState('10m');
  const create = useAction(async () => {
    onCreated(await api.createJoinToken(spiffeId.trim(), ttl.trim()));
    setSpiffeId('');
  });
  const submit = (event: Event) => {
    event.preventDefault();
    void create.run();
  };
  return (
    <form class="form-grid panel" aria-label="New join token" onSubmit={submit}>
      <div class="field field-wide">
        <label for="token-spiffe-id">Node SPIFFE ID</label>
        <input
          id="token-spiffe-id"
          required
          value={spiffeId}
          placeholder="spiffe://example.org/node/host-1"
          onInput={(e) => setSpiffeId(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="token-ttl">Lifetime</label>
        <input id="token-ttl" required value={ttl} aria-describedby="token-ttl-help" onInput={(e) => setTtl(e.currentTarget.value)} />
        <span id="token-ttl-help" class="hint">
          1m to 7d, e.g. 10m, 2h
        </span>
      </div>
      <ErrorMessage error={create.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={create.busy}>
          Create token
        </button>
      </div>
    </form>
  );
}
