import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isEarlySafe } from '../../../src/http/early-data.js';
import { fetchSession, requestWithEarlyData } from '../../helpers/early-http.js';
import { asRecord, enrol, fixture, mintIdentities, send, serve, type Identities, type Reply, type Served } from './harness.js';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const INDEX_HTML =
  '<!doctype html><html><head><script type="module" src="/ui/assets/index-AbC123xy.js"></script>' +
  '<link rel="stylesheet" href="/ui/assets/index-Zz9_8-7q.css"></head><body><div id="app"></div></body></html>\n';
const SCRIPT = 'console.log("keysmith console");\n';
const STYLES = 'body { margin: 0; }\n';

/** The four security headers the contract puts on every console response, whatever its status. */
function assertConsoleHeaders(reply: Reply): void {
  assert.equal(reply.headers['content-security-policy'], CSP);
  assert.equal(reply.headers['x-content-type-options'], 'nosniff');
  assert.equal(reply.headers['referrer-policy'], 'no-referrer');
  assert.equal(reply.headers['x-frame-options'], 'DENY');
}

/** A problem document without its instance (which names the path asked for). */
function problemBody(reply: Reply): Record<string, unknown> {
  const { instance: _instance, ...rest } = asRecord(reply.json());
  return rest;
}

describe('the operator console at /ui/ (admin only, files listed at start-up, strict CSP)', () => {
  let ids: Identities;
  let root: string;
  let consoleDir: string;
  let served: Served | undefined;

  before(async () => {
    ids = await mintIdentities();
    root = await mkdtemp(join(tmpdir(), 'keysmith-console-'));
    // A file next to the console directory: a traversal would find it.
    await writeFile(join(root, 'secret.txt'), 'not for browsers\n');
    consoleDir = join(root, 'ui');
    await mkdir(join(consoleDir, 'assets'), { recursive: true });
    await writeFile(join(consoleDir, 'index.html'), INDEX_HTML);
    await writeFile(join(consoleDir, 'assets', 'index-AbC123xy.js'), SCRIPT);
    await writeFile(join(consoleDir, 'assets', 'index-Zz9_8-7q.css'), STYLES);
    await writeFile(join(consoleDir, '.hidden'), 'dot-files are not served\n');
    await symlink(join(root, 'secret.txt'), join(consoleDir, 'assets', 'linked.js'));
  });
  after(async () => {
    await ids.cleanup();
    await rm(root, { recursive: true, force: true });
  });
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  async function serveConsole(directory = consoleDir): Promise<Served> {
    served = await serve({ deps: { consoleDirectory: directory } });
    enrol(served.ledger, ids.admin);
    enrol(served.ledger, ids.workload);
    return served;
  }

  it('gives an admin index.html with every console header and no-cache', async () => {
    const { port } = await serveConsole();
    const reply = await send(port, { path: '/ui/', identity: ids.admin });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(reply.headers['cache-control'], 'no-cache');
    assertConsoleHeaders(reply);
    assert.equal(reply.body, INDEX_HTML);
  });

  it('redirects /ui to /ui/ (admin only, with the console headers)', async () => {
    const { port } = await serveConsole();
    const reply = await send(port, { path: '/ui', identity: ids.admin });
    assert.equal(reply.status, 301);
    assert.equal(reply.headers['location'], '/ui/');
    assertConsoleHeaders(reply);
    const refused = await send(port, { path: '/ui' });
    assert.equal(refused.status, 401);
  });

  it('refuses a workload identity with the ops API’s 403 problem, and carries the console headers', async () => {
    const { port } = await serveConsole();
    const reply = await send(port, { path: '/ui/', identity: ids.workload });
    const ops = await send(port, { path: '/v1/certificates', identity: ids.workload });
    assert.equal(reply.status, 403);
    assert.equal(reply.headers['content-type'], PROBLEM_JSON);
    assert.deepEqual(problemBody(reply), problemBody(ops));
    assert.equal(asRecord(reply.json())['type'], 'https://keysmith.dev/problems/forbidden');
    assert.equal(asRecord(reply.json())['instance'], '/ui/');
    assertConsoleHeaders(reply);
    assert.equal(reply.headers['cache-control'], 'no-store');
  });

  it('refuses a client without a certificate with the ops API’s 401 problem, on pages and assets alike', async () => {
    const { port } = await serveConsole();
    const ops = await send(port, { path: '/v1/certificates' });
    for (const path of ['/ui/', '/ui/assets/index-AbC123xy.js', '/ui/certificates']) {
      const reply = await send(port, { path });
      assert.equal(reply.status, 401, path);
      assert.equal(reply.headers['content-type'], PROBLEM_JSON);
      assert.deepEqual(problemBody(reply), problemBody(ops));
      assert.deepEqual(problemBody(reply), {
        type: 'https://keysmith.dev/problems/certificate-required',
        title: 'Client certificate required',
        status: 401,
        detail: 'This route requires a client certificate.',
      });
      assertConsoleHeaders(reply);
    }
  });

  it('serves hashed assets with their content type and immutable caching', async () => {
    const { port } = await serveConsole();
    const script = await send(port, { path: '/ui/assets/index-AbC123xy.js', identity: ids.admin });
    assert.equal(script.status, 200);
    assert.equal(script.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(script.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(script.body, SCRIPT);
    assertConsoleHeaders(script);
    const styles = await send(port, { path: '/ui/assets/index-Zz9_8-7q.css', identity: ids.admin });
    assert.equal(styles.status, 200);
    assert.equal(styles.headers['content-type'], 'text/css; charset=utf-8');
    assert.equal(styles.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(styles.body, STYLES);
  });

  it('answers index.html for client routes under /ui/', async () => {
    const { port } = await serveConsole();
    for (const path of ['/ui/certificates', '/ui/certificates/0a1b2c', '/ui/timeline/', '/ui/index.html', '/ui/?x=1']) {
      const reply = await send(port, { path, identity: ids.admin });
      assert.equal(reply.status, 200, path);
      assert.equal(reply.headers['content-type'], 'text/html; charset=utf-8', path);
      assert.equal(reply.headers['cache-control'], 'no-cache', path);
      assert.equal(reply.body, INDEX_HTML, path);
    }
  });

  it('answers 404 for unknown assets, dot-files, symbolic links and anything that looks like a file', async () => {
    const { port } = await serveConsole();
    for (const path of ['/ui/assets/index-missing.js', '/ui/assets/', '/ui/favicon.ico', '/ui/.hidden', '/ui/assets/linked.js']) {
      const reply = await send(port, { path, identity: ids.admin });
      assert.equal(reply.status, 404, path);
      assert.equal(reply.headers['content-type'], PROBLEM_JSON, path);
      assert.equal(asRecord(reply.json())['type'], 'https://keysmith.dev/problems/not-found', path);
      assertConsoleHeaders(reply);
    }
  });

  it('answers 404 to ../ traversal, plain or percent-encoded, and never reaches the file beside the directory', async () => {
    const { port } = await serveConsole();
    const attempts = [
      '/ui/../secret.txt',
      '/ui/assets/../../secret.txt',
      '/ui/%2e%2e/secret.txt',
      '/ui/%2E%2E%2Fsecret.txt',
      '/ui/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/ui/..%5csecret.txt',
      '/ui/..',
      '/ui/assets/..',
      '/ui//etc/passwd',
      '/ui/%00',
    ];
    for (const path of attempts) {
      const reply = await send(port, { path, identity: ids.admin });
      assert.equal(reply.status, 404, `${path}: ${reply.body}`);
      assert.equal(reply.headers['content-type'], PROBLEM_JSON, path);
      assert.doesNotMatch(reply.body, /not for browsers/, path);
    }
  });

  it('lists the files once at start-up: a file written later is not served', async () => {
    const { port } = await serveConsole();
    const late = join(consoleDir, 'assets', 'late-0123abcd.js');
    await writeFile(late, 'late\n');
    try {
      const reply = await send(port, { path: '/ui/assets/late-0123abcd.js', identity: ids.admin });
      assert.equal(reply.status, 404);
    } finally {
      await rm(late);
    }
  });

  it('answers a 503 problem naming `npm run build` when the console was not built', async () => {
    const { port } = await serveConsole(join(root, 'no-such-dir'));
    for (const path of ['/ui/', '/ui/assets/index-AbC123xy.js']) {
      const reply = await send(port, { path, identity: ids.admin });
      assert.equal(reply.status, 503, path);
      assert.equal(reply.headers['content-type'], PROBLEM_JSON);
      assert.deepEqual(reply.json(), {
        type: 'about:blank',
        title: 'Service Unavailable',
        status: 503,
        detail: 'The console is not built: run `npm run build`, which builds it into dist/ui, then restart keysmith.',
        instance: path,
      });
      assertConsoleHeaders(reply);
    }
    // Access is still decided first: a workload learns nothing about the build.
    const refused = await send(port, { path: '/ui/', identity: ids.workload });
    assert.equal(refused.status, 403);
  });

  it('treats a directory without index.html as not built', async () => {
    const empty = join(root, 'empty');
    await mkdir(join(empty, 'assets'), { recursive: true });
    await writeFile(join(empty, 'assets', 'x-12345678.js'), SCRIPT);
    const { port } = await serveConsole(empty);
    const reply = await send(port, { path: '/ui/assets/x-12345678.js', identity: ids.admin });
    assert.equal(reply.status, 503);
  });

  it('answers HEAD like GET, without a body', async () => {
    const { port } = await serveConsole();
    const reply = await send(port, { method: 'HEAD', path: '/ui/', identity: ids.admin });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(reply.headers['content-length'], String(Buffer.byteLength(INDEX_HTML)));
    assert.equal(reply.body, '');
    assertConsoleHeaders(reply);
  });

  it('is not served from TLS early data: a GET of the console in 0-RTT is answered 425, the retry goes through access (RFC 8470 §5.2)', async () => {
    assert.equal(isEarlySafe('GET', '/ui/'), false);
    assert.equal(isEarlySafe('GET', '/ui/assets/index-AbC123xy.js'), false);
    served = await serve({ deps: { consoleDirectory: consoleDir }, tls: { maxEarlyData: 16_384 } });
    const ca = fixture('ca.pem');
    const session = await fetchSession(served.port, ca);
    const request = 'GET /ui/ HTTP/1.1\r\nHost: localhost\r\n\r\n';
    const result = await requestWithEarlyData({ port: served.port, ca, session, request });
    assert.equal(result.earlyDataAccepted, true);
    assert.equal(result.first.status, 425);
    assert.equal(result.first.headers.get('content-security-policy'), CSP);
    // Sent again after the handshake, without a client certificate: the access policy answers, as for any request.
    assert.equal(result.retried?.status, 401);
  });

  it('leaves the rest of the API without the console headers', async () => {
    const { port } = await serveConsole();
    const reply = await send(port, { path: '/v1/certificates', identity: ids.admin });
    assert.equal(reply.status, 200);
    assert.equal(reply.headers['content-security-policy'], undefined);
  });
});
