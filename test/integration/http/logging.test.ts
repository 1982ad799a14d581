import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore, openSvid } from '../../../src/cli/compose.js';
import { loadConfig } from '../../../src/config/index.js';
import { asRecord, enrol, mintIdentities, send, serve, type Identities, type Served } from './harness.js';

describe('request ids and logs', () => {
  let ids: Identities;
  let served: Served | undefined;
  let lines: string[] = [];
  before(async () => {
    ids = await mintIdentities();
  });
  after(() => ids.cleanup());
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  async function start(): Promise<Served> {
    lines = [];
    served = await serve({ logLines: lines });
    return served;
  }

  const entries = (): Record<string, unknown>[] => lines.map((line) => asRecord(JSON.parse(line)));

  it('tags every line of a request with its id and the caller’s SPIFFE ID', async () => {
    const s = await start();
    const serial = enrol(s.ledger, ids.admin);
    const reply = await send(s.port, { path: '/v1/certificates', identity: ids.admin });
    const id = reply.headers['x-request-id'];
    const mine = entries().filter((e) => e['requestId'] === id);
    assert.deepEqual(
      mine.map((e) => e['msg']),
      ['incoming request', 'request completed'],
    );
    for (const entry of mine) {
      assert.equal(entry['spiffeId'], 'spiffe://keysmith.local/admin/test');
      assert.equal(entry['peerSerial'], serial);
    }
  });

  it('echoes a sane incoming x-request-id and replaces anything else', async () => {
    const s = await start();
    assert.equal(
      (await send(s.port, { path: '/healthz', headers: { 'x-request-id': 'abc-123.x:y_z' } })).headers['x-request-id'],
      'abc-123.x:y_z',
    );
    for (const bad of ['has space', 'x'.repeat(129), 'quote"d', '{"json":1}']) {
      const echoed = (await send(s.port, { path: '/healthz', headers: { 'x-request-id': bad } })).headers['x-request-id'];
      assert.match(String(echoed), /^[0-9a-f-]{36}$/, bad);
    }
  });

  it('never writes credentials or bodies to the log', async () => {
    const s = await start();
    enrol(s.ledger, ids.admin);
    const serial = enrol(s.ledger, ids.workload);
    await send(s.port, {
      path: '/v1/certificates',
      identity: ids.admin,
      headers: { authorization: 'Bearer sekrit-token-1', cookie: 'session=sekrit-cookie' },
    });
    await send(s.port, {
      method: 'POST',
      path: `/v1/certificates/${serial}/revoke`,
      identity: ids.admin,
      body: JSON.stringify({ reason: 'superseded', token: 'sekrit-body-token' }),
    });
    assert.doesNotMatch(lines.join(''), /sekrit/);
  });

  it('records who revoked what', async () => {
    const s = await start();
    enrol(s.ledger, ids.admin);
    const serial = enrol(s.ledger, ids.workload);
    await send(s.port, {
      method: 'POST',
      path: `/v1/certificates/${serial}/revoke`,
      identity: ids.admin,
      body: '{"reason":"keyCompromise"}',
    });
    const audit = entries().find((e) => e['msg'] === 'certificate revoked');
    assert.ok(audit !== undefined);
    assert.equal(audit['serial'], serial);
    assert.equal(audit['reason'], 'keyCompromise');
    assert.equal(audit['revokedBy'], 'spiffe://keysmith.local/admin/test');
  });

  it('logs a join token by its id, never the token (POST and DELETE /v1/join-tokens over a real SVID service)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keysmith-token-log-'));
    const core = await openCore(loadConfig({ env: { KEYSMITH_DATA_DIR: dir, KEYSMITH_LOG_LEVEL: 'silent' } }));
    try {
      lines = [];
      served = await serve({ logLines: lines, deps: { svid: await openSvid(core) } });
      enrol(served.ledger, ids.admin);
      const created = await send(served.port, {
        method: 'POST',
        path: '/v1/join-tokens',
        identity: ids.admin,
        body: JSON.stringify({ spiffe_id: 'spiffe://keysmith.local/node/logged' }),
      });
      assert.equal(created.status, 201);
      const { id, token } = asRecord(created.json());
      assert.equal(typeof token, 'string');
      assert.equal((await send(served.port, { method: 'DELETE', path: `/v1/join-tokens/${String(id)}`, identity: ids.admin })).status, 204);
      assert.deepEqual(
        entries()
          .filter((e) => e['tokenId'] !== undefined)
          .map((e) => [e['msg'], e['tokenId'], e['by']]),
        [
          ['join token created', id, 'spiffe://keysmith.local/admin/test'],
          ['join token revoked', id, 'spiffe://keysmith.local/admin/test'],
        ],
      );
      assert.ok(!lines.join('').includes(String(token)), 'the token never reaches the log');
    } finally {
      await served?.close();
      served = undefined;
      await core.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('logs handshakes it refused, with the alert', async () => {
    const s = await start();
    await assert.rejects(send(s.port, { path: '/healthz', identity: ids.otherCa }));
    const refused = entries().find((e) => e['msg'] === 'TLS handshake refused');
    assert.ok(refused !== undefined, lines.join(''));
    assert.match(JSON.stringify(refused['err']), /unknown_ca/);
  });
});
