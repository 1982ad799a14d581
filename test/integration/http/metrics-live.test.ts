import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alertKey } from '../../../src/alerts/index.js';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { startServer } from '../../../src/cli/serve.js';
import { requestForCertificate } from '../../../src/ocsp/index.js';
import { normalizeSerial } from '../../../src/x509/index.js';
import { EngineAgent, type ClientIdentity } from '../../helpers/engine-client.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { hasCommand, runProcess } from '../../helpers/processes.js';
import { inProcessConfig } from '../../helpers/service-config.js';

/** promtool (Debian `prometheus`) is a CI requirement (KEYSMITH_REQUIRE_INTEROP=1 fails instead of skipping, like test/interop). */
const skip =
  hasCommand('promtool') || process.env['KEYSMITH_REQUIRE_INTEROP'] === '1'
    ? {}
    : { skip: 'promtool is not installed (apt-get install prometheus)' };

interface Reply {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
}

/** The instance under test (one backend at a time: the suites below run one after the other). */
let dataDir: string;
let core: Core;
let server: { port: number; close(graceMs: number): Promise<void> };
let bundle: string;
let admin: ClientIdentity;

function call(method: string, path: string, body?: { type: string; bytes: Uint8Array }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: server.port,
        method,
        path,
        agent: new EngineAgent(server.port, bundle, admin),
        headers: body === undefined ? {} : { 'content-type': body.type, 'content-length': String(body.bytes.byteLength) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'], body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body === undefined ? undefined : Buffer.from(body.bytes));
  });
}

async function scrape(): Promise<string> {
  const reply = await call('GET', '/metrics');
  assert.equal(reply.status, 200);
  assert.equal(reply.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  return reply.body.toString('utf8');
}

/** The samples of one metric family, as `name{labels} value` lines. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

function ocspPost(der: Uint8Array): Promise<Reply> {
  return call('POST', '/ocsp', { type: 'application/ocsp-request', bytes: der });
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`/metrics on a live instance, ${backend} ledger (ISSUE-13: promtool check metrics)`, skip, () => {
    let database: TestDatabase | undefined;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'keysmith-metrics-live-'));
      // PostgreSQL: the outbox depth is a promise, awaited by the gauge's collect.
      database = backend === 'postgres' ? await createTestDatabase('metrics_live') : undefined;
      const config = await inProcessConfig(dataDir, database === undefined ? {} : { KEYSMITH_DATABASE_URL: database.url });
      core = await openCore(config, { ensureIdentities: true });
      server = await startServer(core);
      bundle = await readFile(core.paths.bundle, 'utf8');
      admin = { key: await readFile(core.paths.adminKey, 'utf8'), chain: await readFile(core.paths.adminCert, 'utf8') };
    });

    after(async () => {
      await server?.close(0);
      await core?.close();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('passes promtool check metrics, with the route as written (no ::)', async () => {
      // The one route written with an escaped colon in fastify (x509::batch): the label is the URL's form.
      const batch = await call('POST', '/v1/svid/x509:batch', { type: 'application/json', bytes: Buffer.from('{}') });
      assert.equal(batch.status, 400);
      const text = await scrape();
      const check = await runProcess('promtool', ['check', 'metrics'], { stdin: text, timeoutMs: 30_000 });
      assert.equal(`${check.stdout}${check.stderr}`, '');
      assert.equal(check.code, 0);
      assert.ok(!text.includes('::'), 'no route label carries fastify\'s "::"');
      assert.deepEqual(
        samples(text, 'keysmith_http_requests_total').filter((line) => line.includes('x509:batch')),
        ['keysmith_http_requests_total{method="POST",route="/v1/svid/x509:batch",status="400"} 1'],
      );
    });

    it('shows the notAfter of the root, the intermediate, the listener and the OCSP responder as Unix seconds', async () => {
      const text = await scrape();
      const seconds = (pem: string | Uint8Array): number =>
        Math.floor(Date.parse(new X509Certificate(typeof pem === 'string' ? pem : Buffer.from(pem)).validTo) / 1000);
      const serialOf = (pem: string | Uint8Array): string =>
        normalizeSerial(new X509Certificate(typeof pem === 'string' ? pem : Buffer.from(pem)).serialNumber);
      const { root, intermediate } = core.authority.material;
      const listener = await readFile(core.paths.serverCert, 'utf8');
      const responders = (await core.repositories.certificates.list({ profile: 'ocsp-signer', limit: 10 })).items;
      assert.equal(responders.length, 1);
      const responder = responders[0];
      assert.ok(responder !== undefined);
      assert.deepEqual(samples(text, 'keysmith_certificate_not_after_timestamp_seconds'), [
        `keysmith_certificate_not_after_timestamp_seconds{role="root",serial="${serialOf(root.certDer)}"} ${seconds(root.certDer)}`,
        `keysmith_certificate_not_after_timestamp_seconds{role="intermediate",serial="${serialOf(intermediate.certDer)}"} ${seconds(intermediate.certDer)}`,
        `keysmith_certificate_not_after_timestamp_seconds{role="listener",serial="${serialOf(listener)}"} ${seconds(listener)}`,
        `keysmith_certificate_not_after_timestamp_seconds{role="ocsp_responder",serial="${responder.serial}"} ${Math.floor(responder.notAfter / 1000)}`,
      ]);
    });

    it('counts OCSP answers by certificate status and by error status', async () => {
      assert.deepEqual(samples(await scrape(), 'keysmith_ocsp_responses_total'), []);
      const issuer = core.authority.material.intermediate.certDer;
      const adminLeaf = new X509Certificate(admin.chain).raw;
      const good = requestForCertificate(adminLeaf, issuer);
      assert.equal((await ocspPost(good)).status, 200);
      // GET (RFC 6960 Appendix A.1): the base64 request, URL-encoded, in the path.
      assert.equal((await call('GET', `/ocsp/${encodeURIComponent(Buffer.from(good).toString('base64'))}`)).status, 200);
      const doomed = await issueIdentity(core.authority, {
        spiffeId: 'spiffe://keysmith.local/ns/metrics/sa/doomed',
        profile: 'svid',
        requester: 'cli:metrics-test',
      });
      await core.authority.revoke(doomed.issued.serial, 'keyCompromise');
      assert.equal((await ocspPost(requestForCertificate(new X509Certificate(doomed.issued.pem).raw, issuer))).status, 200);
      // The ledger holds the root, but the intermediate did not sign it: unknown (RFC 6960 §2.2).
      assert.equal((await ocspPost(requestForCertificate(core.authority.material.root.certDer, issuer))).status, 200);
      assert.equal((await ocspPost(Buffer.from('not an OCSP request'))).status, 400);
      assert.deepEqual(samples(await scrape(), 'keysmith_ocsp_responses_total'), [
        'keysmith_ocsp_responses_total{status="good"} 2',
        'keysmith_ocsp_responses_total{status="revoked"} 1',
        'keysmith_ocsp_responses_total{status="unknown"} 1',
        'keysmith_ocsp_responses_total{status="malformedRequest"} 1',
      ]);
    });

    it('shows the alert outbox depth by state, read from the ledger at each scrape', async () => {
      assert.deepEqual(samples(await scrape(), 'keysmith_alert_outbox_depth'), [
        'keysmith_alert_outbox_depth{state="waiting"} 0',
        'keysmith_alert_outbox_depth{state="pending"} 0',
        'keysmith_alert_outbox_depth{state="failed"} 0',
      ]);
      // A run as the alert runner makes one, 40 days on: a 60-day certificate is then within a 30-day threshold.
      const day = 86_400_000;
      const expiring = await issueIdentity(core.authority, {
        profile: 'tls-server',
        dnsNames: ['expiring.example.test'],
        ttlMs: 60 * day,
        requester: 'cli:metrics-test',
      });
      const alerts = core.repositories.alerts;
      const now = Date.now() + 40 * day;
      const runId = await alerts.startRun({ reason: 'manual', holder: 'metrics-test', now });
      assert.ok(runId !== null);
      const targets = [{ channel: 'webhook' as const, recipient: 'https://hooks.example.org/keysmith' }];
      const enqueued = await alerts.enqueueExpiring({
        runId,
        now,
        thresholds: [{ withinMs: 30 * day, profiles: null }],
        targets,
        keyFor: alertKey,
      });
      assert.ok(
        enqueued.some((alert) => alert.serial === expiring.issued.serial),
        'the 60-day certificate is enqueued',
      );
      assert.deepEqual(samples(await scrape(), 'keysmith_alert_outbox_depth'), [
        `keysmith_alert_outbox_depth{state="waiting"} ${enqueued.length}`,
        'keysmith_alert_outbox_depth{state="pending"} 0',
        'keysmith_alert_outbox_depth{state="failed"} 0',
      ]);
    });
  });
}
