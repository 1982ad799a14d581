import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { startServer } from '../../../src/cli/serve.js';
import { connect } from '../../../src/tls/index.js';
import { EngineAgent, type ClientIdentity } from '../../helpers/engine-client.js';
import { exchange, jsonHeaders, type Exchange } from '../../helpers/exchange.js';
import { runProcess } from '../../helpers/processes.js';
import { inProcessConfig } from '../../helpers/service-config.js';

/**
 * The HTTP layer on the real stack, as `keysmith serve` wires it: a SQLite
 * ledger in a temporary file with the real migrations, the real Authority
 * behind the revoke route, the real OCSP responder and alert runner, and
 * our TLS listener with the client-certificate checks at the handshake and
 * on each request. Nothing here is a fake: the route tests in this folder
 * keep their fast harness; this suite proves the wiring they stand in for.
 */

type Reply = Exchange;

let dataDir: string;
let core: Core;
let server: { port: number; close(graceMs: number): Promise<void> };
let bundle: string;
let admin: ClientIdentity;
/** The service's clock runs this far ahead of the wall clock: the expiry test moves it, the TLS engine keeps real time. */
let clockOffsetMs = 0;

function call(identity: ClientIdentity | undefined, method: string, path: string, body?: unknown, agent?: EngineAgent): Promise<Reply> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  const transport = agent ?? new EngineAgent(server.port, bundle, identity);
  return exchange(
    request,
    { host: '127.0.0.1', port: server.port, method, path, agent: transport, headers: jsonHeaders(payload) },
    payload,
  );
}

function json<T>(reply: Reply): T {
  return JSON.parse(reply.body) as T;
}

/** As `keysmith issue` does: the operator (cli) may certify admin identities too. */
async function issue(spiffeId: string | undefined, profile: 'svid' | 'tls-server', extra: { dnsNames?: string[]; ttlMs?: number } = {}) {
  const identity = await issueIdentity(core.authority, {
    ...(spiffeId === undefined ? {} : { spiffeId }),
    profile,
    requester: 'cli:real-stack',
    ...extra,
  });
  return { serial: identity.issued.serial, pem: identity.issued.pem, identity: { key: identity.keyPem, chain: identity.issued.chainPem } };
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keysmith-real-stack-'));
  const config = await inProcessConfig(dataDir);
  core = await openCore(config, { ensureIdentities: true, clock: { now: () => Date.now() + clockOffsetMs } });
  server = await startServer(core);
  bundle = await readFile(core.paths.bundle, 'utf8');
  admin = { key: await readFile(core.paths.adminKey, 'utf8'), chain: await readFile(core.paths.adminCert, 'utf8') };
});

after(async () => {
  await server?.close(0);
  await core?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the ops API on the real ledger, Authority and listener', () => {
  it('lists and fetches certificates from the ledger', async () => {
    const workload = await issue('spiffe://keysmith.local/ns/prod/sa/api', 'svid');
    const list = await call(admin, 'GET', '/v1/certificates?profile=svid&limit=50');
    assert.equal(list.status, 200, list.body);
    const serials = json<{ items: { serial: string; spiffe_id: string | null }[] }>(list).items.map((item) => item.serial);
    assert.ok(serials.includes(workload.serial), `${workload.serial} in ${serials.join(', ')}`);
    const one = await call(admin, 'GET', `/v1/certificates/${workload.serial}`);
    assert.equal(one.status, 200, one.body);
    const record = json<{ serial: string; status: string; spiffe_id: string; profile: string }>(one);
    assert.deepEqual(
      [record.serial, record.status, record.spiffe_id, record.profile],
      [workload.serial, 'valid', 'spiffe://keysmith.local/ns/prod/sa/api', 'svid'],
    );
    assert.equal((await call(admin, 'GET', '/v1/certificates/00aa00aa00aa00aa')).status, 404);
  });

  it('revokes through the Authority: OCSP (openssl ocsp) answers revoked, and the revoked caller is refused', async () => {
    const second = await issue('spiffe://keysmith.local/admin/second', 'svid');
    // A keep-alive connection opened before the revocation, to see the per-request check.
    const kept = new EngineAgent(server.port, bundle, second.identity, true);
    try {
      assert.equal((await call(second.identity, 'GET', '/v1/certificates?limit=1', undefined, kept)).status, 200);
      const revoked = await call(admin, 'POST', `/v1/certificates/${second.serial}/revoke`, { reason: 'keyCompromise' });
      assert.equal(revoked.status, 200, revoked.body);
      assert.equal(json<{ status: string }>(revoked).status, 'revoked');
      // Twice is a conflict (RFC 9457 problem, 409).
      const again = await call(admin, 'POST', `/v1/certificates/${second.serial}/revoke`, { reason: 'keyCompromise' });
      assert.equal(again.status, 409);
      assert.equal(again.headers['content-type'], 'application/problem+json; charset=utf-8');

      const leaf = join(dataDir, 'second.pem');
      const issuer = join(dataDir, 'issuer.pem');
      await writeFile(leaf, second.pem);
      await writeFile(issuer, core.authority.material.intermediate.certPem);
      const ocsp = await runProcess(
        'openssl',
        ['ocsp', '-issuer', issuer, '-cert', leaf, '-CAfile', core.paths.bundle, '-url', `https://127.0.0.1:${server.port}/ocsp`],
        { lifetimeMs: 20_000 },
      );
      assert.equal(ocsp.code, 0, ocsp.stdout + ocsp.stderr);
      assert.match(ocsp.stderr + ocsp.stdout, /Response verify OK/);
      assert.match(ocsp.stdout, /second\.pem: revoked/);
      assert.match(ocsp.stdout, /Reason: keyCompromise/);

      // On the connection it already had: the next request is refused with a problem document.
      const onKept = await call(second.identity, 'GET', '/v1/certificates?limit=1', undefined, kept);
      assert.equal(onKept.status, 403, onKept.body);
      assert.equal(onKept.headers['content-type'], 'application/problem+json; charset=utf-8');
      // On a new connection: the handshake itself refuses it (certificate_revoked).
      await assert.rejects(call(second.identity, 'GET', '/v1/certificates?limit=1'), /certificate_revoked|certificate revoked/);
    } finally {
      kept.destroy();
    }
  });

  it('creates, reads, changes and deletes registration entries', async () => {
    const created = await call(admin, 'POST', '/v1/entries', {
      spiffe_id: 'spiffe://keysmith.local/ns/prod/sa/db',
      parent_id: 'spiffe://keysmith.local/node/n1',
      x509_ttl: 1800,
    });
    assert.equal(created.status, 201, created.body);
    const entry = json<{ id: string; x509_ttl: number }>(created);
    assert.equal(created.headers['location'], `/v1/entries/${entry.id}`);
    assert.equal(entry.x509_ttl, 1800);
    const changed = await call(admin, 'PATCH', `/v1/entries/${entry.id}`, { x509_ttl: 900 });
    assert.equal(changed.status, 200, changed.body);
    assert.equal(json<{ x509_ttl: number }>(await call(admin, 'GET', `/v1/entries/${entry.id}`)).x509_ttl, 900);
    const listed = json<{ items: { id: string }[] }>(await call(admin, 'GET', '/v1/entries'));
    assert.ok(listed.items.some((item) => item.id === entry.id));
    assert.equal((await call(admin, 'DELETE', `/v1/entries/${entry.id}`)).status, 204);
    assert.equal((await call(admin, 'GET', `/v1/entries/${entry.id}`)).status, 404);
  });

  it('runs expiry detection on the ledger and lists the alert it enqueued', async () => {
    const soon = await issue(undefined, 'tls-server', { dnsNames: ['web.keysmith.test'], ttlMs: 30 * 86_400_000 });
    // 24 days later the 30-day certificate is inside the default 7-day threshold.
    clockOffsetMs = 24 * 86_400_000;
    const run = await call(admin, 'POST', '/v1/alerts/run').finally(() => {
      clockOffsetMs = 0;
    });
    assert.equal(run.status, 200, run.body);
    const enqueued = json<{ enqueued: { serial: string; threshold: string }[] }>(run).enqueued;
    assert.deepEqual(
      enqueued.filter((alert) => alert.serial === soon.serial).map((alert) => alert.threshold),
      ['7d'],
    );
    const listed = await call(admin, 'GET', '/v1/alerts');
    assert.equal(listed.status, 200, listed.body);
    assert.ok(
      json<{ items: { certificate: { serial: string } }[] }>(listed).items.some((alert) => alert.certificate.serial === soon.serial),
    );
  });

  it('refuses the ops API to a caller without a client certificate (401) and to a workload (403)', async () => {
    const anonymous = await call(undefined, 'GET', '/v1/certificates');
    assert.equal(anonymous.status, 401, anonymous.body);
    const workload = await issue('spiffe://keysmith.local/ns/prod/sa/web', 'svid');
    const refused = await call(workload.identity, 'GET', '/v1/certificates');
    assert.equal(refused.status, 403, refused.body);
    assert.equal(refused.headers['content-type'], 'application/problem+json; charset=utf-8');
  });
});

/** One TLS connection over our engine: GET /healthz, read to the end; the session ticket it got, and whether it resumed. */
function healthOverTls(
  port: number,
  session?: Uint8Array,
): Promise<{ readonly isResumed: boolean; readonly session: Uint8Array | undefined; readonly head: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: '127.0.0.1',
      port,
      servername: 'localhost',
      ca: bundle,
      key: admin.key,
      cert: admin.chain,
      ALPNProtocols: ['http/1.1'],
      ...(session === undefined ? {} : { session }),
    });
    const timer = setTimeout(() => socket.destroy(new Error('no answer within 10 s')), 10_000);
    let ticket: Uint8Array | undefined;
    let text = '';
    socket.on('session', (s: Uint8Array) => (ticket = s));
    socket.on('secure', () => socket.write('GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n'));
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ isResumed: socket.isResumed, session: ticket, head: text.split('\r\n')[0] ?? '' });
    });
  });
}

describe('a second node on the same ca/ (cluster secret) and ledger', () => {
  it('resumes there a TLS session the first node made: both derive the ticket keys from ca/cluster.key', async () => {
    const listener = createNetServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const secondCore = await openCore(core.config, { ensureIdentities: false });
    let second: { port: number; close(graceMs: number): Promise<void> } | undefined;
    try {
      second = await startServer(secondCore, { listener });
      const first = await healthOverTls(server.port);
      assert.deepEqual([first.isResumed, first.head], [false, 'HTTP/1.1 200 OK']);
      assert.ok(first.session !== undefined, 'the first node sent a ticket');
      const resumed = await healthOverTls(second.port, first.session);
      assert.deepEqual([resumed.isResumed, resumed.head], [true, 'HTTP/1.1 200 OK']);
    } finally {
      await second?.close(0);
      void secondCore.close();
    }
  });
});
