/**
 * #/entries: registration entries (which parent may obtain which SPIFFE ID): list, create, delete (confirmed).
 * The server validates every field; its problem detail is what the form shows when it refuses.
 */
import { useState } from 'preact/hooks';
import { useAction } from '../action.js';
import { api, InputError, type Entry, type NewEntry } from '../api.js';
import { Confirm, ErrorMessage, PagedList } from '../components.js';
import { dateTime } from '../format.js';
import { usePagedLoad } from '../paging.js';

const PAGE_SIZE = 50;

export function EntriesView() {
  const { paging, page } = usePagedLoad((cursor) => api.entries({ limit: PAGE_SIZE, ...(cursor === undefined ? {} : { cursor }) }), []);
  const [deleting, setDeleting] = useState<Entry | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const remove = useAction(async (entry: Entry) => {
    await api.deleteEntry(entry.id);
    setNotice(`Entry ${entry.id} (${entry.spiffe_id}) was deleted.`);
    page.reload();
  });

  return (
    <>
      <h1 tabIndex={-1}>Registration entries</h1>
      <ErrorMessage error={remove.error} />
      {notice === null ? null : (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      <PagedList paging={paging} page={page} empty="No registration entries yet.">
        {(items) => (
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
              {items.map((entry) => (
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
      </PagedList>
      <Confirm
        open={deleting !== null}
        title="Delete this entry?"
        message={
          deleting === null
            ? ''
            : `${deleting.parent_id} will no longer obtain SVIDs for ${deleting.spiffe_id}. Certificates already issued stay valid until they expire or are revoked.`
        }
        confirmLabel="Yes, delete entry"
        busy={remove.busy}
        onConfirm={() => void (deleting === null ? undefined : remove.run(deleting).then(() => setDeleting(null)))}
        onCancel={() => setDeleting(null)}
      />
      <NewEntryForm
        onCreated={(entry) => {
          setNotice(`Entry ${entry.id} was created for ${entry.spiffe_id}.`);
          remove.clearError();
          page.reload();
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
  const create = useAction(async () => {
    const names = dnsNamesOf(dnsNames);
    const ttlSeconds = ttl.trim() === '' ? undefined : Number(ttl);
    if (ttlSeconds !== undefined && !Number.isInteger(ttlSeconds)) throw new InputError('X.509 TTL must be a whole number of seconds.');
    const entry: NewEntry = {
      spiffe_id: spiffeId.trim(),
      parent_id: parentId.trim(),
      ...(ttlSeconds === undefined ? {} : { x509_ttl: ttlSeconds }),
      ...(names.length === 0 ? {} : { dns_names: names }),
      // Granting an admin identity is an explicit choice: the API refuses an /admin/ ID without it, and it without one.
      ...(admin ? { admin: true } : {}),
    };
    const created = await api.createEntry(entry);
    setSpiffeId('');
    setParentId('');
    setTtl('');
    setDnsNames('');
    setAdmin(false);
    onCreated(created);
  });
  const submit = (event: Event) => {
    event.preventDefault();
    void create.run();
  };

  return (
    <section aria-labelledby="new-entry-heading" class="panel">
      <h2 id="new-entry-heading">New entry</h2>
      <form class="form-grid" onSubmit={submit}>
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
        <ErrorMessage error={create.error} />
        <div class="actions">
          <button type="submit" class="primary" disabled={create.busy}>
            Create entry
          </button>
        </div>
      </form>
    </section>
  );
}
