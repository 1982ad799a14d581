import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { request } from 'node:https';
import { exchange, jsonHeaders, type Exchange } from '../helpers/exchange.js';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createAgedCa, issueAlertingCertificate, TRUST_DOMAIN } from './fleet.js';
import { adminFetchOptions, chromiumPath, ConsoleService, consoleContext, launchChromium, screenshot, type Identity } from './harness.js';
import { settledSerials, textMatching, until } from './page-helpers.js';
import { portOf } from '../helpers/processes.js';

/**
 * The console's operator views against a real `keysmith serve`: registration
 * entries and join tokens made and removed from forms (checked in the ledger
 * with the `keysmith` CLI, not only on the page), the alert outbox and Run
 * now, and the refusals: no client certificate, a workload's certificate, and
 * a listener the browser's trust does not reach. One serve for the file.
 */

let service: ConsoleService;
let admin: Identity;
let workload: Identity;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Expires in 3 days after living 8: detection alerts on it at serve's start-up catch-up. */
let alertingAtStart: string;

before(async () => {
  chromiumPath(); // before anything is made: no Chromium, a clear failure at once
  service = await ConsoleService.create();
  await createAgedCa(service.dataDir);
  alertingAtStart = await issueAlertingCertificate(service.dataDir, 3, 'alerts-at-start.fleet.example.test');
  const t0 = performance.now();
  [admin, workload] = await Promise.all([
    service.issueIdentity('tester', `spiffe://${TRUST_DOMAIN}/admin/tester`),
    service.issueIdentity('web', `spiffe://${TRUST_DOMAIN}/ns/shop/sa/web`),
  ]);
  const t1 = performance.now();
  await service.start();
  const t2 = performance.now();
  browser = await launchChromium();
  const t3 = performance.now();
  context = await consoleContext(browser, service, admin);
  console.log(
    `# identities ${Math.round(t1 - t0)} ms, serve ${Math.round(t2 - t1)} ms, chromium ${Math.round(t3 - t2)} ms, context ${Math.round(performance.now() - t3)} ms`,
  );
  page = await context.newPage();
});

after(async () => {
  await context?.close();
  await browser?.close();
  await service?.stop();
});

async function cliJson<T>(args: readonly string[]): Promise<T> {
  const result = await service.keysmith([...args, '--json']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  return JSON.parse(result.stdout) as T;
}

/** The modal confirmation's confirming button (the one that is not Cancel). */
async function confirmInDialog(): Promise<void> {
  const dialog = page.getByRole('dialog');
  await dialog.waitFor();
  await dialog
    .getByRole('button')
    .filter({ hasNotText: /^Cancel$/ })
    .click();
  await dialog.waitFor({ state: 'hidden' });
}

describe('registration entries', () => {
  it('creates an entry from the form, lists it, and deletes it after confirmation', async () => {
    const spiffeId = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/payments`;
    const parentId = `spiffe://${TRUST_DOMAIN}/node/rack-3`;
    await page.goto('/ui/#/entries');
    await page.getByRole('heading', { name: 'Registration entries', level: 1 }).waitFor();
    const form = page.locator('section', { has: page.getByRole('heading', { name: 'New entry' }) });
    await form.getByLabel('SPIFFE ID', { exact: true }).fill(spiffeId);
    await form.getByLabel('Parent ID', { exact: true }).fill(parentId);
    await form.getByRole('button', { name: 'Create entry' }).click();
    const row = page.getByRole('row').filter({ hasText: spiffeId });
    await row.waitFor();
    const listed = await cliJson<{ entries: { id: string; spiffe_id: string; parent_id: string }[] }>(['entries', 'list', '--all']);
    const entry = listed.entries.find((e) => e.spiffe_id === spiffeId);
    assert.ok(entry, `the ledger has no entry for ${spiffeId}: ${JSON.stringify(listed)}`);
    assert.equal(entry.parent_id, parentId);
    await textMatching(row, new RegExp(entry.id), 'the entry id in its row');
    await screenshot(page, 'entries');

    await page.getByRole('button', { name: `Delete entry ${entry.id}`, exact: true }).click();
    await confirmInDialog();
    await row.waitFor({ state: 'detached' });
    const after = await cliJson<{ entries: { id: string }[] }>(['entries', 'list', '--all']);
    assert.equal(
      after.entries.some((e) => e.id === entry.id),
      false,
      'the entry is still in the ledger',
    );
  });
});

describe('join tokens', () => {
  it('creates a token (shown once), lists it, and revokes it after confirmation', async () => {
    const node = `spiffe://${TRUST_DOMAIN}/node/rack-9`;
    await page.goto('/ui/#/tokens');
    await page.getByRole('heading', { name: 'Join tokens', level: 1 }).waitFor();
    // A SPIFFE ID outside /node/: the API's problem detail is shown in role="alert", word for word.
    const wrong = `spiffe://${TRUST_DOMAIN}/ns/shop/sa/web`;
    const problem = await adminRequest('POST', '/v1/join-tokens', JSON.stringify({ spiffe_id: wrong }));
    assert.ok(problem.status >= 400 && problem.status < 500, problem.body);
    const detail = (JSON.parse(problem.body) as { detail: string }).detail;
    await page.getByLabel('Node SPIFFE ID').fill(wrong);
    await page.getByRole('button', { name: 'Create token' }).click();
    await textMatching(page.getByRole('alert'), new RegExp(escapeRegExp(detail)), 'the problem detail in role=alert');
    await page.getByLabel('Node SPIFFE ID').fill(node);
    assert.equal(await page.getByLabel('Lifetime').inputValue(), '10m');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = (await textMatching(page.getByTestId('new-token'), /^\S{16,}$/, 'the new token'))[0];
    const row = page.getByRole('row').filter({ hasText: node });
    await row.waitFor();
    await screenshot(page, 'tokens');
    const tokens = await cliJson<{ tokens: { id: string; spiffe_id: string; status: string; created_by: string }[] }>([
      'tokens',
      'list',
      '--all',
    ]);
    const token = tokens.tokens.find((t) => t.spiffe_id === node);
    assert.ok(token, `the ledger has no token for ${node}`);
    assert.equal(token.status, 'unused');
    assert.equal(token.created_by, admin.spiffeId, 'created_by is the admin whose certificate the browser presented');
    // Shown once: the list never carries the secret, and after a reload nothing shows it.
    await page.reload();
    await row.waitFor();
    assert.equal(await page.getByTestId('new-token').count(), 0);
    assert.equal((await page.content()).includes(secret), false, 'the token is still on the page after a reload');

    await page.getByRole('button', { name: `Revoke token ${token.id}`, exact: true }).click();
    await confirmInDialog();
    await textMatching(row, /revoked/, 'the token row says revoked');
    const after = await cliJson<{ tokens: { id: string; status: string }[] }>(['tokens', 'list', '--all']);
    assert.equal(after.tokens.find((t) => t.id === token.id)?.status, 'revoked');
  });
});

interface AlertList {
  items: { certificate: { serial: string }; status: string }[];
}

/** A request as the admin with node:https (no browser, so no Origin or Sec-Fetch-Site: what curl or an SDK sends). */
function adminRequest(method: 'GET' | 'POST', path: string, body?: string): Promise<Exchange> {
  const options = { host: '127.0.0.1', port: service.port, path, method, servername: 'localhost', headers: jsonHeaders(body) };
  return exchange(request, { ...options, ...adminFetchOptions(service, admin) }, body);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('alerts', () => {
  it('lists the outbox, and Run now enqueues a certificate that came within the threshold', async () => {
    // serve's start-up catch-up found the first one; wait for it in the ledger (bounded).
    await until('the start-up alert in GET /v1/alerts', async () => {
      const reply = await adminRequest('GET', '/v1/alerts');
      return reply.status === 200 && (JSON.parse(reply.body) as AlertList).items.some((a) => a.certificate.serial === alertingAtStart)
        ? true
        : undefined;
    });
    await page.goto('/ui/#/alerts');
    await page.getByRole('heading', { name: 'Alerts', level: 1 }).waitFor();
    const outbox = page.getByRole('region', { name: 'Outbox' });
    assert.deepEqual(await settledSerials(outbox, 'the outbox'), [alertingAtStart]);

    // Another certificate inside the 7-day threshold, issued while serve runs (as `keysmith issue` would).
    const fresh = await issueAlertingCertificate(service.dataDir, 4, 'alerts-run-now.fleet.example.test');
    await page.getByRole('button', { name: 'Run now' }).click();
    const report = page.getByRole('status').filter({ hasText: /enqueued/ });
    await textMatching(report, /enqueued 1 alert\b/, 'the run report');
    assert.deepEqual(await settledSerials(report, 'what the run enqueued'), [fresh]);
    await screenshot(page, 'alerts');
    // The certificate page's alert history (GET /v1/alerts?serial=) shows the 7-day alert.
    await page.goto('about:blank');
    await page.goto(`/ui/#/certificates/${alertingAtStart}`);
    const history = page.locator('section', { has: page.getByRole('heading', { name: 'Alert history' }) });
    await history.getByRole('cell', { name: '7d', exact: true }).waitFor();
    await page.goto('about:blank');
    await page.goto('/ui/#/alerts');
    assert.deepEqual(
      (await settledSerials(page.getByRole('region', { name: 'Outbox' }), 'the outbox after the run', (s) => s.length === 2)).sort(),
      [alertingAtStart, fresh].sort(),
    );
  });
});

describe('cross-origin requests', () => {
  it('a page on another origin cannot make the admin’s browser POST to keysmith: the guard refuses on Sec-Fetch-Site', async () => {
    // What a hostile site would do: a simple no-cors POST (no preflight), the admin's certificate attached by the browser.
    const target = `${service.origin}/v1/alerts/run`;
    const attacker = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<!doctype html><title>waiting</title><script>fetch(${JSON.stringify(target)}, { method: 'POST', mode: 'no-cors', credentials: 'include' })` +
          `.then(() => { document.title = 'sent'; }, (e) => { document.title = 'failed ' + e; });</script>`,
      );
    });
    attacker.listen(0, '127.0.0.1');
    await once(attacker, 'listening');
    try {
      const from = service.output.length;
      await page.goto(`http://127.0.0.1:${portOf(attacker.address())}/`);
      assert.equal(
        await until('the attacker page’s fetch', async () => ((await page.title()) === 'waiting' ? undefined : page.title())),
        'sent',
      );
      const log = await until('the refusal in serve’s log', async () => {
        const text = service.output.slice(from);
        return /cross-origin request refused/.test(text) ? text : undefined;
      });
      assert.match(log, /Sec-Fetch-Site is (cross-site|same-site)/);
      assert.doesNotMatch(service.output.slice(from), /alert run|"enqueued"/i);
    } finally {
      attacker.close();
    }
  });
});

describe('who may open the console', () => {
  const CSP =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

  it('serves the console to the admin with the contract’s security headers', async () => {
    const response = await page.goto('/ui/');
    assert.ok(response);
    assert.equal(response.status(), 200);
    const headers = response.headers();
    assert.equal(headers['content-security-policy'], CSP);
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.equal(headers['referrer-policy'], 'no-referrer');
    assert.equal(headers['x-frame-options'], 'DENY');
    await page.getByRole('navigation', { name: 'Console' }).waitFor();
  });

  async function refused(identity: Identity | undefined, status: number, view: string): Promise<void> {
    const ctx = await consoleContext(browser, service, identity);
    try {
      const refusedPage = await ctx.newPage();
      const response = await refusedPage.goto('/ui/');
      assert.ok(response);
      assert.equal(response.status(), status);
      assert.match(response.headers()['content-type'] ?? '', /^application\/problem\+json/);
      const problem = (await response.json()) as { status: number; title: string };
      assert.equal(problem.status, status);
      assert.equal(await refusedPage.getByRole('navigation', { name: 'Console' }).count(), 0);
      await screenshot(refusedPage, view);
    } finally {
      await ctx.close();
    }
  }

  it('refuses a browser without a client certificate with the 401 problem, and renders no console', async () => {
    await refused(undefined, 401, 'refused-no-certificate');
  });

  it('refuses a workload (non-admin) certificate with the 403 problem, and renders no console', async () => {
    await refused(workload, 403, 'refused-workload');
  });

  it('a browser whose trust does not reach keysmith’s root gets no console (the proxy verifies the listener)', async () => {
    const ctx = await consoleContext(browser, service, admin, new URL('../../../test/fixtures/ca.pem', import.meta.url).pathname);
    try {
      const otherPage = await ctx.newPage();
      const response = await otherPage.goto('/ui/');
      assert.ok(response);
      // playwright's proxy answers for the failed handshake; keysmith never saw a request.
      assert.equal(response.status(), 503);
      assert.match(await response.text(), /client-certificate error: .*(unable to verify|self[- ]signed|unable to get)/i);
      assert.equal(await otherPage.getByRole('navigation', { name: 'Console' }).count(), 0);
    } finally {
      await ctx.close();
    }
  });
});
