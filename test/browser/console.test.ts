import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { runProcess } from '../helpers/processes.js';
import { systemClock } from '../../src/shared/clock.js';
import {
  createAgedCa,
  DAY,
  startOfTodayUtc,
  PAGING_DAY,
  PAGING_DAY_COUNT,
  seedKnownFleet,
  TRUST_DOMAIN,
  utcDate,
  type KnownFleet,
} from './fleet.js';
import { contrastFailures } from './contrast.js';
import { chromiumPath, ConsoleService, consoleContext, launchChromium, screenshot, type Identity } from './harness.js';
import {
  attributeOfAll,
  focusIsVisible,
  focusedLabel,
  focusTrappedInDialog,
  linkedSerials,
  serialsOverPages,
  settledSerials,
  textMatching,
  until,
} from './page-helpers.js';

/**
 * The console against a real `keysmith serve` with a known fleet: the
 * timeline's exact counts and day listings, search and its filters and
 * paging, a certificate page, a revocation from the UI that `openssl ocsp`
 * then answers `revoked`, and a keyboard-only pass. One serve and one
 * Chromium for the file; the tests run in order (the revocation comes last
 * among the ones that count).
 */

let service: ConsoleService;
let fleet: KnownFleet;
let admin: Identity;
let browser: Browser;
let context: BrowserContext;
let page: Page;

const pageErrors: string[] = [];

const DAY_BUTTON = /^(\d{4}-\d{2}-\d{2}): (\d+) certificates$/;

before(async () => {
  chromiumPath(); // before anything is made: no Chromium, a clear failure at once
  service = await ConsoleService.create();
  const expired = await createAgedCa(service.dataDir);
  admin = await service.issueIdentity('tester', `spiffe://${TRUST_DOMAIN}/admin/tester`);
  fleet = await seedKnownFleet(service.dataDir, expired);
  await service.start();
  browser = await launchChromium();
  context = await consoleContext(browser, service, admin);
  page = await context.newPage();
  // Everything the page reports as going wrong (a CSP refusal, an uncaught error), checked by the last test.
  page.on('console', (message) => {
    const where = message.location().url;
    // index.html names its icon, so Chromium asks for no /favicon.ico: any error at all is counted.
    if (message.type() === 'error') {
      pageErrors.push(`console: ${message.text()} (${where})`);
    }
  });
  page.on('pageerror', (error) => pageErrors.push(`uncaught: ${error.message}`));
  page.on('response', (response) => {
    if (response.status() >= 400) pageErrors.push(`HTTP ${response.status()} for ${response.request().method()} ${response.url()}`);
  });
});

after(async () => {
  await context?.close();
  await browser?.close();
  await service?.stop();
});

function dateOf(day: number): string {
  return utcDate(fleet.today + day * DAY);
}

function seededOn(day: number): string[] {
  return (fleet.perDay.get(day) ?? []).map((c) => c.serial).sort();
}

/** A fresh load of a console route (a hash change alone would keep the previous view's state, e.g. an open dialog). */
async function openRoute(hash: string): Promise<void> {
  await page.goto('about:blank');
  const response = await page.goto(`/ui/${hash}`);
  assert.equal(response?.status(), 200, `GET /ui/ for ${hash}`);
}

async function openTimeline(): Promise<void> {
  await openRoute('#/timeline');
  await page.getByRole('heading', { name: 'Expiry timeline', level: 1 }).waitFor();
}

/** Every serial listed for one day, following Next page to the end. */
async function daySerials(day: number): Promise<{ serials: string[]; pages: number }> {
  const section = page.getByRole('region', { name: `Certificates expiring on ${dateOf(day)}`, exact: true });
  await section.waitFor();
  return serialsOverPages(section, section, `the serials of ${dateOf(day)}`);
}

describe('the expiry timeline', () => {
  it('shows the exact total, the exact count on each day button and per profile, the 7-day threshold and the CA’s notAfter', async () => {
    await openTimeline();
    const expected = service.expectedTimeline();
    const total = await textMatching(page.getByTestId('timeline-total'), /^(\d+) /, 'the timeline total');
    // The fleet's days are counted from the UTC day it was seeded on.
    assert.equal(startOfTodayUtc(), fleet.today, 'the UTC day changed while the test ran (seeded before midnight): run it again');
    assert.equal(Number(total[1]), expected.total);
    const labels = await attributeOfAll(page.getByRole('button', { name: DAY_BUTTON }), 'aria-label');
    assert.equal(labels.length, 90, 'one button per day of the 90');
    const shown = new Map(labels.map((label) => DAY_BUTTON.exec(label)).map((m) => [m?.[1] ?? '', Number(m?.[2])]));
    assert.deepEqual(shown, expected.perDate);
    // By construction (fleet.ts), not only by the oracle: the fleet's days hold what it put there.
    for (const [day, count] of [
      [3, 4],
      [10, 6],
      [45, 2],
      [PAGING_DAY, PAGING_DAY_COUNT],
      [89, 1],
    ] as const) {
      assert.equal(seededOn(day).length, count, `fleet day ${day}`);
      await page.getByRole('button', { name: `${dateOf(day)}: ${count} certificates`, exact: true }).waitFor({ timeout: 2_000 });
    }
    // Stacked by profile: the chart's numbers for screen readers, per day and profile, as the ledger has them.
    const table = page.getByRole('table', { name: 'Certificates expiring per day, by profile' });
    const header = await table.locator('thead th').allTextContents();
    assert.deepEqual(header.slice(0, 2), ['Date', 'Total']);
    const rows = await table
      .locator('tbody tr')
      .evaluateAll((trs: { children: ArrayLike<{ textContent: string | null }> }[]) =>
        trs.map((tr) => Array.from(tr.children, (cell) => cell.textContent ?? '')),
      );
    assert.equal(rows.length, 90);
    const shownByProfile = new Map<string, number>();
    for (const [date = '', totalCell, ...counts] of rows) {
      assert.equal(Number(totalCell), expected.perDate.get(date), `the table's total for ${date}`);
      counts.forEach((count, i) => {
        if (Number(count) !== 0) shownByProfile.set(`${date} ${header[i + 2] ?? ''}`, Number(count));
      });
    }
    assert.deepEqual(shownByProfile, expected.perDateProfile);
    // By construction: day 3 holds 2 svid and 2 tls-server, day 10 5 tls-server and 1 node.
    assert.equal(shownByProfile.get(`${dateOf(3)} svid`), 2);
    assert.equal(shownByProfile.get(`${dateOf(3)} tls-server`), 2);
    assert.equal(shownByProfile.get(`${dateOf(10)} tls-server`), 5);
    assert.equal(shownByProfile.get(`${dateOf(10)} node`), 1);
    await page.getByText('7-day alert threshold').first().waitFor();
    // The CA's certificates live years: outside the window they are listed under the chart, with their notAfter.
    for (const [file, cn] of [
      [service.bundlePath, 'keysmith root CA'],
      [service.intermediatePath, 'keysmith intermediate CA'],
    ] as const) {
      const end = await runProcess('openssl', ['x509', '-in', file, '-noout', '-enddate', '-dateopt', 'iso_8601']);
      const date = /notAfter=(\d{4}-\d{2}-\d{2})/.exec(end.stdout)?.[1];
      assert.ok(date, end.stdout + end.stderr);
      await page.getByText(new RegExp(`CN=${cn} expires ${date}$`)).waitFor({ timeout: 2_000 });
    }
    await screenshot(page, 'timeline');
  });

  it('clicking a day lists exactly that day’s serials (revoked ones left out), across pages', async () => {
    await openTimeline();
    await page.getByRole('button', { name: `${dateOf(10)}: 6 certificates`, exact: true }).click();
    assert.deepEqual((await daySerials(10)).serials, seededOn(10));
    await screenshot(page, 'timeline-day');
    await page.getByRole('button', { name: `${dateOf(3)}: 4 certificates`, exact: true }).click();
    assert.deepEqual((await daySerials(3)).serials, seededOn(3));
    await page.getByRole('button', { name: `${dateOf(PAGING_DAY)}: ${PAGING_DAY_COUNT} certificates`, exact: true }).click();
    const paged = await daySerials(PAGING_DAY);
    assert.deepEqual(paged.serials, seededOn(PAGING_DAY));
    assert.ok(paged.pages >= 2, `${PAGING_DAY_COUNT} certificates came on ${paged.pages} page(s): no keyset paging was exercised`);
  });
});

describe('search', () => {
  async function search(query: string, filters: { profile?: string; status?: string } = {}): Promise<void> {
    await openRoute('#/certificates');
    await page.getByRole('heading', { name: 'Certificates', level: 1 }).waitFor();
    const form = page.getByRole('search');
    await form.getByRole('textbox', { name: 'Search' }).fill(query);
    await form.getByLabel('Profile').selectOption(filters.profile ?? 'Any');
    await form.getByLabel('Status').selectOption(filters.status ?? 'Any');
    await form.getByRole('button', { name: 'Search', exact: true }).click();
  }

  const results = (): ReturnType<Page['locator']> => page.locator('table').first();

  it('finds a certificate by SPIFFE ID', async () => {
    const svid = fleet.certificates.find((c) => c.spiffeId === fleet.searchSpiffeId);
    assert.ok(svid);
    await search(fleet.searchSpiffeId);
    assert.deepEqual(await settledSerials(results(), 'the SPIFFE ID search results'), [svid.serial]);
    await screenshot(page, 'certificates');
  });

  it('finds a certificate by DNS name', async () => {
    const server = fleet.certificates.find((c) => c.dnsNames.includes(fleet.searchDnsName));
    assert.ok(server);
    await search(fleet.searchDnsName);
    assert.deepEqual(await settledSerials(results(), 'the DNS search results'), [server.serial]);
  });

  it('finds a certificate by serial, with or without colons', async () => {
    const target = fleet.certificates.find((c) => c.profile === 'node');
    assert.ok(target);
    for (const typed of [target.serial, target.serial.toUpperCase().replace(/(..)(?!$)/g, '$1:')]) {
      await search(typed);
      // Either the one-row result or straight to the certificate page: both name only this serial.
      await until(`the serial search for ${typed}`, async () => {
        const onPage = await page.getByRole('heading', { name: `Certificate ${target.serial}`, level: 1 }).count();
        if (onPage > 0) return true;
        const serials = await linkedSerials(results());
        return serials.length === 1 && serials[0] === target.serial ? true : undefined;
      });
    }
  });

  const allPages = (what: string): Promise<{ serials: string[]; pages: number }> => serialsOverPages(results(), page, what);

  const now = (): number => systemClock.now();

  it('the status and profile filters narrow the results', async () => {
    const rows = service.ledgerRows();
    const expired = rows.filter((r) => r.status === 'valid' && r.notAfter < now()).map((r) => r.serial);
    assert.deepEqual(
      expired.sort(),
      fleet.certificates
        .filter((c) => c.notAfter < fleet.today)
        .map((c) => c.serial)
        .sort(),
    );
    await search('', { status: 'expired' });
    assert.deepEqual((await allPages('expired certificates')).serials, expired);
    const revoked = rows.filter((r) => r.status === 'revoked').map((r) => r.serial);
    await search('', { status: 'revoked' });
    assert.deepEqual((await allPages('revoked certificates')).serials, revoked);
    const nodes = rows.filter((r) => r.profile === 'node').map((r) => r.serial);
    assert.equal(nodes.length, 1);
    await search('', { profile: 'node' });
    assert.deepEqual((await allPages('node certificates')).serials, nodes);
    await search('', { profile: 'svid', status: 'revoked' });
    await page.getByText('No certificates match.').waitFor();
    await search('', { profile: 'tls-server', status: 'expired' });
    assert.deepEqual((await allPages('expired tls-server certificates')).serials, expired);
  });

  it('keyset paging shows a second page, and the pages together are exactly the valid tls-server certificates', async () => {
    const expected = service
      .ledgerRows()
      .filter((r) => r.profile === 'tls-server' && r.status === 'valid' && r.notAfter >= now())
      .map((r) => r.serial)
      .sort();
    await search('', { profile: 'tls-server', status: 'valid' });
    const listed = await allPages('valid tls-server certificates');
    assert.ok(listed.pages >= 2, `${expected.length} certificates came on one page: no second page`);
    assert.deepEqual(listed.serials, expected);
  });
});

describe('a certificate page and a revocation from the console', () => {
  it('shows the fields and OCSP status good; the revoke dialog closes on Escape and keeps focus inside', async () => {
    const target = fleet.certificates.find((c) => c.dnsNames.includes(fleet.searchDnsName));
    assert.ok(target);
    await openRoute(`#/certificates/${target.serial}`);
    await page.getByRole('heading', { name: `Certificate ${target.serial}`, level: 1 }).waitFor();
    const fields = page.locator('dl').first();
    await textMatching(fields, new RegExp(fleet.searchDnsName.replaceAll('.', '\\.')), 'the DNS name among the fields');
    const text = (await fields.textContent()) ?? '';
    assert.match(text, /tls-server/);
    assert.match(text, /valid/);
    assert.match(text, new RegExp(utcDate(target.notAfter)));
    await textMatching(page.getByTestId('ocsp-status'), /^good$/, 'OCSP status good');
    await page.getByRole('heading', { name: 'Alert history' }).waitFor();
    await screenshot(page, 'certificate');
    // The chain download: <serial>.pem, the leaf first, and openssl verifies it to keysmith's root.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page
        .getByRole('link', { name: 'Download chain (PEM)' })
        .or(page.getByRole('button', { name: 'Download chain (PEM)' }))
        .click(),
    ]);
    assert.equal(download.suggestedFilename(), `${target.serial}.pem`);
    const chainPath = join(service.workDir, `${target.serial}.pem`);
    await download.saveAs(chainPath);
    const chain = await readFile(chainPath, 'utf8');
    assert.equal(chain.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2, 'the leaf and the intermediate');
    const leafPath = join(service.workDir, `${target.serial}.leaf.pem`);
    await writeFile(leafPath, chain.slice(0, chain.indexOf('-----END CERTIFICATE-----') + 25) + '\n');
    const verified = await runProcess('openssl', ['verify', '-CAfile', service.bundlePath, '-untrusted', chainPath, leafPath]);
    assert.equal(verified.stdout.trim(), `${leafPath}: OK`, verified.stderr);
    const leaf = await runProcess('openssl', ['x509', '-in', leafPath, '-noout', '-serial', '-ext', 'subjectAltName']);
    assert.match(leaf.stdout, new RegExp(`serial=${target.serial}`, 'i'));
    assert.match(leaf.stdout, new RegExp(`DNS:${fleet.searchDnsName.replaceAll('.', '\\.')}`));

    await page.getByRole('button', { name: 'Revoke…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await dialog.getByLabel('Reason').inputValue(), 'unspecified');
    const visited = new Set<string>();
    for (let i = 0; i < 8; i += 1) {
      await page.keyboard.press('Tab');
      assert.ok(await focusTrappedInDialog(page), `Tab ${i + 1} left the dialog (focus on ${await focusedLabel(page)})`);
      visited.add(await focusedLabel(page));
    }
    // The dialog's controls are all reached (and nothing of the page behind it).
    for (const control of ['Revoke certificate', 'Cancel'])
      assert.ok(visited.has(control), `Tab never reached ${control}: ${[...visited].join(', ')}`);
    await screenshot(page, 'revoke-dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await textMatching(page.getByTestId('ocsp-status'), /^good$/, 'still good after Escape');
  });

  it('revokes with keyCompromise; the page and then `openssl ocsp` at the listener say revoked', async () => {
    const target = fleet.certificates.find((c) => c.dnsNames.includes(fleet.searchDnsName));
    assert.ok(target);
    await openRoute(`#/certificates/${target.serial}`);
    await page.getByRole('button', { name: 'Revoke…' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByLabel('Reason').selectOption('keyCompromise');
    await dialog.getByRole('button', { name: 'Revoke certificate' }).click();
    await textMatching(page.getByTestId('ocsp-status'), /^revoked$/, 'OCSP status revoked');
    await textMatching(page.locator('dl').first(), /keyCompromise/, 'the reason among the fields');
    assert.equal(await page.getByRole('button', { name: 'Revoke…' }).count(), 0, 'a revoked certificate offers no Revoke… button');

    // RFC 6960 at the listener's /ocsp, as any relying party asks; the response verified against the bundle.
    const ocsp = await runProcess(
      'openssl',
      [
        'ocsp',
        '-issuer',
        service.intermediatePath,
        '-serial',
        `0x${target.serial}`,
        '-CAfile',
        service.bundlePath,
        '-url',
        `${service.origin}/ocsp`,
        '-no_nonce',
      ],
      { lifetimeMs: 20_000 },
    );
    assert.equal(ocsp.code, 0, ocsp.stdout + ocsp.stderr);
    assert.match(ocsp.stdout + ocsp.stderr, /Response verify OK/);
    assert.match(ocsp.stdout, new RegExp(`0x${target.serial}: revoked`, 'i'));
    assert.match(ocsp.stdout, /Reason: keyCompromise/);
  });
});

describe('keyboard only', () => {
  it('reaches a day button with Tab and opens it with Enter', async () => {
    await openTimeline();
    await textMatching(page.getByTestId('timeline-total'), /^\d+ /, 'the timeline total');
    const target = `${dateOf(3)}: 4 certificates`;
    // Tab reaches the chart's day buttons (one tab stop for the group: arrow keys move between days, the
    // usual pattern for a row of 90 controls), then the arrows go to day 3.
    let label = '';
    const unmarked: string[] = [];
    for (let presses = 0; presses < 100 && !DAY_BUTTON.test(label); presses += 1) {
      await page.keyboard.press('Tab');
      label = await focusedLabel(page);
      if (!(await focusIsVisible(page))) unmarked.push(label);
    }
    assert.deepEqual(unmarked, [], 'focused with no visible focus indicator (outline or box-shadow)');
    assert.match(label, DAY_BUTTON, 'Tab never reached a day button');
    for (let presses = 0; presses < 90 && label !== target; presses += 1) {
      await page.keyboard.press(label < target ? 'ArrowRight' : 'ArrowLeft');
      label = await focusedLabel(page);
    }
    assert.equal(label, target, 'the arrow keys never reached the day 3 button');
    await page.keyboard.press('Enter');
    const section = page.getByRole('region', { name: `Certificates expiring on ${dateOf(3)}`, exact: true });
    assert.deepEqual((await settledSerials(section, `the serials of ${dateOf(3)}`)).sort(), seededOn(3));
  });
});

describe('contrast', () => {
  it('every view’s text meets WCAG AA contrast (4.5:1, large text 3:1), as Chromium renders it', async () => {
    const svid = fleet.certificates.find((c) => c.spiffeId === fleet.searchSpiffeId);
    assert.ok(svid);
    const views: [string, string][] = [
      ['#/timeline', 'Expiry timeline'],
      ['#/certificates?profile=tls-server', 'Certificates'],
      [`#/certificates/${svid.serial}`, `Certificate ${svid.serial}`],
      ['#/entries', 'Registration entries'],
      ['#/tokens', 'Join tokens'],
      ['#/alerts', 'Alerts'],
    ];
    const failures: string[] = [];
    for (const [hash, heading] of views) {
      await openRoute(hash);
      await page.getByRole('heading', { name: heading, level: 1 }).waitFor();
      // Wait for the view's data (no "Loading…" left), so its text is what is measured.
      await until(`${hash} loaded`, async () => ((await page.getByText('Loading…').count()) === 0 ? true : undefined));
      for (const f of await contrastFailures(page)) {
        failures.push(`${hash}: "${f.text}" ${f.ratio}:1 < ${f.required}:1 (${f.color} on ${f.background})`);
      }
    }
    assert.deepEqual(failures, []);
  });
});

describe('the whole session', () => {
  it('the console logged no error: no Content-Security-Policy refusal, no uncaught exception', () => {
    assert.deepEqual(pageErrors, []);
  });
});
