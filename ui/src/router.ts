/**
 * The hash router: `#/timeline` (default), `#/certificates?q=..&profile=..&status=..`, `#/certificates/<serial>`,
 * `#/entries`, `#/tokens`, `#/alerts`. The hash never reaches the server, so every view is the one index.html.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { readonly view: 'timeline' }
  | { readonly view: 'certificates'; readonly query: URLSearchParams }
  | { readonly view: 'certificate'; readonly serial: string }
  | { readonly view: 'entries' }
  | { readonly view: 'tokens' }
  | { readonly view: 'alerts' }
  | { readonly view: 'missing'; readonly path: string };

export function parseRoute(hash: string): Route {
  const text = hash.replace(/^#/, '');
  const mark = text.indexOf('?');
  const path = (mark < 0 ? text : text.slice(0, mark)).replace(/\/+$/, '');
  const query = new URLSearchParams(mark < 0 ? '' : text.slice(mark + 1));
  if (path === '' || path === '/timeline') return { view: 'timeline' };
  if (path === '/certificates') return { view: 'certificates', query };
  const certificate = /^\/certificates\/([^/]+)$/.exec(path);
  if (certificate?.[1] !== undefined) return { view: 'certificate', serial: decodeURIComponent(certificate[1]) };
  if (path === '/entries') return { view: 'entries' };
  if (path === '/tokens') return { view: 'tokens' };
  if (path === '/alerts') return { view: 'alerts' };
  return { view: 'missing', path };
}

export function certificateHref(serial: string): string {
  return `#/certificates/${encodeURIComponent(serial)}`;
}

/** The current route, following hashchange. */
export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const follow = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', follow);
    return () => window.removeEventListener('hashchange', follow);
  }, []);
  return route;
}
