import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { TlsAlertError } from '../../../src/tls/index.js';
import { installAccessPolicy } from '../../../src/http/plugins/access.js';
import { principalOf } from '../../../src/http/plugins/mtls-peer.js';
import { asRecord, enrol, mintIdentities, send, serve, TlsAgent, TRUST_DOMAIN, type Identities, type Served } from './harness.js';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

function problemType(body: unknown): unknown {
  return asRecord(body)['type'];
}

describe('route-group policies over mutual TLS (DESIGN: identity and authorization)', () => {
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

  it('refuses /v1/certificates without a client certificate with 401 certificate-required', async () => {
    served = await serve();
    const reply = await send(served.port, { path: '/v1/certificates' });
    assert.equal(reply.status, 401);
    assert.equal(reply.headers['content-type'], PROBLEM_JSON);
    assert.deepEqual(reply.json(), {
      type: 'https://keysmith.dev/problems/certificate-required',
      title: 'Client certificate required',
      status: 401,
      detail: 'This route requires a client certificate.',
      instance: '/v1/certificates',
    });
    assert.match(String(reply.headers['x-request-id']), /^[0-9a-f-]{36}$/);
  });

  it('refuses a workload identity on admin routes with 403 forbidden', async () => {
    served = await serve();
    enrol(served.ledger, ids.workload);
    const reply = await send(served.port, { path: '/v1/certificates', identity: ids.workload });
    assert.equal(reply.status, 403);
    assert.equal(reply.headers['content-type'], PROBLEM_JSON);
    assert.equal(problemType(reply.json()), 'https://keysmith.dev/problems/forbidden');
    assert.match(String(asRecord(reply.json())['detail']), /spiffe:\/\/keysmith\.local\/workload\/test is not an administrator/);
  });

  it('refuses a node identity on admin routes with 403', async () => {
    served = await serve();
    enrol(served.ledger, ids.node);
    const reply = await send(served.port, { path: '/v1/certificates', identity: ids.node });
    assert.equal(reply.status, 403);
    assert.equal(problemType(reply.json()), 'https://keysmith.dev/problems/forbidden');
  });

  it('treats /admin/ in another trust domain as no identity at all (403)', async () => {
    served = await serve();
    enrol(served.ledger, ids.foreignAdmin);
    const reply = await send(served.port, { path: '/v1/certificates', identity: ids.foreignAdmin });
    assert.equal(reply.status, 403);
    assert.deepEqual(asRecord(reply.json())['detail'], 'The client certificate carries no SPIFFE ID of this trust domain.');
  });

  it('lets an admin identity in the ledger list certificates', async () => {
    served = await serve();
    enrol(served.ledger, ids.admin);
    const reply = await send(served.port, { path: '/v1/certificates', identity: ids.admin });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(asRecord(reply.json())['next_cursor'], null);
  });

  it('refuses an admin certificate the ledger does not know with 403 certificate-unknown', async () => {
    served = await serve();
    const reply = await send(served.port, { path: '/v1/certificates', identity: ids.admin });
    assert.equal(reply.status, 403);
    assert.equal(reply.headers['content-type'], PROBLEM_JSON);
    assert.equal(problemType(reply.json()), 'https://keysmith.dev/problems/certificate-unknown');
  });

  it('refuses a revoked admin certificate with 403 certificate-revoked', async () => {
    served = await serve();
    const serial = enrol(served.ledger, ids.admin);
    served.ledger.revoke(serial, 'keyCompromise');
    const reply = await send(served.port, { path: '/v1/certificates', identity: ids.admin });
    assert.equal(reply.status, 403);
    assert.equal(problemType(reply.json()), 'https://keysmith.dev/problems/certificate-revoked');
    assert.match(String(asRecord(reply.json())['detail']), new RegExp(`serial ${serial}\\) was revoked at 2030-01-01T00:00:00.000Z`));
  });

  it('refuses a revoked or unknown certificate on open routes too', async () => {
    served = await serve();
    const reply = await send(served.port, { path: '/healthz', identity: ids.admin });
    assert.equal(reply.status, 403);
    assert.equal(problemType(reply.json()), 'https://keysmith.dev/problems/certificate-unknown');
  });

  it('refuses the next request on a kept-alive connection once the certificate is revoked', async () => {
    served = await serve();
    const serial = enrol(served.ledger, ids.admin);
    const agent = new TlsAgent(served.port, ids.admin);
    try {
      const first = await send(served.port, { path: '/v1/certificates', agent });
      assert.equal(first.status, 200);
      served.ledger.revoke(serial, 'keyCompromise');
      const second = await send(served.port, { path: '/v1/certificates', agent });
      assert.equal(second.reusedSocket, true, 'the second request used the same connection');
      assert.equal(second.status, 403);
      assert.equal(problemType(second.json()), 'https://keysmith.dev/problems/certificate-revoked');
      assert.equal(served.connections.length, 1);
    } finally {
      agent.destroy();
    }
  });

  it('checks the client certificate and serves the ops routes over a ledger that answers with promises (PostgreSQL)', async () => {
    served = await serve({ isLedgerAsync: true });
    const serial = enrol(served.ledger, ids.admin);
    const agent = new TlsAgent(served.port, ids.admin);
    try {
      const listed = await send(served.port, { path: '/v1/certificates', agent });
      assert.equal(listed.status, 200, listed.body);
      const items = asRecord(listed.json())['items'];
      assert.ok(Array.isArray(items) && items.length === 1);
      const other = enrol(served.ledger, ids.workload);
      const revoked = await send(served.port, {
        path: `/v1/certificates/${other}/revoke`,
        method: 'POST',
        body: JSON.stringify({ reason: 'keyCompromise' }),
        agent,
      });
      assert.equal(revoked.status, 200, revoked.body);
      assert.equal(asRecord(revoked.json())['status'], 'revoked');
      const again = await send(served.port, {
        path: `/v1/certificates/${other}/revoke`,
        method: 'POST',
        body: JSON.stringify({ reason: 'keyCompromise' }),
        agent,
      });
      assert.equal(again.status, 409);
      served.ledger.revoke(serial, 'keyCompromise');
      const refused = await send(served.port, { path: '/v1/certificates', agent });
      assert.equal(refused.status, 403);
      assert.equal(problemType(refused.json()), 'https://keysmith.dev/problems/certificate-revoked');
    } finally {
      agent.destroy();
    }
  });

  it('refuses a certificate the ledger says has expired, though the connection is still open', async () => {
    served = await serve();
    enrol(served.ledger, ids.admin, { notAfter: Date.parse('2029-12-31T23:59:59Z') });
    const reply = await send(served.port, { path: '/v1/certificates', identity: ids.admin });
    assert.equal(reply.status, 403);
    assert.equal(problemType(reply.json()), 'https://keysmith.dev/problems/certificate-expired');
  });

  it('serves the open routes to any TLS client, certificate or not', async () => {
    served = await serve();
    enrol(served.ledger, ids.workload);
    for (const path of ['/healthz', '/v1/bundle', '/metrics', '/openapi.json']) {
      assert.equal((await send(served.port, { path })).status, 200, `${path} without a certificate`);
      assert.equal((await send(served.port, { path, identity: ids.workload })).status, 200, `${path} as a workload`);
    }
  });

  it('refuses a certificate from another CA at the handshake with unknown_ca (RFC 8446 §4.4.2.4)', async () => {
    served = await serve();
    const failures: unknown[] = [];
    served.server.tls.on('tlsClientError', (err: unknown) => failures.push(err));
    await assert.rejects(send(served.port, { path: '/healthz', identity: ids.otherCa }));
    assert.equal(served.connections.length, 0);
    assert.equal(failures.length, 1);
    const err = failures[0];
    assert.ok(err instanceof TlsAlertError && !err.isRemote, String(err));
    assert.equal(err.alert, 'unknown_ca');
    assert.match(await served.metrics.render(), /keysmith_tls_handshakes_total\{result="failed"\} 1/);
  });

  it('in strict mode refuses a client without a certificate at the handshake (certificate_required)', async () => {
    served = await serve({ mtlsMode: 'strict' });
    enrol(served.ledger, ids.workload);
    const failures: unknown[] = [];
    served.server.tls.on('tlsClientError', (err: unknown) => failures.push(err));
    await assert.rejects(send(served.port, { path: '/healthz' }));
    assert.ok(failures[0] instanceof TlsAlertError);
    assert.equal(failures[0].alert, 'certificate_required');
    assert.equal((await send(served.port, { path: '/healthz', identity: ids.workload })).status, 200);
  });

  it('in strict mode also refuses certificate-less requests in the HTTP layer (defence in depth)', async () => {
    served = await serve({ mtlsMode: 'strict' });
    const reply = await served.app.inject({ url: '/healthz' });
    assert.equal(reply.statusCode, 401);
    assert.equal(problemType(reply.json()), 'https://keysmith.dev/problems/certificate-required');
  });
});

describe('deny by default', () => {
  it('refuses to register a route without an access policy', () => {
    const app = Fastify();
    installAccessPolicy(app);
    assert.throws(() => app.get('/unguarded', async () => 'hello'), /route GET \/unguarded declares no access policy/);
  });

  it('fails start-up when a plugin adds a route without an access policy', async () => {
    const app = Fastify();
    installAccessPolicy(app);
    void app.register(async (child) => {
      child.get('/unguarded', async () => 'hello');
    });
    await assert.rejects(async () => app.ready(), /route GET \/unguarded declares no access policy/);
  });

  it('starts when every route declares one', async () => {
    const app = Fastify();
    installAccessPolicy(app);
    app.get('/guarded', { config: { access: 'admin' } }, async () => 'hello');
    await app.ready();
    assert.equal(app.hasRoute({ method: 'GET', url: '/guarded' }), true);
    await app.close();
  });
});

describe('principalOf (X509-SVID §2, §4.1)', () => {
  const leaf = (uris: string[], isCA = false) => ({ serialNumber: '0a', uris, isCA, notAfter: new Date(0) });

  it('reads the kind from the first path segment', () => {
    assert.deepEqual(principalOf(leaf([`spiffe://${TRUST_DOMAIN}/admin/alice`]), TRUST_DOMAIN), {
      spiffeId: `spiffe://${TRUST_DOMAIN}/admin/alice`,
      serial: '0a',
      kind: 'admin',
    });
    assert.equal(principalOf(leaf([`spiffe://${TRUST_DOMAIN}/node/n1`]), TRUST_DOMAIN)?.kind, 'node');
    assert.equal(principalOf(leaf([`spiffe://${TRUST_DOMAIN}/ns/prod/sa/web`]), TRUST_DOMAIN)?.kind, 'workload');
    assert.equal(principalOf(leaf([`spiffe://${TRUST_DOMAIN}/administrator`]), TRUST_DOMAIN)?.kind, 'workload');
    assert.equal(
      principalOf(leaf([`spiffe://${TRUST_DOMAIN}/admin`]), TRUST_DOMAIN)?.kind,
      'workload',
      'a bare /admin names no administrator',
    );
    assert.equal(principalOf(leaf([`spiffe://${TRUST_DOMAIN}/node`]), TRUST_DOMAIN)?.kind, 'workload');
  });

  it('gives no principal without exactly one valid SPIFFE ID of this trust domain, or for a CA', () => {
    const none = [
      leaf([]),
      leaf(['https://example.com/']),
      leaf([`spiffe://${TRUST_DOMAIN}/a`, `spiffe://${TRUST_DOMAIN}/b`]),
      leaf(['spiffe://other.example/admin/x']),
      leaf([`spiffe://${TRUST_DOMAIN}`]),
      leaf([`spiffe://${TRUST_DOMAIN}/`]),
      leaf([`spiffe://${TRUST_DOMAIN}/admin/`]),
      leaf([`spiffe://${TRUST_DOMAIN}/admin/../x`]),
      leaf([`spiffe://${TRUST_DOMAIN.toUpperCase()}/admin/x`]),
      leaf([`SPIFFE://${TRUST_DOMAIN}/admin/x`]),
      leaf([`spiffe://${TRUST_DOMAIN}/admin/x?q=1`]),
      leaf([`spiffe://${TRUST_DOMAIN}:443/admin/x`]),
      leaf([`spiffe://${TRUST_DOMAIN}/admin/x`], true),
    ];
    for (const l of none) assert.equal(principalOf(l, TRUST_DOMAIN), undefined, JSON.stringify(l.uris));
  });

  it('ignores URIs that are not SPIFFE IDs beside the one that is', () => {
    assert.equal(principalOf(leaf(['https://example.com/', `spiffe://${TRUST_DOMAIN}/admin/a`]), TRUST_DOMAIN)?.kind, 'admin');
  });
});
