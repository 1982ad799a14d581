import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DomainError } from '../../../src/shared/errors.js';
import { asUnavailable } from '../../../src/ledger/postgres/unavailable.js';
import { RevokedSerials } from '../../../src/http/index.js';
import { connect } from '../../../src/tls/index.js';
import { withTimeout } from '../../helpers/processes.js';
import { asRecord, enrol, fixture, mintIdentities, send, serve, type Identities, type Served } from './harness.js';

const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/** The RFC 9457 members every problem carries, and nothing unexpected. */
function assertProblem(
  reply: { status: number; headers: Record<string, unknown>; json(): unknown },
  status: number,
  slug: string,
): Record<string, unknown> {
  assert.equal(reply.status, status);
  assert.equal(reply.headers['content-type'], PROBLEM_JSON);
  const body = asRecord(reply.json());
  assert.deepEqual(Object.keys(body).sort(), ['detail', 'instance', 'status', 'title', 'type']);
  assert.equal(body['type'], `https://keysmith.dev/problems/${slug}`);
  assert.equal(body['status'], status);
  assert.equal(typeof body['title'], 'string');
  assert.equal(typeof body['detail'], 'string');
  return body;
}

describe('problem documents (RFC 9457)', () => {
  let ids: Identities;
  let served: Served | undefined;
  let logLines: string[] = [];
  before(async () => {
    ids = await mintIdentities();
  });
  after(() => ids.cleanup());
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  async function asAdmin(): Promise<Served> {
    logLines = [];
    served = await serve({ logLines });
    enrol(served.ledger, ids.admin);
    return served;
  }

  it('answers expiring_within=banana with 400 naming the parameter', async () => {
    const s = await asAdmin();
    const reply = await send(s.port, { path: '/v1/certificates?expiring_within=banana', identity: ids.admin });
    const body = assertProblem(reply, 400, 'malformed');
    assert.equal(body['detail'], 'query parameter "expiring_within": must be a duration such as 30s, 15m, 12h or 7d, at most 3650d');
    assert.equal(body['instance'], '/v1/certificates');
    assert.equal(s.ledger.queries.length, 0, 'the ledger was not asked');
  });

  it('answers limit=0 and limit=abc with 400 naming the parameter', async () => {
    const s = await asAdmin();
    for (const limit of ['0', '501', 'abc', '1.5']) {
      const reply = await send(s.port, { path: `/v1/certificates?limit=${limit}`, identity: ids.admin });
      const body = assertProblem(reply, 400, 'malformed');
      assert.equal(body['detail'], 'query parameter "limit": must be an integer between 1 and 500', `limit=${limit}`);
    }
  });

  it('answers an unknown query parameter and an unknown profile with 400', async () => {
    const s = await asAdmin();
    const unknown = assertProblem(await send(s.port, { path: '/v1/certificates?expiring=7d', identity: ids.admin }), 400, 'malformed');
    assert.match(String(unknown['detail']), /^query: Unrecognized key: "expiring"/);
    const profile = assertProblem(await send(s.port, { path: '/v1/certificates?profile=banana', identity: ids.admin }), 400, 'malformed');
    assert.match(String(profile['detail']), /^query parameter "profile": must be one of svid, tls-server/);
  });

  it('passes a cursor the ledger rejects through as 400', async () => {
    const s = await asAdmin();
    const body = assertProblem(await send(s.port, { path: '/v1/certificates?cursor=-1', identity: ids.admin }), 400, 'malformed');
    assert.equal(body['detail'], 'cursor is not one this listing handed out');
  });

  it('answers an unknown route with a 404 problem', async () => {
    const s = await asAdmin();
    const body = assertProblem(await send(s.port, { path: '/nope?x=1' }), 404, 'not-found');
    assert.equal(body['detail'], 'No route for GET /nope.');
    assert.equal(body['instance'], '/nope');
  });

  it('answers an unknown serial with a 404 problem', async () => {
    const s = await asAdmin();
    const body = assertProblem(await send(s.port, { path: '/v1/certificates/abcdef', identity: ids.admin }), 404, 'not-found');
    assert.equal(body['detail'], 'No certificate with serial abcdef.');
    assertProblem(
      await send(s.port, { method: 'POST', path: '/v1/certificates/abcdef/revoke', identity: ids.admin, body: '{"reason":"superseded"}' }),
      404,
      'not-found',
    );
  });

  it('answers a malformed serial with 400', async () => {
    const s = await asAdmin();
    const body = assertProblem(await send(s.port, { path: '/v1/certificates/not-hex', identity: ids.admin }), 400, 'malformed');
    assert.match(String(body['detail']), /^path parameter "serial": must be a certificate serial number/);
  });

  it('answers a second revocation with 409 conflict', async () => {
    const s = await asAdmin();
    const serial = enrol(s.ledger, ids.workload);
    const first = await send(s.port, {
      method: 'POST',
      path: `/v1/certificates/${serial}/revoke`,
      identity: ids.admin,
      body: '{"reason":"keyCompromise"}',
    });
    assert.equal(first.status, 200, first.body);
    const second = await send(s.port, {
      method: 'POST',
      path: `/v1/certificates/${serial}/revoke`,
      identity: ids.admin,
      body: '{"reason":"keyCompromise"}',
    });
    const body = assertProblem(second, 409, 'conflict');
    assert.equal(body['detail'], `Certificate ${serial} was already revoked at 2030-01-01T00:00:00.000Z.`);
  });

  it('maps the Authority’s own conflict (a concurrent revocation) to 409', async () => {
    const s = await asAdmin();
    const serial = enrol(s.ledger, ids.workload);
    s.ledger.revoke = () => {
      throw new DomainError('conflict', 'revoked concurrently');
    };
    const reply = await send(s.port, {
      method: 'POST',
      path: `/v1/certificates/${serial}/revoke`,
      identity: ids.admin,
      body: '{"reason":"superseded"}',
    });
    assert.equal(assertProblem(reply, 409, 'conflict')['detail'], 'revoked concurrently');
  });

  it('answers bad revocation bodies with 400 naming the field', async () => {
    const s = await asAdmin();
    const serial = enrol(s.ledger, ids.workload);
    const path = `/v1/certificates/${serial}/revoke`;
    const reason = assertProblem(
      await send(s.port, { method: 'POST', path, identity: ids.admin, body: '{"reason":"bored"}' }),
      400,
      'malformed',
    );
    assert.match(String(reason['detail']), /^body field "reason": must be one of unspecified, keyCompromise/);
    const hold = assertProblem(
      await send(s.port, { method: 'POST', path, identity: ids.admin, body: '{"reason":"removeFromCRL"}' }),
      400,
      'malformed',
    );
    assert.match(String(hold['detail']), /^body field "reason"/);
    const missing = assertProblem(await send(s.port, { method: 'POST', path, identity: ids.admin, body: '{}' }), 400, 'malformed');
    assert.match(String(missing['detail']), /^body field "reason"/);
    const broken = assertProblem(await send(s.port, { method: 'POST', path, identity: ids.admin, body: '{"reason":' }), 400, 'malformed');
    assert.match(String(broken['detail']), /JSON/);
    const type = await send(s.port, {
      method: 'POST',
      path,
      identity: ids.admin,
      body: 'reason=x',
      headers: { 'content-type': 'text/plain' },
    });
    assertProblem(type, 415, 'unsupported-media-type');
    const huge = JSON.stringify({ reason: 'superseded', padding: 'x'.repeat(70_000) });
    assertProblem(await send(s.port, { method: 'POST', path, identity: ids.admin, body: huge }), 413, 'payload-too-large');
    assert.equal(s.ledger.records.get(serial)?.status, 'valid');
  });

  it('answers an internal fault with a generic 500 and logs the cause with the request id', async () => {
    const s = await asAdmin();
    s.ledger.listFailure = new Error('disk on fire: /var/lib/keysmith/ledger.db');
    const reply = await send(s.port, { path: '/v1/certificates', identity: ids.admin, headers: { 'x-request-id': 'trace-500' } });
    const body = assertProblem(reply, 500, 'internal');
    assert.equal(body['detail'], 'An internal error occurred (request id trace-500).');
    assert.doesNotMatch(reply.body, /disk on fire/);
    assert.equal(reply.headers['x-request-id'], 'trace-500');
    const logged = logLines.map((line) => asRecord(JSON.parse(line)));
    const entry = logged.find((l) => l['msg'] === 'internal error');
    assert.ok(entry !== undefined, 'the fault was logged');
    assert.equal(entry['requestId'], 'trace-500');
    assert.equal(entry['spiffeId'], 'spiffe://keysmith.local/admin/test');
    assert.match(String(asRecord(entry['err'])['message']), /disk on fire/);
  });

  it('answers rateLimited with 429 and Retry-After', async () => {
    const s = await asAdmin();
    s.ledger.listFailure = new DomainError('rateLimited', 'slow down', { retryAfterSeconds: 2.5 });
    const reply = await send(s.port, { path: '/v1/certificates', identity: ids.admin });
    assertProblem(reply, 429, 'rate-limited');
    assert.equal(reply.headers['retry-after'], '3');
  });

  it('answers a ledger database that cannot be reached with 503, Retry-After and database-unavailable, the driver message kept inside', async () => {
    const s = await asAdmin();
    const unavailable = asUnavailable(Object.assign(new Error('connect ECONNREFUSED 10.9.8.7:5432'), { code: 'ECONNREFUSED' }));
    assert.ok(unavailable instanceof DomainError);
    s.ledger.listFailure = unavailable;
    const reply = await send(s.port, { path: '/v1/certificates', identity: ids.admin });
    const body = assertProblem(reply, 503, 'database-unavailable');
    assert.equal(body['title'], 'The ledger database is unavailable');
    assert.equal(body['detail'], 'the ledger database cannot be reached right now; try again shortly');
    assert.equal(reply.headers['retry-after'], '5');
    assert.doesNotMatch(reply.body, /10\.9\.8\.7|ECONNREFUSED/);
    // Recovers without a restart: the next request that reaches the database is answered.
    s.ledger.listFailure = undefined;
    assert.equal((await send(s.port, { path: '/v1/certificates', identity: ids.admin })).status, 200);
  });

  it('an unavailable error built elsewhere without a Retry-After still gets one', async () => {
    const s = await asAdmin();
    s.ledger.listFailure = new DomainError('unavailable', 'the ledger database cannot be reached right now');
    const reply = await send(s.port, { path: '/v1/certificates', identity: ids.admin });
    assertProblem(reply, 503, 'database-unavailable');
    assert.equal(reply.headers['retry-after'], '5');
  });

  it('answers a service at capacity (busy) with 503, service-busy, its own title and Retry-After, not database-unavailable', async () => {
    const s = await asAdmin();
    s.ledger.listFailure = new DomainError('busy', 'the crypto workers have 4096 jobs queued; retry shortly', { retryAfterSeconds: 1 });
    const reply = await send(s.port, { path: '/v1/certificates', identity: ids.admin });
    const body = assertProblem(reply, 503, 'service-busy');
    assert.equal(body['title'], 'The service is busy; retry shortly');
    assert.equal(body['detail'], 'the crypto workers have 4096 jobs queued; retry shortly');
    assert.equal(reply.headers['retry-after'], '1');
    // Built elsewhere without a Retry-After, it still gets one (RFC 9110 §15.6.4).
    s.ledger.listFailure = new DomainError('busy', 'at capacity');
    const bare = await send(s.port, { path: '/v1/certificates', identity: ids.admin });
    assertProblem(bare, 503, 'service-busy');
    assert.equal(bare.headers['retry-after'], '1');
  });

  it('answers 503 when the per-request client-certificate check cannot reach the database', async () => {
    const s = await asAdmin();
    s.ledger.statusFailure = new DomainError('unavailable', 'the ledger database cannot be reached right now', { retryAfterSeconds: 5 });
    const reply = await send(s.port, { path: '/v1/certificates', identity: ids.admin });
    assertProblem(reply, 503, 'database-unavailable');
    assert.equal(reply.headers['retry-after'], '5');
  });

  it('refuses a client certificate this node heard is revoked with 403, even while the database cannot be reached', async () => {
    logLines = [];
    const revokedSerials = new RevokedSerials();
    served = await serve({ logLines, deps: { revokedSerials } });
    const serial = enrol(served.ledger, ids.admin);
    assert.equal((await send(served.port, { path: '/v1/certificates', identity: ids.admin })).status, 200);
    revokedSerials.add(serial);
    served.ledger.statusFailure = new DomainError('unavailable', 'the ledger database cannot be reached right now');
    const reply = await send(served.port, { path: '/v1/certificates', identity: ids.admin });
    const body = assertProblem(reply, 403, 'certificate-revoked');
    assert.equal(body['detail'], `The client certificate (serial ${serial}) was revoked.`);
    // The ledger still says valid (the fake never saw the revocation): the remembered serial alone refused it.
    assert.equal(served.ledger.records.get(serial)?.status, 'valid');
  });

  it('answers bytes that are not HTTP/1.1 with a 400 problem and closes the connection', async () => {
    const s = await asAdmin();
    const socket = connect({
      host: '127.0.0.1',
      port: s.port,
      servername: 'localhost',
      ca: fixture('ca.pem'),
      ALPNProtocols: ['http/1.1'],
    });
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    // Not events.once: the client may see EPIPE answering the server's close, which once() would turn into a rejection.
    const closed = new Promise((resolve) => socket.once('close', resolve));
    socket.write('NOT HTTP AT ALL\r\n\r\n');
    await withTimeout(closed, 5_000, 'the server closing the connection');
    const [head = '', body = ''] = text.split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(head, /\r\nContent-Type: application\/problem\+json; charset=utf-8\r\n/);
    assert.deepEqual(JSON.parse(body), {
      type: 'https://keysmith.dev/problems/malformed',
      title: 'Malformed request',
      status: 400,
      detail: 'The request could not be parsed as HTTP/1.1.',
    });
  });
});
