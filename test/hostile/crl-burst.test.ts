import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describeOcspResponse, encodeOcspRequest, fromPem } from '../../src/x509/index.js';
import { runProcess } from '../helpers/processes.js';
import { HostileService } from './harness.js';
import { seedCertificates } from './crl-seed.js';

/**
 * 3,000 certificates revoked in a burst through the running
 * service's API (the admin identity, 8 requests at a time) while /healthz is
 * probed every 20 ms. Each revocation only marks the ledger, drops the OCSP
 * cache entry and signals the CRL publisher; the CRL is rebuilt, coalesced,
 * in a worker thread. Before the change one rebuild per revocation held the
 * loop 300-470 ms at this size (p99 427 ms). Afterwards the CRL lists all
 * 3,000 (openssl reads it) and OCSP answers revoked.
 */

/** KEYSMITH_TEST_CRL_BURST shrinks the burst when iterating on this test; the figure measured is 3,000. */
const COUNT = Number(process.env['KEYSMITH_TEST_CRL_BURST'] ?? 3_000);
const CONCURRENCY = 8;
/**
 * The bound for /healthz p99 during the burst. What is left on the event
 * loop per revocation is the ledger's durable commit: one fsync each
 * (synchronous=FULL, 3-5 ms median on the development disk), and 8 of them
 * can queue ahead of a probe. Measured with the hostile suite run alone
 * (one file at a time, as npm test runs it): p99 25 ms (p50 9 ms) at
 * ~990 revocations/s. Before revocations stopped rebuilding the CRL on the
 * request path: p99 427 ms at 38/s.
 */
const P99_BOUND_MS = 80;

interface Reply {
  readonly status: number;
  readonly body: Buffer;
}

function send(agent: Agent, port: number, path: string, options: { method?: string; body?: Buffer; type?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        servername: 'localhost',
        agent,
        timeout: 30_000,
        headers:
          options.body === undefined
            ? {}
            : { 'content-type': options.type ?? 'application/json', 'content-length': options.body.byteLength },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.once('error', reject);
      },
    );
    req.once('timeout', () => req.destroy(new Error(`${path} timed out`)));
    req.once('error', reject);
    req.end(options.body);
  });
}

describe('a burst of 3,000 revocations', () => {
  let service: HostileService;
  let admin: Agent;
  let serials: string[];

  before(async () => {
    service = await HostileService.start({ lifetimeMs: 600_000 });
    const seeding = performance.now();
    serials = await seedCertificates({ dataDir: service.paths.dataDir, database: service.paths.database, count: COUNT });
    console.log(`seeded ${COUNT} certificates in ${((performance.now() - seeding) / 1000).toFixed(1)} s`);
    const [cert, key, ca] = await Promise.all([readFile(service.paths.adminCert), readFile(service.paths.adminKey), service.bundlePem()]);
    admin = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, cert, key, ca });
    // The first CRL is built in the background after start; wait for it (bounded).
    for (let i = 0; i < 100 && (await send(admin, service.port, '/crl')).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  });

  after(async () => {
    admin.destroy();
    await service.stop();
  });

  it(`keeps /healthz p99 under ${P99_BOUND_MS} ms while 3,000 certificates are revoked 8 at a time; the CRL then lists all of them`, async () => {
    // Open the 8 admin connections and the probe's before measuring: the figure is the burst's, not the handshakes'.
    await Promise.all(Array.from({ length: CONCURRENCY }, () => send(admin, service.port, '/healthz')));
    const probe = await service.startLatencyProbe(20);
    await new Promise((r) => setTimeout(r, 300));
    const started = performance.now();
    const queue = [...serials];
    const statuses = new Map<number, number>();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let serial = queue.shift(); serial !== undefined; serial = queue.shift()) {
          const reply = await send(admin, service.port, `/v1/certificates/${serial}/revoke`, {
            method: 'POST',
            body: Buffer.from(JSON.stringify({ reason: 'keyCompromise' })),
          });
          statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
        }
      }),
    );
    const revokeSeconds = (performance.now() - started) / 1000;
    // Keep probing until the CRL caught up (coalesced rebuilds, at most the max delay behind), bounded at 60 s.
    // openssl reads it: asn1-schema's parser (describeCrl) refuses a CRL past ~1,400 entries (its node-count limit).
    const file = join(service.paths.dataDir, 'fetched.crl');
    let listed = new Set<string>();
    let bytes = 0;
    for (let i = 0; i < 120; i++) {
      const reply = await send(admin, service.port, '/crl');
      if (reply.status === 200) {
        await writeFile(file, reply.body);
        bytes = reply.body.byteLength;
        const text = await runProcess('openssl', ['crl', '-inform', 'DER', '-in', file, '-noout', '-text'], { timeoutMs: 30_000 });
        assert.equal(text.code, 0, text.stderr);
        listed = new Set([...text.stdout.matchAll(/Serial Number: ([0-9A-F]+)/g)].map((m) => (m[1] ?? '').toLowerCase()));
        if (serials.every((s) => listed.has(s))) break;
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    const caughtUpSeconds = (performance.now() - started) / 1000;
    const report = await probe.stop();
    console.log(
      `revoked ${COUNT} in ${revokeSeconds.toFixed(1)} s (${(COUNT / revokeSeconds).toFixed(0)}/s); CRL complete after ${caughtUpSeconds.toFixed(1)} s, ` +
        `${bytes} bytes; /healthz ${report.describe()}`,
    );
    const slow = report.probes.filter((p) => p.ms > P99_BOUND_MS).map((p) => `${(p.at / 1000).toFixed(2)} s: ${p.ms.toFixed(0)} ms`);
    assert.deepEqual([...statuses], [[200, COUNT]]);
    assert.deepEqual(report.failures, [], report.describe());
    assert.ok(report.p99 < P99_BOUND_MS, `${report.describe()}; over the bound (s since the burst began): ${slow.join(', ')}`);
    assert.ok(
      serials.every((s) => listed.has(s)),
      'openssl lists every revoked serial on the CRL',
    );
    await service.assertHealthy('after the burst');
  });

  it('answers revoked over OCSP for a sample of them', async () => {
    const issuerDer = fromPem(await readFile(join(service.paths.dataDir, 'ca', 'intermediate.cert.pem'), 'utf8'));
    const ledger = new Database(service.paths.database, { readonly: true, fileMustExist: true });
    try {
      for (const serial of serials.filter((_, i) => i % 300 === 0)) {
        const row = ledger.prepare<[string], { der: Buffer }>('SELECT der FROM certificates WHERE serial = ?').get(serial);
        assert.ok(row !== undefined);
        const body = Buffer.from(encodeOcspRequest([{ certificateDer: new Uint8Array(row.der), issuerDer }]));
        const reply = await send(admin, service.port, '/ocsp', { method: 'POST', body, type: 'application/ocsp-request' });
        assert.equal(reply.status, 200);
        const status = describeOcspResponse(reply.body).basic?.responses[0]?.status;
        assert.equal(status?.kind, 'revoked', serial);
      }
    } finally {
      ledger.close();
    }
  });
});

describe('serve with CRL shards', () => {
  it('names a shard in each certificate and serves every shard with its IDP; a shard that does not exist is 404', async () => {
    const service = await HostileService.start({ env: { KEYSMITH_CRL_SHARDS: '4' }, lifetimeMs: 120_000 });
    const [cert, key, ca] = await Promise.all([readFile(service.paths.adminCert), readFile(service.paths.adminKey), service.bundlePem()]);
    const admin = new Agent({ keepAlive: true, cert, key, ca });
    try {
      // The admin certificate was issued at first start, under the shard layout (openssl reads the first PEM block: the leaf).
      const text = await runProcess('openssl', ['x509', '-in', service.paths.adminCert, '-noout', '-ext', 'crlDistributionPoints'], {
        timeoutMs: 30_000,
      });
      assert.match(text.stdout, new RegExp(`URI:https://127\\.0\\.0\\.1:${service.port}/crl/[0-3]\\b`));
      for (let shard = 0; shard < 4; shard++) {
        let reply = await send(admin, service.port, `/crl/${shard}`);
        for (let i = 0; i < 50 && reply.status === 503; i++) {
          await new Promise((r) => setTimeout(r, 100));
          reply = await send(admin, service.port, `/crl/${shard}`);
        }
        assert.equal(reply.status, 200);
        const shardFile = join(service.paths.dataDir, `shard${shard}.crl`);
        await writeFile(shardFile, reply.body);
        const crl = await runProcess('openssl', ['crl', '-inform', 'DER', '-in', shardFile, '-noout', '-text'], { timeoutMs: 30_000 });
        assert.match(
          crl.stdout,
          new RegExp(`Issuing Distribution Point: critical\\s+Full Name:\\s+URI:https://127\\.0\\.0\\.1:${service.port}/crl/${shard}\\s`),
        );
      }
      assert.equal((await send(admin, service.port, '/crl/4')).status, 404);
      assert.equal((await send(admin, service.port, '/crl')).status, 200);
    } finally {
      admin.destroy();
      await service.stop();
    }
  });
});
