/**
 * #/entries: registration entries (which parent may obtain which SPIFFE ID): list, create, delete (confirmed).
 * The server validates every field; its problem detail is what the form shows when it refuses.
 */
import { useState } from 'preact/hooks';
import { api, errorText, type Entry, type NewEntry } from '../api.js';
import { Confirm, ErrorMessage, Pager } from '../components.js';
import { dateTime } from '../format.js';
import { useLoad } from '../load.js';
import { usePaging } from '../paging.js';

const PAGE_SIZE = 50;

export function EntriesView() {
  const paging = usePaging();
  const [generation, setGeneration] = useState(0);
  const page = useLoad(
    () => api.entries({ limit: PAGE_SIZE, ...(paging.cursor === undefined ? {} : { cursor: paging.cursor }) }),
    [paging.cursor, generation],
  );
  const [deleting, setDeleting] = useState<Entry | null>(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const reload = () => setGeneration((n) => n + 1);

  const confirmDelete = async () => {
    if (deleting === null) return;
    setBusy(true);
    try {
      await api.deleteEntry(deleting.id);
      setNotice(`Entry ${deleting.id} (${deleting.spiffe_id}) was deleted.`);
      setActionError(null);
      reload();
    } catch (failure) {
      setActionError(errorText(failure));
    } finally {
      setBusy(false);
      setDeleting(null);
    }
  };

  return (
    <>
      <h1 tabIndex={-1}>Registration entries</h1>
      <ErrorMessage error={page.error ?? actionError} />
      {notice === null ? null : (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {page.data === undefined ? (
        page.loading ? (
          <p class="muted">Loading…</p>
        ) : null
      ) : page.data.items.length === 0 ? (
        <p>No registration entries yet.</p>
      ) : (
        <table>
          <caption class="visually-hidden">Registration entries</caption>
          <thead>
            <tr>
              <th scope="col">ID</th>
              <th scope="col">SPIFFE ID</th>
              <th scope="col">Parent ID</th>
              <th scope="col">X.509 TTL</th>
              <th scope="col">DNS names</th>
              <th scope="col">Admin</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {page.data.items.map((entry) => (
              <tr key={entry.id}>
                <td class="mono">{entry.id}</td>
                <td class="wrap">{entry.spiffe_id}</td>
                <td class="wrap">{entry.parent_id}</td>
                <td>{entry.x509_ttl} s</td>
                <td class="wrap">{entry.dns_names.join(', ') || '—'}</td>
                <td>{entry.admin ? 'yes' : 'no'}</td>
                <td>{dateTime(entry.created_at)}</td>
                <td>
                  <button type="button" class="danger small" aria-label={`Delete entry ${entry.id}`} onClick={() => setDeleting(entry)}>
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paging={paging} nextCursor={page.data?.next_cursor} />
      <Confirm
        open={deleting !== null}
        title="Delete this entry?"
        message={
          deleting === null
            ? ''
            : `${deleting.parent_id} will no longer obtain SVIDs for ${deleting.spiffe_id}. Certificates already issued stay valid until they expire or are revoked.`
        }
        confirmLabel="Yes, delete entry"
        busy={busy}
        onConfirm={() => void confirmDelete()}
        onCancel={() => setDeleting(null)}
      />
      <NewEntryForm
        onCreated={(entry) => {
          setNotice(`Entry ${entry.id} was created for ${entry.spiffe_id}.`);
          setActionError(null);
          reload();
        }}
      />
    </>
  );
}

/** "a.example, b.example" or one per line: the DNS names an entry puts in its SVIDs. */
function dnsNamesOf(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function NewEntryForm({ onCreated }: { onCreated: (entry: Entry) => void }) {
  const [spiffeId, setSpiffeId] = useState('');
  const [parentId, setParentId] = useState('');
  const [ttl, setTtl] = useState('');
  const [dnsNames, setDnsNames] = useState('');
  const [admin, setAdmin] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const submit = async (event: Event) => {
    event.preventDefault();
    const names = dnsNamesOf(dnsNames);
    const ttlSeconds = ttl.trim() === '' ? undefined : Number(ttl);
    if (ttlSeconds !== undefined && !Number.isInteger(ttlSeconds)) {
      setError('X.509 TTL must be a whole number of seconds.');
      return;
    }
    const entry: NewEntry = {
      spiffe_id: spiffeId.trim(),
      parent_id: parentId.trim(),
      ...(ttlSeconds === undefined ? {} : { x509_ttl: ttlSeconds }),
      ...(names.length === 0 ? {} : { dns_names: names }),
      // Granting an admin identity is an explicit choice: the API refuses an /admin/ ID without it, and it without one.
      ...(admin ? { admin: true } : {}),
    };
    setBusy(true);
    try {
      const created = await api.createEntry(entry);
      setSpiffeId('');
      setParentId('');
      setTtl('');
      setDnsNames('');
      setAdmin(false);
      setError(null);
      onCreated(created);
    } catch (failure) {
      setError(errorText(failure));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="new-entry-heading" class="panel">
      <h2 id="new-entry-heading">New entry</h2>
      <form class="form-grid" onSubmit={(e) => void submit(e)}>
        <div class="field">
          <label for="entry-spiffe-id">SPIFFE ID</label>
          <input
            id="entry-spiffe-id"
            required
            value={spiffeId}
            placeholder="spiffe://example.org/service/web"
            onInput={(e) => setSpiffeId(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="entry-parent-id">Parent ID</label>
          <input
            id="entry-parent-id"
            required
            value={parentId}
            placeholder="spiffe://example.org/node/host-1"
            onInput={(e) => setParentId(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="entry-ttl">X.509 TTL (seconds, optional)</label>
          <input id="entry-ttl" inputMode="numeric" value={ttl} placeholder="3600" onInput={(e) => setTtl(e.currentTarget.value)} />
        </div>
        <div class="field">
          <label for="entry-dns">DNS names (optional, comma-separated)</label>
          <input id="entry-dns" value={dnsNames} onInput={(e) => setDnsNames(e.currentTarget.value)} />
        </div>
        <div class="field field-check">
          <input id="entry-admin" type="checkbox" checked={admin} onChange={(e) => setAdmin(e.currentTarget.checked)} />
          <label for="entry-admin">Grants an admin identity (an ID under /admin/)</label>
        </div>
        <ErrorMessage error={error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={busy}>
            Create entry
          </button>
        </div>
      </form>
    </section>
  );
}
