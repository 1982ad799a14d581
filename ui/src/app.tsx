/** The console's frame: the skip link, the navigation and the view the hash names. */
import { useEffect, useRef } from 'preact/hooks';
import { useRoute, type Route } from './router.js';
import { AlertsView } from './views/alerts.js';
import { CertificateView } from './views/certificate.js';
import { CertificatesView } from './views/certificates.js';
import { EntriesView } from './views/entries.js';
import { TimelineView } from './views/timeline.js';
import { TokensView } from './views/tokens.js';

const LINKS = [
  { href: '#/timeline', label: 'Timeline', views: ['timeline'] },
  { href: '#/certificates', label: 'Certificates', views: ['certificates', 'certificate'] },
  { href: '#/entries', label: 'Entries', views: ['entries'] },
  { href: '#/tokens', label: 'Join tokens', views: ['tokens'] },
  { href: '#/alerts', label: 'Alerts', views: ['alerts'] },
] as const;

const TITLES: Record<Route['view'], string> = {
  timeline: 'Expiry timeline',
  certificates: 'Certificates',
  certificate: 'Certificate',
  entries: 'Registration entries',
  tokens: 'Join tokens',
  alerts: 'Alerts',
  missing: 'Not found',
};

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'timeline':
      return <TimelineView />;
    case 'certificates':
      return <CertificatesView query={route.query} />;
    case 'certificate':
      return <CertificateView key={route.serial} serial={route.serial} />;
    case 'entries':
      return <EntriesView />;
    case 'tokens':
      return <TokensView />;
    case 'alerts':
      return <AlertsView />;
    case 'missing':
      return (
        <>
          <h1 tabIndex={-1}>Not found</h1>
          <p>
            The console has no page at <span class="mono">#{route.path}</span>. <a href="#/timeline">Go to the timeline</a>.
          </p>
        </>
      );
  }
}

export function App() {
  const route = useRoute();
  const shownView = useRef<Route['view'] | null>(null);
  useEffect(() => {
    document.title = `${TITLES[route.view]} · keysmith`;
    // On moving to another view, focus goes to its heading so screen readers announce it (not on first load,
    // nor when only a search query changed: focus then stays in the form).
    if (shownView.current !== null && shownView.current !== route.view) document.querySelector<HTMLElement>('main h1')?.focus();
    shownView.current = route.view;
  }, [route]);
  return (
    <>
      <a class="skip-link" href="#main" onClick={(e) => skipToMain(e)}>
        Skip to content
      </a>
      <header class="top">
        <span class="brand">keysmith</span>
        <nav aria-label="Console">
          <ul>
            {LINKS.map((link) => (
              <li key={link.href}>
                <a href={link.href} aria-current={(link.views as readonly string[]).includes(route.view) ? 'page' : undefined}>
                  {link.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" tabIndex={-1}>
        <View route={route} />
      </main>
    </>
  );
}

/** The skip link must not change the hash (the router owns it): move focus instead. */
function skipToMain(event: MouseEvent) {
  event.preventDefault();
  document.getElementById('main')?.focus();
}
