import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listeningPort, runProcess, startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import { EngineAgent, openssl } from '../helpers/engine-client.js';

/**
 * A node and a workload get their identities the way an operator sets them
 * up: `keysmith entries create` and `keysmith tokens create` (the built CLI,
 * child processes), `keysmith serve`, then our TLS engine as the client:
 * attest with the token and no certificate, obtain the workload SVID with
 * the node identity, renew it with itself. Every wait is bounded.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TD = 'keysmith.local';
const NODE_ID = `spiffe://${TD}/node/agent-7`;
const WORKLOAD_ID = `spiffe://${TD}/svc/payments`;

interface Identity {
  readonly key: string;
  readonly chain: string;
}

let dataDir: string;
let work: string;
let port: number;
let env: NodeJS.ProcessEnv;
let server: ThirdPartyProcess | undefined;
let bundlePem: string;

function keysmith(args: readonly string[]) {
  return runProcess(process.execPath, [MAIN, ...args], { env, lifetimeMs: 30_000 });
}

function call(
  method: string,
  path: string,
  identity: Identity | undefined,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> =
      text === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) };
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path, headers, agent: new EngineAgent(port, bundlePem, identity) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks).toString('utf8');
          try {
            resolve({ status: res.statusCode ?? 0, json: raw === '' ? {} : (JSON.parse(raw) as Record<string, unknown>) });
          } catch {
            reject(new Error(`${method} ${path}: not JSON (${res.statusCode}): ${raw.slice(0, 300)}`));
          }
        });
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(text);
  });
}

/** A P-256 key made where the workload runs, and a CSR for it. */
async function keyAndCsr(name: string): Promise<{ key: string; csr: string }> {
  const keyPath = join(work, `${name}.key`);
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
  const csr = await openssl(['req', '-new', '-key', keyPath, '-subj', `/CN=${name}`]);
  return { key: await readFile(keyPath, 'utf8'), csr };
}

function problemOf(reply: { json: Record<string, unknown> }): string {
  return String(reply.json['type']);
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keysmith-svid-e2e-'));
  work = await mkdtemp(join(tmpdir(), 'keysmith-svid-e2e-work-'));
  env = { PATH: process.env['PATH'], HOME: process.env['HOME'], USER: 'e2e', KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LOG_LEVEL: 'warn' };
});

after(async () => {
  if (server !== undefined && !server.hasExited) await server.kill();
  await rm(dataDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('a node and a workload get SPIFFE identities through keysmith', () => {
  let entryId: string;
  let token: string;
  let node: Identity;
  let workload: Identity;
  let workloadChainPem: string;

  it('keysmith entries create registers the workload under the node (JSON, id first)', async () => {
    const created = await keysmith([
      'entries',
      'create',
      '--spiffe-id',
      WORKLOAD_ID,
      '--parent-id',
      NODE_ID,
      '--x509-ttl',
      '1h',
      '--dns',
      'payments.internal',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const entry = JSON.parse(created.stdout) as Record<string, unknown>;
    entryId = String(entry['id']);
    assert.equal(Object.keys(entry)[0], 'id');
    assert.equal(entry['spiffe_id'], WORKLOAD_ID);
    assert.equal(entry['parent_id'], NODE_ID);
    assert.equal(entry['x509_ttl'], 3600);
    assert.equal(entry['created_by'], 'cli:e2e');
    const listed = await keysmith(['entries', 'list', '--parent-id', NODE_ID]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`^${entryId}\\s+${WORKLOAD_ID}\\s+parent=${NODE_ID}`, 'm'));
  });

  it('keysmith tokens create prints the token alone on one line', async () => {
    const created = await keysmith(['tokens', 'create', '--spiffe-id', NODE_ID, '--ttl', '10m']);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /^[A-Za-z0-9_-]{43}\n$/);
    token = created.stdout.trim();
    const refused = await keysmith(['tokens', 'create', '--spiffe-id', WORKLOAD_ID]);
    assert.equal(refused.code, 1, 'a token names a node identity');
    assert.equal(refused.stdout, '');
  });

  it('keysmith serve starts on the same data directory', async () => {
    // Port 0: serve binds any free port; the commands after it name the port it printed.
    server = startProcess(process.execPath, [MAIN, 'serve'], { env: { ...env, KEYSMITH_LISTEN: '127.0.0.1:0' }, lifetimeMs: 180_000 });
    await server.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, { timeoutMs: 30_000, stream: 'both' });
    port = listeningPort(server.output);
    env = { ...env, KEYSMITH_LISTEN: `127.0.0.1:${port}` };
    bundlePem = await readFile(join(dataDir, 'bundle.pem'), 'utf8');
  });

  it('the node attests with the token over TLS without a client certificate', async () => {
    const { key, csr } = await keyAndCsr('node');
    const reply = await call('POST', '/v1/attest/join-token', undefined, { token, csr });
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.equal(reply.json['spiffe_id'], NODE_ID);
    assert.equal(reply.json['entry_id'], null);
    node = { key, chain: String(reply.json['cert_chain']) };
  });

  it('the token cannot be used twice', async () => {
    const { csr } = await keyAndCsr('node-again');
    const reply = await call('POST', '/v1/attest/join-token', undefined, { token, csr });
    assert.equal(reply.status, 403);
    assert.equal(problemOf(reply), 'https://keysmith.dev/problems/unauthorized');
    assert.match(String(reply.json['detail']), /already been used/);
  });

  it('with its node identity, the node obtains the workload’s SVID', async () => {
    const { key, csr } = await keyAndCsr('workload');
    const reply = await call('POST', '/v1/svid/x509', node, { csr, spiffe_id: WORKLOAD_ID });
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.equal(reply.json['spiffe_id'], WORKLOAD_ID);
    assert.equal(reply.json['entry_id'], entryId);
    workloadChainPem = String(reply.json['cert_chain']);
    workload = { key, chain: workloadChainPem };
  });

  it('the workload renews its SVID with itself', async () => {
    const { key, csr } = await keyAndCsr('workload-renewed');
    const reply = await call('POST', '/v1/svid/x509', workload, { csr, spiffe_id: WORKLOAD_ID });
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.equal(reply.json['spiffe_id'], WORKLOAD_ID);
    workload = { key, chain: String(reply.json['cert_chain']) };
  });

  it('the workload is refused what it may not do: the ops routes, another identity (403)', async () => {
    const ops = await call('GET', '/v1/certificates', workload);
    assert.equal(ops.status, 403);
    assert.equal(problemOf(ops), 'https://keysmith.dev/problems/forbidden');
    const { csr } = await keyAndCsr('stolen');
    const other = await call('POST', '/v1/svid/x509', workload, { csr, spiffe_id: `spiffe://${TD}/svc/ledger` });
    assert.equal(other.status, 403);
    assert.equal(problemOf(other), 'https://keysmith.dev/problems/forbidden');
    const asNode = await call('POST', '/v1/svid/x509', workload, { csr, spiffe_id: NODE_ID });
    assert.equal(asNode.status, 403);
  });

  it('the SVID chains to the bundle (openssl verify -CAfile bundle.pem -untrusted chain)', async () => {
    const blocks = workload.chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
    assert.equal(blocks.length, 2, 'leaf then intermediate');
    await writeFile(join(work, 'leaf.pem'), blocks[0] ?? '');
    await writeFile(join(work, 'chain.pem'), blocks.slice(1).join(''));
    const out = await openssl([
      'verify',
      '-CAfile',
      join(dataDir, 'bundle.pem'),
      '-untrusted',
      join(work, 'chain.pem'),
      join(work, 'leaf.pem'),
    ]);
    assert.match(out, /leaf\.pem: OK/);
  });

  it('keysmith entries delete removes the entry; the node can then no longer obtain the SVID', async () => {
    const deleted = await keysmith(['entries', 'delete', entryId]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const { csr } = await keyAndCsr('after-delete');
    const reply = await call('POST', '/v1/svid/x509', node, { csr, spiffe_id: WORKLOAD_ID });
    assert.equal(reply.status, 403);
  });

  it('serve stops cleanly on SIGTERM', async () => {
    assert.ok(server !== undefined);
    process.kill(server.pid, 'SIGTERM');
    const result = await server.waitForExit(20_000);
    assert.equal(result.code, 0, server.output);
  });
});
