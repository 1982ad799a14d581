import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommand, runProcess } from '../../helpers/processes.js';
import { enrol, fixturePath, mintIdentities, serve, type Identities, type Served } from './harness.js';

/** curl is a CI requirement (KEYSMITH_REQUIRE_INTEROP=1 fails instead of skipping, like test/interop). */
const skip = hasCommand('curl') || process.env['KEYSMITH_REQUIRE_INTEROP'] === '1' ? {} : { skip: 'curl is not installed' };

describe('curl (OpenSSL) against the app over our TLS', skip, () => {
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

  function curl(port: number, path: string, ...extra: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return runProcess('curl', [
      '--silent',
      '--show-error',
      '--max-time',
      '10',
      '--resolve',
      `localhost:${port}:127.0.0.1`,
      '--cacert',
      fixturePath('ca.pem'),
      '--write-out',
      '\n%{http_code} %{content_type}',
      ...extra,
      `https://localhost:${port}${path}`,
    ]);
  }

  it('lists certificates with the admin’s --cert/--key (200)', async () => {
    served = await serve();
    enrol(served.ledger, ids.admin);
    const result = await curl(
      served.port,
      '/v1/certificates?expiring_within=7d',
      '--cert',
      ids.admin.chainPath,
      '--key',
      ids.admin.keyPath,
    );
    assert.equal(result.code, 0, result.stderr);
    const [body = '', status = ''] = result.stdout.split('\n');
    assert.equal(status, '200 application/json; charset=utf-8');
    assert.deepEqual(JSON.parse(body), { items: [], next_cursor: null });
  });

  it('reads /healthz and the PEM bundle without a certificate, and gets 401 on /v1/certificates', async () => {
    served = await serve();
    const health = await curl(served.port, '/healthz');
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stdout, /\n200 application\/json/);
    const bundle = await curl(served.port, '/v1/bundle');
    assert.match(bundle.stdout, /^-----BEGIN CERTIFICATE-----/);
    assert.match(bundle.stdout, /\n200 application\/x-pem-file$/);
    const ops = await curl(served.port, '/v1/certificates');
    assert.match(ops.stdout, /\n401 application\/problem\+json; charset=utf-8$/);
  });

  it('revokes with a JSON body (200)', async () => {
    served = await serve();
    enrol(served.ledger, ids.admin);
    const serial = enrol(served.ledger, ids.workload);
    const result = await curl(
      served.port,
      `/v1/certificates/${serial}/revoke`,
      '--cert',
      ids.admin.chainPath,
      '--key',
      ids.admin.keyPath,
      '--json',
      '{"reason":"superseded"}',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /\n200 application\/json/);
    assert.equal(served.ledger.statusOf(serial)?.reason, 'superseded');
  });
});
