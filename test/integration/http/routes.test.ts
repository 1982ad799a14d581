import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { asRecord, enrol, fixture, mintIdentities, send, serve, type Identities, type Served } from './harness.js';
import { FakeHealthCheck, firstCertificate } from './fakes.js';

describe('routes over our TLS', () => {
  let ids: Identities;
  let served: Served | undefined;
  before(async () => {
    ids = await mintIdentities();
  });
  after(() => ids.cleanup());
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  describe('GET /v1/bundle', () => {
    it('serves PEM by default (curl’s */*, no Accept, or text/html first)', async () => {
      served = await serve();
      for (const accept of [undefined, '*/*', 'text/html,application/xhtml+xml,*/*;q=0.8']) {
        const reply = await send(served.port, { path: '/v1/bundle', ...(accept === undefined ? {} : { headers: { accept } }) });
        assert.equal(reply.status, 200);
        assert.equal(reply.headers['content-type'], 'application/x-pem-file');
        assert.equal(reply.headers['vary'], 'accept');
        assert.equal(reply.body, fixture('ca.pem') + fixture('intermediate.pem'));
      }
    });

    it('serves the SPIFFE bundle for Accept: application/json (SPIFFE Trust Domain and Bundle §4)', async () => {
      served = await serve();
      const reply = await send(served.port, { path: '/v1/bundle', headers: { accept: 'application/json' } });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
      const bundle = asRecord(reply.json());
      assert.equal(bundle['spiffe_sequence'], 7);
      assert.equal(bundle['spiffe_refresh_hint'], 300);
      const keys = bundle['keys'];
      assert.ok(Array.isArray(keys) && keys.length === 2);
      const pems = [fixture('ca.pem'), fixture('intermediate.pem')];
      keys.forEach((entry: unknown, i) => {
        const key = asRecord(entry);
        assert.deepEqual(Object.keys(key).sort(), ['crv', 'kty', 'use', 'x', 'x5c', 'y']);
        assert.equal(key['kty'], 'EC');
        assert.equal(key['crv'], 'P-256');
        assert.equal(key['use'], 'x509-svid');
        const cert = firstCertificate(pems[i] ?? '');
        assert.deepEqual(key['x5c'], [cert.raw.toString('base64')]);
        const jwk = cert.publicKey.export({ format: 'jwk' });
        assert.equal(key['x'], jwk.x);
        assert.equal(key['y'], jwk.y);
      });
    });
  });

  describe('GET /healthz', () => {
    it('answers 200 with every check when all pass', async () => {
      served = await serve();
      const reply = await send(served.port, { path: '/healthz' });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['cache-control'], 'no-store');
      assert.deepEqual(reply.json(), { status: 'ok', checks: { ledger: { status: 'ok' }, ca: { status: 'ok' } } });
    });

    it('answers 503 naming the failing checks, a throwing check counted as failing', async () => {
      served = await serve();
      const [ledger, ca] = served.health;
      assert.ok(ledger !== undefined && ca !== undefined);
      ledger.result = { ok: false, detail: 'database is locked' };
      ca.throws = new Error('HSM unplugged');
      const reply = await send(served.port, { path: '/healthz' });
      assert.equal(reply.status, 503);
      assert.deepEqual(reply.json(), {
        status: 'fail',
        checks: {
          ledger: { status: 'fail', detail: 'database is locked' },
          ca: { status: 'fail', detail: 'the check failed with an internal error' },
        },
      });
      assert.doesNotMatch(reply.body, /HSM/);
    });

    it('reports the database and answers 200 "degraded" when only a check marked degraded fails (the ledger database is down)', async () => {
      let reachable = false;
      const database = { status: async () => ({ backend: 'postgres' as const, reachable, schemaVersion: 7 }) };
      const ledgerCheck = {
        name: 'ledger',
        whenFailing: 'degraded' as const,
        check: async () => (reachable ? { ok: true } : { ok: false, detail: 'the ledger database cannot be reached' }),
      };
      const ca = new FakeHealthCheck('ca');
      served = await serve({ deps: { health: [ledgerCheck, ca], database } });
      const down = await send(served.port, { path: '/healthz' });
      assert.equal(down.status, 200);
      assert.deepEqual(down.json(), {
        status: 'degraded',
        checks: { ledger: { status: 'fail', detail: 'the ledger database cannot be reached' }, ca: { status: 'ok' } },
        database: { backend: 'postgres', reachable: false, schemaVersion: 7 },
      });
      // A failing essential check still fails the node, degraded or not.
      ca.result = { ok: false, detail: 'no key' };
      const failing = await send(served.port, { path: '/healthz' });
      assert.equal(failing.status, 503);
      assert.equal(asRecord(failing.json())['status'], 'fail');
      // The database is back: ok again, without a restart.
      ca.result = { ok: true };
      reachable = true;
      const back = await send(served.port, { path: '/healthz' });
      assert.equal(back.status, 200);
      assert.deepEqual(back.json(), {
        status: 'ok',
        checks: { ledger: { status: 'ok' }, ca: { status: 'ok' } },
        database: { backend: 'postgres', reachable: true, schemaVersion: 7 },
      });
    });
  });

  describe('GET /metrics', () => {
    it('exposes requests by route, latency, issuance by profile and handshakes in the Prometheus text format', async () => {
      served = await serve();
      await send(served.port, { path: '/healthz' });
      await send(served.port, { path: '/healthz' });
      await send(served.port, { path: '/no/such/thing' });
      served.metrics.countIssued('svid');
      const reply = await send(served.port, { path: '/metrics' });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
      const text = reply.body;
      assert.match(text, /^# TYPE keysmith_http_requests_total counter$/m);
      assert.match(text, /^keysmith_http_requests_total\{method="GET",route="\/healthz",status="200"\} 2$/m);
      assert.match(text, /^keysmith_http_requests_total\{method="GET",route="unmatched",status="404"\} 1$/m);
      assert.match(text, /^keysmith_http_request_duration_seconds_bucket\{le="\+Inf",method="GET",route="\/healthz"\} 2$/m);
      assert.match(text, /^keysmith_certificates_issued_total\{profile="svid"\} 1$/m);
      assert.match(text, /^keysmith_tls_handshakes_total\{result="ok"\} 4$/m);
    });
  });

  describe('/v1/certificates (admin)', () => {
    it('lists certificates with the filters passed to the ledger and ISO 8601 times', async () => {
      served = await serve();
      enrol(served.ledger, ids.admin);
      const notAfter = Date.parse('2030-01-06T12:00:00Z');
      const serial = enrol(served.ledger, ids.workload, { requester: 'spiffe://keysmith.local/node/agent-1', notAfter });
      const reply = await send(served.port, {
        path: '/v1/certificates?expiring_within=7d&status=valid&profile=svid&spiffe_id=spiffe%3A%2F%2Fkeysmith.local%2Fworkload%2Ftest&limit=1',
        identity: ids.admin,
      });
      assert.equal(reply.status, 200, reply.body);
      const query = served.ledger.queries.at(-1);
      assert.deepEqual(query, {
        now: served.clock.now(),
        expiringWithinMs: 7 * 86_400_000,
        status: 'valid',
        profile: 'svid',
        spiffeId: 'spiffe://keysmith.local/workload/test',
        limit: 1,
      });
      const cert = firstCertificate(ids.workload.chain);
      assert.deepEqual(reply.json(), {
        items: [
          {
            serial,
            subject: cert.subject,
            issuer: cert.issuer,
            spiffe_id: 'spiffe://keysmith.local/workload/test',
            dns_names: [],
            profile: 'svid',
            requester: 'spiffe://keysmith.local/node/agent-1',
            not_before: new Date(Date.parse(cert.validFrom)).toISOString(),
            not_after: '2030-01-06T12:00:00.000Z',
            status: 'valid',
            revoked_at: null,
            revocation_reason: null,
            fingerprint: cert.fingerprint256.replaceAll(':', '').toLowerCase(),
          },
        ],
        next_cursor: null,
      });
    });

    it('parses durations in s, m, h and d', async () => {
      served = await serve();
      enrol(served.ledger, ids.admin);
      const cases: [string, number][] = [
        ['90s', 90_000],
        ['15m', 900_000],
        ['12h', 43_200_000],
        ['7d', 604_800_000],
      ];
      for (const [text, ms] of cases) {
        const reply = await send(served.port, { path: `/v1/certificates?expiring_within=${text}`, identity: ids.admin });
        assert.equal(reply.status, 200);
        assert.equal(served.ledger.queries.at(-1)?.expiringWithinMs, ms, text);
      }
    });

    it('pages with next_cursor', async () => {
      served = await serve();
      enrol(served.ledger, ids.admin);
      enrol(served.ledger, ids.workload);
      enrol(served.ledger, ids.node);
      const first = asRecord((await send(served.port, { path: '/v1/certificates?limit=2', identity: ids.admin })).json());
      assert.equal((first['items'] as unknown[]).length, 2);
      assert.equal(first['next_cursor'], '2');
      const second = asRecord((await send(served.port, { path: '/v1/certificates?limit=2&cursor=2', identity: ids.admin })).json());
      assert.equal((second['items'] as unknown[]).length, 1);
      assert.equal(second['next_cursor'], null);
    });

    it('returns one certificate as JSON, and as a PEM chain for Accept: application/pem-certificate-chain (RFC 8555 §9.1)', async () => {
      served = await serve();
      enrol(served.ledger, ids.admin);
      const serial = enrol(served.ledger, ids.workload);
      const json = await send(served.port, { path: `/v1/certificates/${serial}`, identity: ids.admin });
      assert.equal(json.status, 200);
      assert.equal(asRecord(json.json())['serial'], serial);
      const pem = await send(served.port, {
        path: `/v1/certificates/${serial}`,
        identity: ids.admin,
        headers: { accept: 'application/pem-certificate-chain' },
      });
      assert.equal(pem.status, 200);
      assert.equal(pem.headers['content-type'], 'application/pem-certificate-chain');
      const blocks = pem.body.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/g) ?? [];
      assert.equal(blocks.length, 2, 'the leaf and the intermediate, not the root');
      assert.equal(new X509Certificate(blocks[0] ?? '').fingerprint256, firstCertificate(ids.workload.chain).fingerprint256);
      assert.equal(new X509Certificate(blocks[1] ?? '').fingerprint256, firstCertificate(fixture('intermediate.pem')).fingerprint256);
      assert.equal(pem.body, blocks.join(''));
    });

    it('accepts serials in any case, colon-separated, with a leading zero octet', async () => {
      served = await serve();
      enrol(served.ledger, ids.admin);
      const serial = enrol(served.ledger, ids.workload);
      const spelled = `00:${(serial.match(/../g) ?? []).join(':').toUpperCase()}`;
      const reply = await send(served.port, { path: `/v1/certificates/${spelled}`, identity: ids.admin });
      assert.equal(reply.status, 200, reply.body);
      assert.equal(asRecord(reply.json())['serial'], serial);
    });

    it('revokes through the Authority and returns the revoked certificate', async () => {
      served = await serve();
      enrol(served.ledger, ids.admin);
      const serial = enrol(served.ledger, ids.workload);
      const reply = await send(served.port, {
        method: 'POST',
        path: `/v1/certificates/${serial}/revoke`,
        identity: ids.admin,
        body: JSON.stringify({ reason: 'keyCompromise' }),
      });
      assert.equal(reply.status, 200, reply.body);
      const body = asRecord(reply.json());
      assert.equal(body['status'], 'revoked');
      assert.equal(body['revocation_reason'], 'keyCompromise');
      assert.equal(body['revoked_at'], '2030-01-01T00:00:00.000Z');
      assert.equal(served.ledger.statusOf(serial)?.status, 'revoked');
      // The revoked workload is now refused everywhere.
      assert.equal((await send(served.port, { path: '/healthz', identity: ids.workload })).status, 403);
    });
  });
});
