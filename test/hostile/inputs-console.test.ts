import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { HostileService } from './harness.js';
import { rawTls, SourceAddresses, type Outcome } from './fuzz/client.js';
import { assertUnharmed, firstHeader, httpStatuses } from './fuzz/oracle.js';

/**
 * What an attacker holding (or riding) an admin's client certificate can send
 * to the console and the routes it uses, written raw over a real TLS
 * connection to `keysmith serve` as a child: traversal under /ui/, hostile
 * query values for the timeline and the listings, hostile join-token bodies,
 * and cross-origin headers. Each gets its exact problem document, the child
 * stays up and answering, and nothing is written to the ledger.
 */

const MALFORMED = 'https://keysmith.dev/problems/malformed';
const NOT_FOUND = 'https://keysmith.dev/problems/not-found';
const FORBIDDEN = 'https://keysmith.dev/problems/forbidden';

describe('hostile input to the console and its API', () => {
  let service: HostileService;
  let ca: string;
  let identity: { cert: string; key: string };
  const sources = new SourceAddresses();
  before(async () => {
    service = await HostileService.start();
    ca = await service.bundlePem();
    identity = { cert: await readFile(service.paths.adminCert, 'utf8'), key: await readFile(service.paths.adminKey, 'utf8') };
  });
  after(() => service.stop());

  function joinTokenCount(): number {
    const db = new Database(service.paths.database, { readonly: true });
    try {
      return db.prepare<[], number>('SELECT COUNT(*) FROM join_tokens').pluck().get() ?? 0;
    } finally {
      db.close();
    }
  }

  /** Sends `head` (and `body`) as the admin; then the service must be unharmed and hold no new certificate or token. */
  async function send(head: string, what: string, body = ''): Promise<Outcome> {
    const certificates = service.certificateCount();
    const tokens = joinTokenCount();
    const length = body === '' ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
    const request = Buffer.from(`${head}\r\nHost: localhost\r\n${length}\r\n${body}`, 'utf8');
    const outcome = await rawTls(service.port, ca, sources.take(), request, { idleMs: 200, timeoutMs: 5_000, identity });
    await assertUnharmed(service, certificates, what);
    assert.equal(joinTokenCount(), tokens, `${what} created no join token`);
    return outcome;
  }

  function assertProblem(outcome: Outcome, status: number, type: string, detail?: RegExp): void {
    const text = outcome.body.toString('utf8');
    assert.deepEqual(httpStatuses(outcome), [status], text.slice(0, 400));
    assert.match(firstHeader(outcome, 'content-type') ?? '', /^application\/problem\+json/);
    const problem = JSON.parse(text.split('\r\n\r\n')[1] ?? '{}') as { type?: string; detail?: string };
    assert.equal(problem.type, type, text.slice(0, 400));
    if (detail !== undefined) assert.match(problem.detail ?? '', detail);
  }

  it('serves no file outside the built console for any traversal form under /ui/', async () => {
    for (const target of [
      '/ui/../package.json',
      '/ui/%2e%2e/package.json',
      '/ui/assets/..%2f..%2f..%2fpackage.json',
      '/ui/assets/%2e%2e%2f%2e%2e%2fsrc%2fcli%2fmain.ts',
      '/ui/assets/..%5c..%5cpackage.json',
      '/ui/assets/index.js%00.png',
      '/ui//etc/passwd.js',
    ]) {
      const outcome = await send(`GET ${target} HTTP/1.1`, `GET ${target}`);
      assert.doesNotMatch(outcome.body.toString('utf8'), /"name": "keysmith"|root:x:0:0|import /, `${target} served a file`);
      assertProblem(outcome, 404, NOT_FOUND);
    }
  });

  it('refuses hostile timeline windows and listing dates with a 400 problem naming the parameter', async () => {
    for (const days of ['0', '367', '1e309', '-1', '9'.repeat(400), '1.5', '%00', '']) {
      assertProblem(await send(`GET /v1/certificates/timeline?days=${days} HTTP/1.1`, `days=${days.slice(0, 20)}`), 400, MALFORMED, /days/);
    }
    assertProblem(await send('GET /v1/certificates/timeline?days=1&days=2 HTTP/1.1', 'days twice'), 400, MALFORMED, /days/);
    for (const value of ['yesterday', '2026-13-45T00:00:00Z', '9'.repeat(300)]) {
      assertProblem(
        await send(`GET /v1/certificates?expires_after=${value} HTTP/1.1`, `expires_after=${value.slice(0, 20)}`),
        400,
        MALFORMED,
        /expires_after/,
      );
    }
  });

  it('answers a serial that is not one with 400 and an unknown one with 404 on the OCSP status route', async () => {
    assertProblem(await send(`GET /v1/certificates/${'z'.repeat(50)}/ocsp HTTP/1.1`, 'a non-hex serial'), 400, MALFORMED);
    assertProblem(await send(`GET /v1/certificates/${'ab'.repeat(22)}/ocsp HTTP/1.1`, 'a 44-digit serial'), 400, MALFORMED);
    assertProblem(await send(`GET /v1/certificates/${'7f'.repeat(16)}/ocsp HTTP/1.1`, 'an unknown serial'), 404, NOT_FOUND);
  });

  it('refuses hostile join-token bodies with a 400 problem and creates no token', async () => {
    const node = 'spiffe://keysmith.local/node/web-1';
    const bodies: [string, string][] = [
      ['{"spiffe_id":' + JSON.stringify('spiffe://keysmith.local/node/' + 'a'.repeat(5_000)) + '}', 'a 5 KB SPIFFE ID'],
      [JSON.stringify({ spiffe_id: node, ttl: '99999999999d' }), 'a ttl past 7d'],
      [JSON.stringify({ spiffe_id: node, ttl: 1 }), 'a numeric ttl'],
      [JSON.stringify({ spiffe_id: node, extra: true }), 'an unknown field'],
      ['['.repeat(2_000) + ']'.repeat(2_000), 'deeply nested arrays'],
      ['{"spiffe_id": "' + node, 'truncated JSON'],
    ];
    for (const [body, what] of bodies) {
      assertProblem(await send('POST /v1/join-tokens HTTP/1.1', what, body), 400, MALFORMED);
    }
  });

  it('refuses state-changing requests a browser marks as cross-origin with a 403 problem, whatever the header holds', async () => {
    for (const header of [
      'Sec-Fetch-Site: cross-site',
      'Sec-Fetch-Site: same-site',
      `Sec-Fetch-Site: ${'x'.repeat(8_000)}`,
      'Sec-Fetch-Site: ',
      'Origin: null',
      'Origin: https://evil.example',
      `Origin: https://${'a'.repeat(8_000)}.example`,
      'Origin: javascript:alert(1)',
    ]) {
      const body = JSON.stringify({ spiffe_id: 'spiffe://keysmith.local/node/web-1' });
      assertProblem(await send(`POST /v1/join-tokens HTTP/1.1\r\n${header}`, header.slice(0, 40), body), 403, FORBIDDEN, /Cross-origin/);
    }
  });
});
