import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { scaleRowsInWindow, seedScaleFleet, TRUST_DOMAIN } from './fleet.js';
import { chromiumPath, ConsoleService, consoleContext, launchChromium, screenshot } from './harness.js';
import { textMatching, until } from './page-helpers.js';

/**
 * The issue's bound: "A fleet of 100,000 rows renders in under a second (the
 * API aggregates; the browser does not download 100,000 rows)". A ledger of
 * 100,000 certificates (recorded in one transaction through the repository)
 * under `keysmith serve`; Chromium opens the timeline and an init script
 * notes, on the page's own clock (performance.now(), zero at navigation
 * start), when the total and the 90 day buttons are in the DOM. The figure
 * is printed; the assertion is the issue's one second.
 */

const ROWS = 100_000;
/** The issue's bound on rendering the timeline of a 100,000-row fleet. */
const RENDER_BOUND_MS = 1_000;

/** Runs in the page before its scripts: the time (ms since navigation start) the chart is complete. */
const MARK_RENDERED = `
  (() => {
    const done = () => {
      const total = document.querySelector('[data-testid="timeline-total"]');
      if (total === null || !/^\\d+ /.test(total.textContent || '')) return false;
      const days = [...document.querySelectorAll('button[aria-label]')].filter((b) => /^\\d{4}-\\d{2}-\\d{2}: \\d+ certificates$/.test(b.getAttribute('aria-label')));
      return days.length === 90;
    };
    const observer = new MutationObserver(() => {
      if (window.__timelineRenderedAt === undefined && done()) {
        window.__timelineRenderedAt = performance.now();
        performance.mark('keysmith-timeline-rendered');
        observer.disconnect();
      }
    });
    observer.observe(document, { childList: true, subtree: true, characterData: true, attributes: true });
  })();
`;

let service: ConsoleService;
let browser: Browser;
let context: BrowserContext;
let page: Page;

before(async () => {
  chromiumPath(); // before anything is made: no Chromium, a clear failure at once
  service = await ConsoleService.create();
  const admin = await service.issueIdentity('tester', `spiffe://${TRUST_DOMAIN}/admin/tester`);
  const seeded = await seedScaleFleet(service.dataDir, ROWS);
  console.log(`# ${ROWS} rows recorded in one transaction in ${seeded.seconds.toFixed(1)} s`);
  await service.start();
  browser = await launchChromium();
  context = await consoleContext(browser, service, admin);
  page = await context.newPage();
  await page.addInitScript(MARK_RENDERED);
});

after(async () => {
  await context?.close();
  await browser?.close();
  await service?.stop();
});

interface Timing {
  rendered: number;
  timelineFetch: { start: number; end: number; bytes: number } | null;
}

async function renderTiming(): Promise<Timing> {
  return until('the rendered mark', () =>
    page.evaluate(`(() => {
      if (window.__timelineRenderedAt === undefined) return undefined;
      const fetches = performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/certificates/timeline'));
      const f = fetches[fetches.length - 1];
      return {
        rendered: window.__timelineRenderedAt,
        timelineFetch: f === undefined ? null : { start: f.startTime, end: f.responseEnd, bytes: f.encodedBodySize },
      };
    })()`),
  );
}

describe('the timeline over a 100,000-row ledger', () => {
  it('shows the exact total, rendered in under a second from navigation', async () => {
    const measured: number[] = [];
    for (let load = 0; load < 3; load += 1) {
      if (load === 0) await page.goto('/ui/#/timeline');
      else await page.reload();
      const timing = await renderTiming();
      measured.push(timing.rendered);
      const fetch = timing.timelineFetch;
      console.log(
        `# load ${load + 1} (${load === 0 ? 'cold: assets and TLS' : 'reload'}): chart rendered ${timing.rendered.toFixed(0)} ms after navigation start` +
          (fetch === null
            ? ''
            : `; GET /v1/certificates/timeline ${fetch.start.toFixed(0)}-${fetch.end.toFixed(0)} ms, ${fetch.bytes} bytes`),
      );
      assert.ok(fetch !== null && fetch.bytes < 64 * 1024, 'the timeline is aggregated by the server (a small response)');
    }
    const expected = service.expectedTimeline();
    assert.ok(expected.total >= scaleRowsInWindow(ROWS), 'the oracle sees at least the rows the fleet put in the window');
    const total = await textMatching(page.getByTestId('timeline-total'), /^(\d+) /, 'the timeline total');
    assert.equal(Number(total[1]), expected.total);
    await screenshot(page, 'timeline-100k');
    // The issue's bound, on every load (the first includes fetching the assets and the TLS handshakes).
    for (const ms of measured) assert.ok(ms < RENDER_BOUND_MS, `the chart rendered ${ms.toFixed(0)} ms after navigation start`);
  });
});
