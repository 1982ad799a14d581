import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isDomainError } from '../../../src/shared/errors.js';
import { CryptoPool, parseCsr } from '../../../src/x509/index.js';
import { acmeStack, body, header, makeCsr, newKey, pathOf, TestClient, type AcmeStack } from './protocol-client.js';
import type { AcmeHttpResponse } from '../../../src/acme/index.js';

/**
 * ACME finalize with the crypto worker pool's CSR check (compose.ts hands it
 * to the ACME server as to the SVID service): the certificate is issued, a
 * bad CSR gets the same badCSR answer as on the event loop, and a pool that
 * cannot take the job answers serverInternal 503 with Retry-After (RFC 8555
 * §6.7), not badCSR, leaving the order ready and issuing nothing.
 */

const ERR = 'urn:ietf:params:acme:error:';
const GARBAGE_CSR = 'bm90IGEgY3Ny';

let pool: CryptoPool;
let stack: AcmeStack;
before(async () => {
  pool = new CryptoPool({ workers: 1 });
  stack = await acmeStack({ checkCsr: (csr) => pool.checkCsr(csr) });
});
after(async () => {
  assert.deepEqual(stack.internalErrors, []);
  await pool.close();
  stack.close();
});

async function readyOrder(name: string): Promise<{ client: TestClient; path: string; finalize: string }> {
  const client = new TestClient(stack.server, await newKey());
  assert.equal((await client.register()).status, 201);
  const created = await client.post('/new-order', { identifiers: [{ type: 'dns', value: name }] });
  const order = body(created);
  for (const url of order['authorizations'] as string[]) {
    const authz = body(await client.post(pathOf(url), ''));
    const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === 'http-01');
    await client.post(pathOf(challenge?.['url']), {});
  }
  await stack.server.settled();
  const path = pathOf(header(created, 'location'));
  assert.equal(body(await client.post(path, ''))['status'], 'ready');
  return { client, path, finalize: pathOf(order['finalize']) };
}

function problem(response: AcmeHttpResponse, type: string, status: number): Record<string, unknown> {
  const document = body(response);
  assert.equal(document['type'], `${ERR}${type}`, JSON.stringify(document));
  assert.equal(response.status, status);
  assert.equal(document['status'], status);
  return document;
}

async function refusalDetail(csr: string): Promise<string> {
  return parseCsr(csr).then(
    () => assert.fail('parseCsr accepted the CSR'),
    (err: unknown) => (isDomainError(err) ? err.detail : assert.fail(String(err))),
  );
}

describe('ACME finalize through the crypto worker pool (RFC 8555 §7.4)', () => {
  it('issues the certificate with the CSR checked on a worker thread', async () => {
    const { client, finalize } = await readyOrder('pool.example.test');
    const before = stack.certificateCount();
    const finalized = await client.post(finalize, { csr: makeCsr(stack.dir, { dns: ['pool.example.test'] }).csr });
    assert.equal(finalized.status, 200);
    assert.equal(body(finalized)['status'], 'valid');
    assert.equal(stack.certificateCount(), before + 1);
    // The pool starts its workers on its first job: this finalize was that job.
    assert.equal(pool.size, 1);
  });

  it('answers a CSR the check refuses with badCSR and the same detail as parseCsr on the event loop; the order stays ready', async () => {
    const { client, path, finalize } = await readyOrder('bad.example.test');
    const before = stack.certificateCount();
    const refused = await client.post(finalize, { csr: GARBAGE_CSR });
    assert.equal(problem(refused, 'badCSR', 400)['detail'], await refusalDetail(GARBAGE_CSR));
    const extra = await client.post(finalize, { csr: makeCsr(stack.dir, { dns: ['bad.example.test', 'extra.example.test'] }).csr });
    assert.match(String(problem(extra, 'badCSR', 400)['detail']), /extra\.example\.test/);
    assert.equal(stack.certificateCount(), before);
    assert.equal(body(await client.post(path, ''))['status'], 'ready');
  });

  it('answers serverInternal 503 with Retry-After 1 when the pool cannot take the job, issues nothing, and keeps the order ready', async () => {
    const closed = new CryptoPool({ workers: 1 });
    await closed.close();
    const internalErrors: unknown[] = [];
    const server = stack.restart(stack.validator, {
      checkCsr: (csr) => closed.checkCsr(csr),
      onInternalError: (error) => internalErrors.push(error),
    });
    const { client, path, finalize } = await readyOrder('busy.example.test');
    const onClosed = new TestClient(server, client.key);
    onClosed.kid = client.kid;
    const before = stack.certificateCount();
    const refused = await onClosed.post(finalize, { csr: makeCsr(stack.dir, { dns: ['busy.example.test'] }).csr });
    assert.equal(problem(refused, 'serverInternal', 503)['detail'], 'the crypto workers are shut down');
    assert.equal(header(refused, 'retry-after'), '1');
    assert.deepEqual(internalErrors, []);
    assert.equal(stack.certificateCount(), before);
    assert.equal(body(await client.post(path, ''))['status'], 'ready');
  });
});
