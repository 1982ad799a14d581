/**
 * #/certificates?q=..&profile=..&status=..: search the ledger. The query lives in the hash, so a search can be
 * bookmarked and the back button works. What `q` means: a SPIFFE ID when it starts with spiffe://, a serial when
 * it is hex (with or without colons) and the ledger has that serial, otherwise a DNS name among the SANs.
 */
import { useState } from 'preact/hooks';
import { api, ApiError, CERTIFICATE_STATUSES, PROFILE_NAMES, type Certificate, type Page } from '../api.js';
import { CertificateTable, ErrorMessage, Pager } from '../components.js';
import { useLoad } from '../load.js';
import { usePaging } from '../paging.js';

const PAGE_SIZE = 50;
const SERIAL_TEXT = /^(?:[0-9a-fA-F]{1,42}|(?:[0-9a-fA-F]{2}:){1,20}[0-9a-fA-F]{2})$/;

interface Search {
  readonly q: string;
  readonly profile: string;
  readonly status: string;
}

function searchOf(query: URLSearchParams): Search {
  return { q: (query.get('q') ?? '').trim(), profile: query.get('profile') ?? '', status: query.get('status') ?? '' };
}

function hashOf(search: Search): string {
  const params = new URLSearchParams();
  if (search.q !== '') params.set('q', search.q);
  if (search.profile !== '') params.set('profile', search.profile);
  if (search.status !== '') params.set('status', search.status);
  const text = params.toString();
  return text === '' ? '#/certificates' : `#/certificates?${text}`;
}

/** A serial lookup that finds the certificate answers alone (filtered as the list would be); otherwise null. */
async function bySerial(search: Search): Promise<Page<Certificate> | null> {
  if (!SERIAL_TEXT.test(search.q)) return null;
  try {
    const cert = await api.certificate(search.q);
    const matches = (search.profile === '' || cert.profile === search.profile) && (search.status === '' || cert.status === search.status);
    return { items: matches ? [cert] : [], next_cursor: null };
  } catch (error) {
    // Not a serial the ledger knows (or not one at all): the text may still be a DNS name.
    if (error instanceof ApiError && (error.status === 404 || error.status === 400)) return null;
    throw error;
  }
}

async function find(search: Search, cursor: string | undefined): Promise<Page<Certificate>> {
  if (cursor === undefined) {
    const found = await bySerial(search);
    if (found !== null) return found;
  }
  const filters = {
    ...(search.profile === '' ? {} : { profile: search.profile }),
    ...(search.status === '' ? {} : { status: search.status }),
    ...(cursor === undefined ? {} : { cursor }),
    limit: PAGE_SIZE,
  };
  if (search.q === '') return api.certificates(filters);
  if (search.q.startsWith('spiffe://')) return api.certificates({ ...filters, spiffe_id: search.q });
  return api.certificates({ ...filters, dns_name: search.q });
}

export function CertificatesView({ query }: { query: URLSearchParams }) {
  const search = searchOf(query);
  const key = hashOf(search);
  return (
    <>
      <h1 tabIndex={-1}>Certificates</h1>
      <SearchForm key={`form${key}`} initial={search} />
      <Results key={`results${key}`} search={search} />
    </>
  );
}

function SearchForm({ initial }: { initial: Search }) {
  const [q, setQ] = useState(initial.q);
  const [profile, setProfile] = useState(initial.profile);
  const [status, setStatus] = useState(initial.status);
  const submit = (event: Event) => {
    event.preventDefault();
    const target = hashOf({ q: q.trim(), profile, status });
    // The same search again (after a revoke elsewhere, say) reloads by a hashchange round trip.
    if (window.location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
    else window.location.hash = target;
  };
  return (
    <form role="search" class="search" onSubmit={submit}>
      <div class="field field-wide">
        <label for="search-q">Search</label>
        <input
          id="search-q"
          type="text"
          value={q}
          placeholder="spiffe://…, a DNS name or a serial"
          aria-describedby="search-help"
          onInput={(e) => setQ(e.currentTarget.value)}
        />
      </div>
      <div class="field">
        <label for="search-profile">Profile</label>
        <select id="search-profile" value={profile} onChange={(e) => setProfile(e.currentTarget.value)}>
          <option value="">Any</option>
          {PROFILE_NAMES.map((p) => (
            <option key={p} value={p}>
              {p}
            </option>
          ))}
        </select>
      </div>
      <div class="field">
        <label for="search-status">Status</label>
        <select id="search-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
          <option value="">Any</option>
          {CERTIFICATE_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </div>
      <button type="submit" class="primary">
        Search
      </button>
      <p id="search-help" class="hint">
        A SPIFFE ID (spiffe://…), a serial in hex (colons allowed) or a DNS name; leave it empty to list by profile and status alone.
      </p>
    </form>
  );
}

function Results({ search }: { search: Search }) {
  const paging = usePaging();
  const page = useLoad(() => find(search, paging.cursor), [paging.cursor]);
  return (
    <section aria-label="Results">
      <ErrorMessage error={page.error} />
      {page.data === undefined ? (
        page.loading ? (
          <p class="muted">Loading…</p>
        ) : null
      ) : page.data.items.length === 0 ? (
        <p>No certificates match.</p>
      ) : (
        <CertificateTable items={page.data.items} caption="Certificates matching the search" />
      )}
      <Pager paging={paging} nextCursor={page.data?.next_cursor} />
    </section>
  );
}
