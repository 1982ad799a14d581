/** Small pieces every view uses: the error line, the modal dialog, the pager, the certificate table. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Certificate, Page } from './api.js';
import { dateTime, identityOf } from './format.js';
import type { Loaded } from './load.js';
import type { Paging } from './paging.js';
import { certificateHref } from './router.js';

/** API failures, announced to screen readers as they appear (the problem document's detail). */
export function ErrorMessage({ error }: { error: string | null }) {
  if (error === null) return null;
  return (
    <p role="alert" class="error">
      {error}
    </p>
  );
}

/**
 * A modal <dialog>: showModal() makes the rest of the page inert (focus stays inside) and Escape closes it
 * (the browser's cancel event), which the owner hears through onClose.
 */
export function Modal({
  open,
  title,
  onClose,
  children,
}: {
  open: boolean;
  title: string;
  onClose: () => void;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (dialog === null) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  const headingId = `dialog-${title.replace(/[^A-Za-z0-9]+/g, '-').toLowerCase()}`;
  return (
    <dialog ref={ref} aria-labelledby={headingId} onClose={onClose}>
      <h2 id={headingId}>{title}</h2>
      {open ? children : null}
    </dialog>
  );
}

/** A yes/no confirmation for one destructive action. */
export function Confirm(props: {
  open: boolean;
  title: string;
  message: string;
  confirmLabel: string;
  busy: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <Modal open={props.open} title={props.title} onClose={props.onCancel}>
      <p>{props.message}</p>
      <div class="actions">
        <button type="button" class="danger" disabled={props.busy} onClick={props.onConfirm}>
          {props.confirmLabel}
        </button>
        <button type="button" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </Modal>
  );
}

/** Keyset paging: "Next page" follows the list's next_cursor; "Previous page" returns to the cursor we came from. */
export function Pager({ paging, nextCursor }: { paging: Paging; nextCursor: string | null | undefined }) {
  const hasNext = nextCursor !== null && nextCursor !== undefined;
  if (!paging.hasPrevious && !hasNext) return null;
  return (
    <div class="pager">
      {paging.hasPrevious ? (
        <button type="button" onClick={() => paging.previous()}>
          Previous page
        </button>
      ) : null}
      {hasNext ? (
        <button type="button" onClick={() => paging.next(nextCursor)}>
          Next page
        </button>
      ) : null}
    </div>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge badge-${status}`}>{status}</span>;
}

export function ProfileBadge({ profile }: { profile: string }) {
  return (
    <span class="profile">
      <span class={`swatch swatch-${profile}`} aria-hidden="true" />
      {profile}
    </span>
  );
}

/** Certificates as a table whose first column links to each certificate's page. */
export function CertificateTable({ items, caption }: { items: readonly Certificate[]; caption: string }) {
  return (
    <table>
      <caption class="visually-hidden">{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Serial</th>
          <th scope="col">Identity</th>
          <th scope="col">Profile</th>
          <th scope="col">Not after</th>
          <th scope="col">Status</th>
          <th scope="col">Requester</th>
        </tr>
      </thead>
      <tbody>
        {items.map((cert) => (
          <tr key={cert.serial}>
            <td>
              <a class="mono" href={certificateHref(cert.serial)}>
                {cert.serial}
              </a>
            </td>
            <td class="wrap">{identityOf(cert)}</td>
            <td>
              <ProfileBadge profile={cert.profile} />
            </td>
            <td class="nowrap">{dateTime(cert.not_after)}</td>
            <td>
              <StatusBadge status={cert.status} />
            </td>
            <td class="wrap">{cert.requester}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** A loaded resource: its error, "Loading…" while the first answer is awaited, then what `children` draws of it. */
export function WhenLoaded<T>({
  loaded,
  loadingText = 'Loading…',
  children,
}: {
  loaded: Loaded<T>;
  loadingText?: string;
  children: (data: T) => ComponentChildren;
}) {
  return (
    <>
      <ErrorMessage error={loaded.error} />
      {loaded.data === undefined ? loaded.loading ? <p class="muted">{loadingText}</p> : null : children(loaded.data)}
    </>
  );
}

/** A keyset-paged list: WhenLoaded, `empty` when the page has no items, and the pager. */
export function PagedList<T>({
  paging,
  page,
  empty,
  children,
}: {
  paging: Paging;
  page: Loaded<Page<T>>;
  empty: ComponentChildren;
  children: (items: readonly T[]) => ComponentChildren;
}) {
  return (
    <>
      <WhenLoaded loaded={page}>{(data) => (data.items.length === 0 ? <p>{empty}</p> : children(data.items))}</WhenLoaded>
      <Pager paging={paging} nextCursor={page.data?.next_cursor} />
    </>
  );
}
