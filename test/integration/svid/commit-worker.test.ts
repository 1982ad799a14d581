import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { startServer, type RunningServer } from '../../../src/cli/serve.js';
import { loadConfig } from '../../../src/config/index.js';
import type { CommitWorker } from '../../../src/ledger/index.js';
import { freePort } from '../../helpers/processes.js';
import { EngineAgent, openssl } from '../../helpers/engine-client.js';

/**
 * The commit worker as `serve` wires it (SQLite): an SVID answered 200 is in
 * the ledger and the main connection serves it at once; a worker that dies
 * while the SVID's row waits for its commit makes the request a 503 with
 * nothing handed out and nothing written, and the next request gets a new
 * worker. The service runs in this process over our TLS engine.
 */

const TD = 'keysmith.local';
const NODE_ID = `spiffe://${TD}/node/commit-worker`;
const WORKLOAD_ID = `spiffe://${TD}/svc/commit-worker`;

interface Identity {
  readonly key: string;
  readonly chain: string;
}

let dir: string;
let core: Core;
let server: RunningServer & { readonly port: number };
let node: Identity;
let admin: Identity;
let csr: string;

function call(
  method: string,
  path: string,
  identity: Identity,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> =
      text === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) };
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: server.port,
        method,
        path,
        headers,
        agent: new EngineAgent(server.port, core.authority.bundlePem(), identity),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }),
        );
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(text);
  });
}

function commitWorker(): CommitWorker {
  assert.ok(core.commitWorker !== undefined, 'a SQLite core commits through its commit worker');
  return core.commitWorker;
}

function certificateRows(): number {
  const db = new Database(core.paths.database, { readonly: true });
  try {
    return db.prepare<[], number>('SELECT count(*) FROM certificates').pluck().get() ?? -1;
  } finally {
    db.close();
  }
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keysmith-commit-worker-'));
  const config = loadConfig({
    env: {
      KEYSMITH_DATA_DIR: join(dir, 'data'),
      KEYSMITH_LISTEN: `127.0.0.1:${await freePort()}`,
      KEYSMITH_LOG_LEVEL: 'silent',
      KEYSMITH_ALERTS_SCHEDULE: 'off',
    },
  });
  core = await openCore(config);
  server = await startServer(core);
  const issued = await issueIdentity(core.authority, { profile: 'node', spiffeId: NODE_ID, requester: 'system' });
  node = { key: issued.keyPem, chain: issued.issued.chainPem };
  admin = { key: await readFile(core.paths.adminKey, 'utf8'), chain: await readFile(core.paths.adminCert, 'utf8') };
  const entry = await call('POST', '/v1/entries', admin, { spiffe_id: WORKLOAD_ID, parent_id: NODE_ID, x509_ttl: 3600 });
  assert.equal(entry.status, 201, JSON.stringify(entry.json));
  const keyPath = join(dir, 'workload.key');
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
  csr = await openssl(['req', '-new', '-key', keyPath, '-subj', '/CN=workload']);
});

after(async () => {
  await server?.close(1_000);
  await core?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('POST /v1/svid/x509 through the commit worker (SQLite)', () => {
  it('answers 200 only for a row the main connection already serves', async () => {
    const reply = await call('POST', '/v1/svid/x509', node, { csr, spiffe_id: WORKLOAD_ID });
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    const leaf = new X509Certificate(String(reply.json['cert_chain']));
    const serial = leaf.serialNumber.toLowerCase();
    const stored = await call('GET', `/v1/certificates/${serial}`, admin);
    assert.equal(stored.status, 200, JSON.stringify(stored.json));
    assert.equal(stored.json['serial'], serial);
    assert.equal(stored.json['status'], 'valid');
    assert.equal(commitWorker().stats().workersStarted, 1);
  });

  it('answers 503 and hands out nothing when the worker dies before confirming the commit; the next request gets a new worker', async () => {
    const worker = commitWorker();
    const rowsBefore = certificateRows();
    const { workersStarted, workersLost } = worker.stats();
    // Another connection holds the write lock: the worker waits for it (busy timeout) with the SVID's row.
    const blocker = new Database(core.paths.database);
    blocker.exec('BEGIN IMMEDIATE');
    let reply: { status: number; json: Record<string, unknown> };
    try {
      const pending = call('POST', '/v1/svid/x509', node, { csr, spiffe_id: WORKLOAD_ID });
      // Bounded: the request reaches the worker within 10 s.
      for (let i = 0; i < 200 && worker.stats().inFlight === 0; i++) await sleep(50);
      assert.equal(worker.stats().inFlight, 1);
      await worker.kill();
      reply = await pending;
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    assert.equal(reply.status, 503, JSON.stringify(reply.json));
    assert.match(String(reply.json['type']), /database-unavailable$/);
    assert.match(String(reply.json['detail']), /commit worker stopped before confirming the commit/);
    assert.equal(reply.json['cert_chain'], undefined);
    assert.equal(certificateRows(), rowsBefore);
    assert.deepEqual(worker.stats(), { workersStarted, workersLost: workersLost + 1, inFlight: 0 });

    const again = await call('POST', '/v1/svid/x509', node, { csr, spiffe_id: WORKLOAD_ID });
    assert.equal(again.status, 200, JSON.stringify(again.json));
    assert.equal(certificateRows(), rowsBefore + 1);
    assert.deepEqual(worker.stats(), { workersStarted: workersStarted + 1, workersLost: workersLost + 1, inFlight: 0 });
  });
});
