import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request, type OutgoingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { startServer } from '../../../src/cli/serve.js';
import { PROFILE_NAMES } from '../../../src/domain/certificates.js';
import { requestForCertificate } from '../../../src/ocsp/index.js';
import { describeCertificate, describeOcspResponse } from '../../../src/x509/index.js';
import { EngineAgent, type ClientIdentity } from '../../helpers/engine-client.js';
import { exchange, type Exchange } from '../../helpers/exchange.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { inProcessConfig } from '../../helpers/service-config.js';

/**
 * The HTTP API the operator console uses, on the real stack as `keysmith
 * serve` wires it (a SQLite ledger with the real migrations, the Authority,
 * the OCSP responder, the SVID service, our TLS listener): the expiry
 * timeline, one day's listing, a serial's OCSP status beside /ocsp, an
 * alert history, join tokens, and the cross-origin guard on every
 * state-changing request; on a SQLite ledger and on PostgreSQL.
 */

type Reply = Exchange;

const DAY = 86_400_000;
const TRUST_DOMAIN = 'keysmith.local';

let dataDir: string;
let core: Core;
let server: { port: number; close(graceMs: number): Promise<void> };
let bundle: string;
let admin: ClientIdentity;
let adminSpiffeId: string;
let workload: ClientIdentity;
/** The service's clock runs this far ahead of the wall clock (the alert test moves it); the TLS engine keeps real time. */
let clockOffsetMs = 0;
let database: TestDatabase | undefined;

function call(
  identity: ClientIdentity | undefined,
  method: string,
  path: string,
  options: { body?: unknown; raw?: Buffer; headers?: OutgoingHttpHeaders } = {},
): Promise<Reply> {
  const payload = options.raw ?? (options.body === undefined ? undefined : Buffer.from(JSON.stringify(options.body)));
  const headers: OutgoingHttpHeaders = {
    ...(payload === undefined
      ? {}
      : { 'content-type': options.raw === undefined ? 'application/json' : 'application/ocsp-request', 'content-length': payload.length }),
    ...options.headers,
  };
  const agent = new EngineAgent(server.port, bundle, identity);
  return exchange(request, { host: '127.0.0.1', port: server.port, method, path, agent, headers }, payload);
}

function json<T>(reply: Reply): T {
  return JSON.parse(reply.body) as T;
}

async function issue(profile: 'svid' | 'tls-server', ttlMs: number, name: string) {
  const identity = await issueIdentity(core.authority, {
    ...(profile === 'svid' ? { spiffeId: `spiffe://${TRUST_DOMAIN}/console/${name}` } : { dnsNames: [`${name}.console.test`] }),
    profile,
    requester: 'cli:console-api',
    ttlMs,
  });
  return { serial: identity.issued.serial, pem: identity.issued.pem, identity: { key: identity.keyPem, chain: identity.issued.chainPem } };
}

interface TimelineWire {
  from: string;
  now: string;
  days: number;
  profiles: string[];
  total: number;
  buckets: { date: string; total: number; counts: Record<string, number> }[];
  thresholds: { within_days: number; profiles: string[] | null }[];
  authorities: { kind: string; subject: string; serial: string; not_after: string }[];
}

async function timeline(days = 90): Promise<TimelineWire> {
  const reply = await call(admin, 'GET', `/v1/certificates/timeline?days=${days}`);
  assert.equal(reply.status, 200, reply.body);
  return json<TimelineWire>(reply);
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`the console API on the real stack, ${backend} ledger`, () => {
    before(async () => {
      database = backend === 'postgres' ? await createTestDatabase('console_api') : undefined;
      dataDir = await mkdtemp(join(tmpdir(), 'keysmith-console-api-'));
      const config = await inProcessConfig(dataDir, database === undefined ? {} : { KEYSMITH_DATABASE_URL: database.url });
      core = await openCore(config, { ensureIdentities: true, clock: { now: () => Date.now() + clockOffsetMs } });
      server = await startServer(core);
      bundle = await readFile(core.paths.bundle, 'utf8');
      admin = { key: await readFile(core.paths.adminKey, 'utf8'), chain: await readFile(core.paths.adminCert, 'utf8') };
      adminSpiffeId = (new X509Certificate(admin.chain).subjectAltName ?? '').replace(/^URI:/, '');
      workload = (await issue('svid', DAY, 'caller')).identity;
    });

    after(async () => {
      await server?.close(0);
      await core?.close();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    });

    describe(`GET /v1/certificates/timeline (${backend})`, () => {
      it('counts what was issued per UTC day and profile, leaves revoked ones out, and marks thresholds and CAs', async () => {
        const before = await timeline();
        const a = await issue('tls-server', 3 * DAY, 'a');
        const b = await issue('tls-server', 3 * DAY + 60_000, 'b');
        const c = await issue('svid', 20 * 3_600_000, 'c');
        const revoked = await issue('tls-server', 20 * DAY, 'revoked');
        const revoke = await call(admin, 'POST', `/v1/certificates/${revoked.serial}/revoke`, { body: { reason: 'superseded' } });
        assert.equal(revoke.status, 200, revoke.body);
        const after = await timeline();

        // The exact change: the three new certificates, each on the UTC day of its notAfter; the revoked one nowhere.
        const expected = new Map<string, number>();
        for (const { serial } of [a, b, c]) {
          const record = json<{ not_after: string; profile: string }>(await call(admin, 'GET', `/v1/certificates/${serial}`));
          const key = `${record.not_after.slice(0, 10)}/${record.profile}`;
          expected.set(key, (expected.get(key) ?? 0) + 1);
        }
        const delta = new Map<string, number>();
        after.buckets.forEach((bucket, i) => {
          for (const profile of PROFILE_NAMES) {
            const change = (bucket.counts[profile] ?? 0) - (before.buckets[i]?.counts[profile] ?? 0);
            if (change !== 0) delta.set(`${bucket.date}/${profile}`, change);
          }
        });
        assert.deepEqual(delta, expected);
        assert.equal(after.total - before.total, 3);

        const now = Date.parse(after.now);
        assert.equal(after.from, new Date(now - (now % DAY)).toISOString());
        assert.equal(after.days, 90);
        assert.deepEqual(after.profiles, [...PROFILE_NAMES]);
        assert.equal(after.buckets.length, 90);
        assert.equal(after.buckets[0]?.date, after.from.slice(0, 10));
        assert.equal(after.buckets[89]?.date, new Date(Date.parse(after.from) + 89 * DAY).toISOString().slice(0, 10));
        for (const bucket of after.buckets) {
          assert.equal(
            bucket.total,
            Object.values(bucket.counts).reduce((n, count) => n + count, 0),
          );
          assert.ok(
            Object.values(bucket.counts).every((count) => count > 0),
            'profiles with none are left out',
          );
        }
        assert.equal(
          after.total,
          after.buckets.reduce((n, bucket) => n + bucket.total, 0),
        );
        assert.deepEqual(after.thresholds, [{ within_days: 7, profiles: null }]);
        const root = describeCertificate(core.authority.material.root.certDer);
        const intermediate = describeCertificate(core.authority.material.intermediate.certDer);
        assert.deepEqual(after.authorities, [
          { kind: 'root', subject: root.subject, serial: root.serial, not_after: new Date(root.notAfter).toISOString() },
          {
            kind: 'intermediate',
            subject: intermediate.subject,
            serial: intermediate.serial,
            not_after: new Date(intermediate.notAfter).toISOString(),
          },
        ]);
      });

      it('lists one day with expires_after / expires_before and status=valid, keyset paged', async () => {
        const first = await issue('tls-server', 40 * DAY, 'day-1');
        const record = json<{ not_after: string }>(await call(admin, 'GET', `/v1/certificates/${first.serial}`));
        const day = record.not_after.slice(0, 10);
        const second = await issue('tls-server', 40 * DAY + 1_000, 'day-2');
        const next = new Date(Date.parse(`${day}T00:00:00.000Z`) + DAY).toISOString();
        const path = `/v1/certificates?expires_after=${day}T00:00:00.000Z&expires_before=${next}&status=valid&limit=1`;
        const page1 = await call(admin, 'GET', path);
        assert.equal(page1.status, 200, page1.body);
        const one = json<{ items: { serial: string }[]; next_cursor: string | null }>(page1);
        assert.ok(one.next_cursor !== null);
        const page2 = json<{ items: { serial: string }[]; next_cursor: string | null }>(
          await call(admin, 'GET', `${path}&cursor=${one.next_cursor}`),
        );
        const serials = [...one.items, ...page2.items].map((item) => item.serial);
        // Both certificates expire that day (unless the second crossed midnight UTC by its extra second).
        const secondDay = json<{ not_after: string }>(await call(admin, 'GET', `/v1/certificates/${second.serial}`)).not_after.slice(0, 10);
        assert.deepEqual(serials.slice(0, 1), [first.serial]);
        if (secondDay === day) assert.deepEqual(serials, [first.serial, second.serial]);
        const bad = await call(admin, 'GET', '/v1/certificates?expires_after=yesterday');
        assert.equal(bad.status, 400);
        assert.match(json<{ detail: string }>(bad).detail, /expires_after.*RFC 3339 date-time/);
      });

      it('refuses days=0 and days=367 (400), a workload (403) and a caller without a certificate (401)', async () => {
        for (const days of ['0', '367', '1.5', 'x']) {
          const reply = await call(admin, 'GET', `/v1/certificates/timeline?days=${days}`);
          assert.equal(reply.status, 400, `days=${days}: ${reply.body}`);
          assert.match(json<{ detail: string }>(reply).detail, /days.*whole number of days from 1 to 366/);
        }
        assert.equal((await timeline(1)).buckets.length, 1);
        assert.equal((await timeline(366)).buckets.length, 366);
        assert.equal((await call(workload, 'GET', '/v1/certificates/timeline')).status, 403);
        assert.equal((await call(undefined, 'GET', '/v1/certificates/timeline')).status, 401);
      });
    });

    describe(`GET /v1/certificates/:serial/ocsp (${backend})`, () => {
      interface OcspWire {
        serial: string;
        cert_status: string;
        revoked_at: string | null;
        revocation_reason: string | null;
        produced_at: string;
        this_update: string;
        next_update: string | null;
        responder: string;
      }

      async function viaOcsp(pem: string) {
        const der = new X509Certificate(pem).raw;
        const reply = await call(undefined, 'POST', '/ocsp', {
          raw: Buffer.from(requestForCertificate(der, core.authority.material.intermediate.certDer)),
        });
        assert.equal(reply.status, 200);
        const basic = describeOcspResponse(reply.bytes).basic;
        assert.ok(basic !== undefined);
        return { basic, single: basic.responses[0] };
      }

      it('answers good, then revoked with reason and time right after a revoke, as /ocsp does', async () => {
        const leaf = await issue('tls-server', 5 * DAY, 'ocsp');
        const good = await call(admin, 'GET', `/v1/certificates/${leaf.serial}/ocsp`);
        assert.equal(good.status, 200, good.body);
        const before = json<OcspWire>(good);
        const direct = await viaOcsp(leaf.pem);
        const signer = direct.basic.certificates[0];
        assert.ok(signer !== undefined, 'a delegated responder signs');
        assert.deepEqual(before, {
          serial: leaf.serial,
          cert_status: 'good',
          revoked_at: null,
          revocation_reason: null,
          produced_at: new Date(direct.basic.producedAt).toISOString(),
          this_update: new Date(direct.single?.thisUpdate ?? 0).toISOString(),
          next_update: new Date(direct.single?.nextUpdate ?? 0).toISOString(),
          responder: describeCertificate(signer).subject,
        });

        const revoke = await call(admin, 'POST', `/v1/certificates/${leaf.serial}/revoke`, { body: { reason: 'keyCompromise' } });
        assert.equal(revoke.status, 200, revoke.body);
        const revokedAt = json<{ revoked_at: string }>(revoke).revoked_at;
        const after = json<OcspWire>(await call(admin, 'GET', `/v1/certificates/${leaf.serial}/ocsp`));
        assert.equal(after.cert_status, 'revoked');
        assert.equal(after.revocation_reason, 'keyCompromise');
        // OCSP carries GeneralizedTime in whole seconds (RFC 5280 §4.1.2.5.2).
        assert.equal(after.revoked_at, new Date(Math.floor(Date.parse(revokedAt) / 1000) * 1000).toISOString());
        const directAfter = await viaOcsp(leaf.pem);
        assert.deepEqual(directAfter.single?.status, {
          kind: 'revoked',
          revokedAt: Date.parse(after.revoked_at ?? ''),
          reason: 'keyCompromise',
        });
      });

      it('answers 404 for a serial the ledger does not hold, 400 for one that is not hex, 403 to a workload', async () => {
        const unknown = await call(admin, 'GET', '/v1/certificates/7a7a7a7a7a7a7a7a/ocsp');
        assert.equal(unknown.status, 404);
        assert.equal(unknown.headers['content-type'], 'application/problem+json; charset=utf-8');
        assert.equal((await call(admin, 'GET', '/v1/certificates/xyz/ocsp')).status, 400);
        assert.equal((await call(workload, 'GET', '/v1/certificates/7a7a/ocsp')).status, 403);
      });
    });

    describe(`GET /v1/alerts?serial= (${backend})`, () => {
      it('keeps one certificate’s alert history', async () => {
        const soon = await issue('tls-server', 30 * DAY, 'alerted');
        const other = await issue('tls-server', 30 * DAY, 'alerted-too');
        clockOffsetMs = 24 * DAY;
        const run = await call(admin, 'POST', '/v1/alerts/run').finally(() => {
          clockOffsetMs = 0;
        });
        assert.equal(run.status, 200, run.body);
        const history = await call(admin, 'GET', `/v1/alerts?serial=${soon.serial.toUpperCase()}`);
        assert.equal(history.status, 200, history.body);
        const items = json<{ items: { threshold: string; certificate: { serial: string } }[] }>(history).items;
        assert.deepEqual(
          items.map((alert) => [alert.certificate.serial, alert.threshold]),
          [[soon.serial, '7d']],
        );
        const others = json<{ items: { certificate: { serial: string } }[] }>(
          await call(admin, 'GET', `/v1/alerts?serial=${other.serial}`),
        );
        assert.deepEqual(
          others.items.map((alert) => alert.certificate.serial),
          [other.serial],
        );
        assert.deepEqual(json<{ items: unknown[] }>(await call(admin, 'GET', '/v1/alerts?serial=7a7a7a7a')).items, []);
        assert.equal((await call(admin, 'GET', '/v1/alerts?serial=not-hex')).status, 400);
      });
    });

    describe(`join tokens over HTTP (${backend})`, () => {
      const node = `spiffe://${TRUST_DOMAIN}/node/console-1`;
      const TOKEN_KEYS = ['created_at', 'created_by', 'expires_at', 'id', 'revoked_at', 'spiffe_id', 'status', 'used_at', 'used_by_serial'];

      it('creates a token shown once (201), lists it without token or hash, revokes it (204), then 409 and 404', async () => {
        const created = await call(admin, 'POST', '/v1/join-tokens', { body: { spiffe_id: node, ttl: '30m' } });
        assert.equal(created.status, 201, created.body);
        const token = json<Record<string, unknown>>(created);
        assert.deepEqual(Object.keys(token).sort(), [...TOKEN_KEYS, 'token'].sort());
        assert.match(String(token['token']), /^[A-Za-z0-9_-]{43}$/);
        assert.match(String(token['id']), /^jt-[0-9a-f]{18}$/);
        assert.equal(token['spiffe_id'], node);
        assert.equal(token['status'], 'unused');
        assert.equal(token['created_by'], adminSpiffeId);
        assert.equal(Date.parse(String(token['expires_at'])) - Date.parse(String(token['created_at'])), 30 * 60_000);

        const listed = await call(admin, 'GET', `/v1/join-tokens?spiffe_id=${encodeURIComponent(node)}&status=unused`);
        assert.equal(listed.status, 200, listed.body);
        const page = json<{ items: Record<string, unknown>[]; next_cursor: string | null }>(listed);
        assert.equal(page.next_cursor, null);
        assert.deepEqual(
          page.items.map((item) => item['id']),
          [token['id']],
        );
        assert.deepEqual(Object.keys(page.items[0] ?? {}).sort(), TOKEN_KEYS);
        assert.ok(!listed.body.includes(String(token['token'])), 'the token itself is never listed');

        const revoked = await call(admin, 'DELETE', `/v1/join-tokens/${String(token['id'])}`);
        assert.equal(revoked.status, 204, revoked.body);
        assert.equal(revoked.body, '');
        const after = json<{ items: { status: string; revoked_at: string | null }[] }>(
          await call(admin, 'GET', `/v1/join-tokens?spiffe_id=${encodeURIComponent(node)}`),
        );
        assert.equal(after.items[0]?.status, 'revoked');
        const again = await call(admin, 'DELETE', `/v1/join-tokens/${String(token['id'])}`);
        assert.equal(again.status, 409);
        assert.match(json<{ detail: string }>(again).detail, /already revoked/);
        const unknown = await call(admin, 'DELETE', '/v1/join-tokens/jt-000000000000000000');
        assert.equal(unknown.status, 404);
      });

      it('defaults to 10 minutes; refuses a bad lifetime or no SPIFFE ID with a precise 400, a workload SPIFFE ID by policy (403)', async () => {
        const created = json<{ created_at: string; expires_at: string }>(
          await call(admin, 'POST', '/v1/join-tokens', { body: { spiffe_id: `spiffe://${TRUST_DOMAIN}/node/console-2` } }),
        );
        assert.equal(Date.parse(created.expires_at) - Date.parse(created.created_at), 10 * 60_000);
        for (const ttl of ['30s', '8d', '10', 'forever']) {
          const reply = await call(admin, 'POST', '/v1/join-tokens', { body: { spiffe_id: node, ttl } });
          assert.equal(reply.status, 400, `${ttl}: ${reply.body}`);
          assert.match(json<{ detail: string }>(reply).detail, /ttl.*must be a duration from 1m to 7d/);
        }
        // A workload's SPIFFE ID is refused by identity policy, as `keysmith tokens create` refuses it (rejectedIdentifier, 403).
        const workloadId = await call(admin, 'POST', '/v1/join-tokens', { body: { spiffe_id: `spiffe://${TRUST_DOMAIN}/ns/prod/sa/api` } });
        assert.equal(workloadId.status, 403, workloadId.body);
        assert.equal(
          json<{ detail: string }>(workloadId).detail,
          `spiffe://${TRUST_DOMAIN}/ns/prod/sa/api: join tokens attest node identities, which lie under /node/`,
        );
        const missing = await call(admin, 'POST', '/v1/join-tokens', { body: {} });
        assert.equal(missing.status, 400, missing.body);
        assert.match(json<{ detail: string }>(missing).detail, /spiffe_id.*must be a node SPIFFE ID/);
        assert.equal((await call(admin, 'DELETE', '/v1/join-tokens/not-an-id')).status, 400);
      });

      it('refuses a workload identity (403) on every token route', async () => {
        assert.equal((await call(workload, 'GET', '/v1/join-tokens')).status, 403);
        assert.equal((await call(workload, 'POST', '/v1/join-tokens', { body: { spiffe_id: node } })).status, 403);
        assert.equal((await call(workload, 'DELETE', '/v1/join-tokens/jt-000000000000000000')).status, 403);
      });
    });

    describe(`cross-origin protection of state-changing requests (${backend})`, () => {
      const body = { spiffe_id: `spiffe://${TRUST_DOMAIN}/node/cross-origin` };

      async function tokenCount(): Promise<number> {
        const page = json<{ items: unknown[] }>(
          await call(admin, 'GET', `/v1/join-tokens?spiffe_id=${encodeURIComponent(body.spiffe_id)}`),
        );
        return page.items.length;
      }

      it('refuses Sec-Fetch-Site cross-site and same-site with a 403 problem, and nothing is written', async () => {
        for (const site of ['cross-site', 'same-site']) {
          const reply = await call(admin, 'POST', '/v1/join-tokens', { body, headers: { 'sec-fetch-site': site } });
          assert.equal(reply.status, 403, reply.body);
          assert.equal(reply.headers['content-type'], 'application/problem+json; charset=utf-8');
          assert.equal(json<{ detail: string }>(reply).detail, `Cross-origin request refused: Sec-Fetch-Site is ${site}.`);
        }
        const revoke = await call(admin, 'DELETE', '/v1/join-tokens/jt-000000000000000000', {
          headers: { 'sec-fetch-site': 'cross-site' },
        });
        assert.equal(revoke.status, 403);
        assert.equal(await tokenCount(), 0);
      });

      it('allows same-origin and none, an Origin that is this host, and a request with neither header (curl)', async () => {
        const origin = `https://127.0.0.1:${server.port}`;
        for (const headers of [{ 'sec-fetch-site': 'same-origin' }, { 'sec-fetch-site': 'none' }, { origin }, {}]) {
          const reply = await call(admin, 'POST', '/v1/join-tokens', { body, headers });
          assert.equal(reply.status, 201, `${JSON.stringify(headers)}: ${reply.body}`);
        }
        assert.equal(await tokenCount(), 4);
      });

      it('refuses an Origin of another host or port when Sec-Fetch-Site is absent', async () => {
        for (const origin of ['https://evil.example', `https://127.0.0.1:${server.port + 1}`, 'null']) {
          const reply = await call(admin, 'POST', '/v1/join-tokens', { body, headers: { origin } });
          assert.equal(reply.status, 403, `${origin}: ${reply.body}`);
          assert.match(json<{ detail: string }>(reply).detail, /^Cross-origin request refused: Origin /);
        }
        assert.equal(await tokenCount(), 4);
      });

      it('never refuses a GET', async () => {
        const reply = await call(admin, 'GET', '/v1/certificates/timeline?days=1', {
          headers: { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' },
        });
        assert.equal(reply.status, 200, reply.body);
      });
    });
  });
}
