import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore, openSvid, type Core } from '../../../src/cli/compose.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { startServer, type RunningServer } from '../../../src/cli/serve.js';
import { EngineAgent, openssl } from '../../helpers/engine-client.js';
import { inProcessConfig } from '../../helpers/service-config.js';

/**
 * The SVID, attestation and entry routes as `serve` wires them, in process:
 * a real ledger file, the real Authority and SvidService, our TLS engine on
 * 127.0.0.1 on both ends. Every refusal is checked for its problem document
 * and for having written no certificate row.
 */

const TD = 'keysmith.local';
const NODE_ID = `spiffe://${TD}/node/agent-1`;
const WORKLOAD_ID = `spiffe://${TD}/svc/web`;
const OTHER_ID = `spiffe://${TD}/svc/db`;

interface Identity {
  readonly key: string;
  readonly chain: string;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  json(): Record<string, unknown>;
}

interface Keysmith {
  readonly core: Core;
  readonly server: RunningServer & { readonly port: number };
  readonly bundle: string;
  readonly admin: Identity;
  close(): Promise<void>;
}

let dir: string;

async function startKeysmith(name: string, env: Record<string, string> = {}): Promise<Keysmith> {
  const config = await inProcessConfig(join(dir, name), env);
  const core = await openCore(config);
  const server = await startServer(core);
  const admin = { key: await readFile(core.paths.adminKey, 'utf8'), chain: await readFile(core.paths.adminCert, 'utf8') };
  return {
    core,
    server,
    bundle: core.authority.bundlePem(),
    admin,
    close: async () => {
      await server.close(1_000);
      await core.close();
    },
  };
}

function call(
  ks: Keysmith,
  method: string,
  path: string,
  options: { identity?: Identity; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    const headers: Record<string, string> = { ...options.headers };
    if (body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: ks.server.port,
        method,
        path,
        headers,
        agent: new EngineAgent(ks.server.port, ks.bundle, options.identity),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text,
            json: () => JSON.parse(text) as Record<string, unknown>,
          });
        });
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

let keyCounter = 0;
/** A fresh key and a CSR for it; the CSR names a CN and a DNS SAN that the SVID must not carry. */
async function keyAndCsr(algorithm: 'p256' | 'rsa1024' | 'rsa4096' = 'p256'): Promise<{ key: string; csr: string }> {
  const keyPath = join(dir, `key-${++keyCounter}.pem`);
  const genArgs =
    algorithm === 'p256'
      ? ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']
      : ['-algorithm', 'RSA', '-pkeyopt', `rsa_keygen_bits:${algorithm === 'rsa1024' ? 1024 : 4096}`];
  await openssl(['genpkey', ...genArgs, '-out', keyPath]);
  const csr = await openssl([
    'req',
    '-new',
    '-key',
    keyPath,
    '-subj',
    '/CN=from-the-csr',
    '-addext',
    'subjectAltName=DNS:csr.example',
    '-outform',
    'PEM',
  ]);
  return { key: await readFile(keyPath, 'utf8'), csr };
}

/** The CSR with the last byte of its signature flipped: still DER, no longer verifying. */
function tamperedCsr(pem: string): string {
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  der[der.length - 1] = (der[der.length - 1] ?? 0) ^ 0x01;
  return der.toString('base64');
}

async function certificateRows(core: Core): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  for (let page = 0; page < 100; page++) {
    const result = await core.repositories.certificates.list({ limit: 500, ...(cursor === null ? {} : { cursor }) });
    count += result.items.length;
    cursor = result.nextCursor;
    if (cursor === null) return count;
  }
  throw new Error('more pages than expected');
}

/** The status, problem type and detail of a refusal, and that it left the ledger as it was. */
async function assertRefused(ks: Keysmith, send: () => Promise<Reply>, status: number, slug: string, detail: RegExp): Promise<Reply> {
  const rowsBefore = await certificateRows(ks.core);
  const reply = await send();
  assert.equal(reply.status, status, reply.body);
  assert.match(String(reply.headers['content-type']), /^application\/problem\+json/);
  const problem = reply.json();
  assert.equal(problem['type'], `https://keysmith.dev/problems/${slug}`, reply.body);
  assert.equal(problem['status'], status);
  assert.match(String(problem['detail']), detail);
  assert.equal(await certificateRows(ks.core), rowsBefore, 'a refused request wrote a certificate row');
  return reply;
}

/** The leaf of a PEM chain. */
function leafOf(chainPem: string): X509Certificate {
  return new X509Certificate(chainPem);
}

function asSvidIdentity(key: string, svid: Record<string, unknown>): Identity {
  return { key, chain: String(svid['cert_chain']) };
}

let main: Keysmith;
let node: Identity;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keysmith-svid-routes-'));
  main = await startKeysmith('main', { KEYSMITH_JOIN_TOKEN_BURST: '100' });
  const issued = await issueIdentity(main.core.authority, { profile: 'node', spiffeId: NODE_ID, requester: 'system' });
  node = { key: issued.keyPem, chain: issued.issued.chainPem };
});

after(async () => {
  await main?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('registration entry routes (admin)', () => {
  let entryId: string;

  it('creates an entry: 201, Location, the wire form with TTLs in seconds and the admin as creator', async () => {
    const reply = await call(main, 'POST', '/v1/entries', {
      identity: main.admin,
      body: { spiffe_id: WORKLOAD_ID, parent_id: NODE_ID, x509_ttl: 1800, dns_names: ['Web.Example'] },
    });
    assert.equal(reply.status, 201, reply.body);
    const entry = reply.json();
    entryId = String(entry['id']);
    assert.equal(reply.headers['location'], `/v1/entries/${entryId}`);
    assert.equal(entry['spiffe_id'], WORKLOAD_ID);
    assert.equal(entry['parent_id'], NODE_ID);
    assert.equal(entry['x509_ttl'], 1800);
    assert.equal(entry['jwt_ttl'], 300);
    assert.deepEqual(entry['dns_names'], ['web.example']);
    assert.equal(entry['admin'], false);
    assert.equal(entry['expires_at'], null);
    assert.equal(entry['created_by'], `spiffe://${TD}/admin/bootstrap`);
    assert.match(String(entry['created_at']), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
  });

  it('reads, lists with filters, and patches it', async () => {
    const one = await call(main, 'GET', `/v1/entries/${entryId}`, { identity: main.admin });
    assert.equal(one.status, 200, one.body);
    assert.equal(one.json()['spiffe_id'], WORKLOAD_ID);

    const listed = await call(main, 'GET', `/v1/entries?parent_id=${encodeURIComponent(NODE_ID)}`, { identity: main.admin });
    assert.equal(listed.status, 200, listed.body);
    const items = listed.json()['items'] as Record<string, unknown>[];
    assert.deepEqual(
      items.map((e) => e['id']),
      [entryId],
    );
    assert.equal(listed.json()['next_cursor'], null);
    const none = await call(main, 'GET', `/v1/entries?spiffe_id=${encodeURIComponent(OTHER_ID)}`, { identity: main.admin });
    assert.deepEqual(none.json()['items'], []);

    const patched = await call(main, 'PATCH', `/v1/entries/${entryId}`, { identity: main.admin, body: { jwt_ttl: 120 } });
    assert.equal(patched.status, 200, patched.body);
    assert.equal(patched.json()['jwt_ttl'], 120);
    assert.equal(patched.json()['x509_ttl'], 1800);
  });

  it('refuses a duplicate entry (409), a node SPIFFE ID, a malformed one, an unknown field and an empty patch', async () => {
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/entries', { identity: main.admin, body: { spiffe_id: WORKLOAD_ID, parent_id: NODE_ID } }),
      409,
      'conflict',
      /./,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/entries', { identity: main.admin, body: { spiffe_id: `spiffe://${TD}/node/x`, parent_id: NODE_ID } }),
      403,
      'rejected-identifier',
      /node identities come only from join tokens or keysmith issue/,
    );
    await assertRefused(
      main,
      () =>
        call(main, 'POST', '/v1/entries', { identity: main.admin, body: { spiffe_id: 'spiffe://Keysmith.local/a', parent_id: NODE_ID } }),
      400,
      'malformed',
      /trust domain/,
    );
    await assertRefused(
      main,
      () =>
        call(main, 'POST', '/v1/entries', { identity: main.admin, body: { spiffe_id: OTHER_ID, parent_id: NODE_ID, x509_ttl: 90_000 } }),
      400,
      'malformed',
      /body field "x509_ttl": must be a whole number of seconds from 1 to 86400/,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/entries', { identity: main.admin, body: { spiffe_id: OTHER_ID, parent_id: NODE_ID, colour: 'red' } }),
      400,
      'malformed',
      /colour/,
    );
    await assertRefused(
      main,
      () => call(main, 'PATCH', `/v1/entries/${entryId}`, { identity: main.admin, body: {} }),
      400,
      'malformed',
      /must change at least one/,
    );
  });

  it('refuses workloads and nodes (403) and clients without a certificate (401)', async () => {
    await assertRefused(main, () => call(main, 'GET', '/v1/entries', { identity: node }), 403, 'forbidden', /is not an administrator/);
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/entries', { body: { spiffe_id: OTHER_ID, parent_id: NODE_ID } }),
      401,
      'certificate-required',
      /client certificate/,
    );
  });

  it('deletes an entry (204), after which it is 404', async () => {
    const created = await call(main, 'POST', '/v1/entries', {
      identity: main.admin,
      body: { spiffe_id: `spiffe://${TD}/svc/tmp`, parent_id: NODE_ID },
    });
    const id = String(created.json()['id']);
    const deleted = await call(main, 'DELETE', `/v1/entries/${id}`, { identity: main.admin });
    assert.equal(deleted.status, 204, deleted.body);
    assert.equal(deleted.body, '');
    await assertRefused(main, () => call(main, 'GET', `/v1/entries/${id}`, { identity: main.admin }), 404, 'not-found', new RegExp(id));
    await assertRefused(main, () => call(main, 'DELETE', `/v1/entries/${id}`, { identity: main.admin }), 404, 'not-found', new RegExp(id));
  });
});

describe('POST /v1/svid/x509 and /v1/svid/jwt', () => {
  let workload: Identity;

  it('issues the workload SVID to the entry’s parent, with the entry’s names and the caller as requester', async () => {
    const { key, csr } = await keyAndCsr();
    const reply = await call(main, 'POST', '/v1/svid/x509', { identity: node, body: { csr, spiffe_id: WORKLOAD_ID } });
    assert.equal(reply.status, 200, reply.body);
    const svid = reply.json();
    assert.equal(svid['spiffe_id'], WORKLOAD_ID);
    assert.match(String(svid['entry_id']), /^[A-Za-z0-9_-]+$/);
    assert.equal(svid['bundle'], main.bundle);
    const leaf = leafOf(String(svid['cert_chain']));
    assert.equal(leaf.serialNumber.toLowerCase().replace(/^0+/, ''), String(svid['serial']).replace(/^0+/, ''));
    assert.equal(leaf.subjectAltName, `URI:${WORKLOAD_ID}, DNS:web.example`);
    const lifetime = Date.parse(leaf.validTo) - Date.parse(leaf.validFrom);
    assert.ok(lifetime <= 1800_000 + 61_000 && lifetime >= 1800_000, `lifetime ${lifetime}`);
    const expiresAt = Date.parse(String(svid['expires_at']));
    const renewAfter = Date.parse(String(svid['renew_after']));
    assert.equal(expiresAt, Date.parse(leaf.validTo));
    assert.ok(renewAfter > Date.now() && renewAfter < expiresAt);
    const record = await main.core.repositories.certificates.findBySerial(String(svid['serial']));
    assert.equal(record?.requester, NODE_ID);
    workload = asSvidIdentity(key, svid);
  });

  it('lets the workload renew itself with its SVID, with a shorter ttl when asked', async () => {
    const { csr } = await keyAndCsr();
    const reply = await call(main, 'POST', '/v1/svid/x509', { identity: workload, body: { csr, spiffe_id: WORKLOAD_ID, ttl: 600 } });
    assert.equal(reply.status, 200, reply.body);
    const leaf = leafOf(String(reply.json()['cert_chain']));
    assert.ok(Date.parse(leaf.validTo) - Date.parse(leaf.validFrom) <= 600_000 + 61_000);
    assert.equal((await main.core.repositories.certificates.findBySerial(String(reply.json()['serial'])))?.requester, WORKLOAD_ID);
  });

  it('refuses, writing nothing: another ID, ttl above the entry, a bad CSR signature, a weak key, an invalid SPIFFE ID, no certificate', async () => {
    const { csr } = await keyAndCsr();
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509', { identity: workload, body: { csr, spiffe_id: OTHER_ID } }),
      403,
      'forbidden',
      /no registration entry lets/,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509', { identity: node, body: { csr, spiffe_id: WORKLOAD_ID, ttl: 3600 } }),
      400,
      'malformed',
      /exceeds/,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509', { identity: node, body: { csr: tamperedCsr(csr), spiffe_id: WORKLOAD_ID } }),
      400,
      'bad-csr',
      /signature does not verify/,
    );
    const weak = await keyAndCsr('rsa1024');
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509', { identity: node, body: { csr: weak.csr, spiffe_id: WORKLOAD_ID } }),
      400,
      'bad-csr',
      /1024/,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509', { identity: node, body: { csr: 'not a csr', spiffe_id: WORKLOAD_ID } }),
      400,
      'malformed',
      /CSR/,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509', { identity: node, body: { csr, spiffe_id: `spiffe://${TD}/svc/../web` } }),
      400,
      'malformed',
      /segment "\.\."/,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509', { body: { csr, spiffe_id: WORKLOAD_ID } }),
      401,
      'certificate-required',
      /client certificate/,
    );
  });

  it('issues a JWT-SVID for the caller, and refuses another ID and an empty audience', async () => {
    const reply = await call(main, 'POST', '/v1/svid/jwt', { identity: workload, body: { audience: ['https://db.example'] } });
    assert.equal(reply.status, 200, reply.body);
    const jwt = reply.json();
    assert.equal(jwt['spiffe_id'], WORKLOAD_ID);
    assert.equal(String(jwt['token']).split('.').length, 3);
    assert.equal(Date.parse(String(jwt['expires_at'])) - Date.parse(String(jwt['issued_at'])), 120_000);
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/jwt', { identity: workload, body: { audience: ['x'], spiffe_id: OTHER_ID } }),
      403,
      'forbidden',
      /no registration entry/,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/jwt', { identity: workload, body: { audience: [] } }),
      400,
      'malformed',
      /body field "audience": must hold 1 to 16/,
    );
  });

  it('puts the JWT authority in the SPIFFE bundle beside the X.509 authority', async () => {
    const reply = await call(main, 'GET', '/v1/bundle', { headers: { accept: 'application/json' } });
    assert.equal(reply.status, 200, reply.body);
    const keys = reply.json()['keys'] as Record<string, unknown>[];
    // X.509 authorities: the root and the active intermediate (published intermediates, docs/ca-lifecycle.md).
    assert.deepEqual(keys.map((k) => k['use']).sort(), ['jwt-svid', 'x509-svid', 'x509-svid']);
    const jwtKey = keys.find((k) => k['use'] === 'jwt-svid');
    assert.equal(jwtKey?.['kty'], 'EC');
    assert.equal(jwtKey?.['crv'], 'P-256');
    assert.equal(typeof jwtKey?.['kid'], 'string');
  });
});

describe('POST /v1/svid/x509:batch', () => {
  it('answers each request on its own, in order: one bad CSR among good ones', async () => {
    const good1 = await keyAndCsr();
    const good2 = await keyAndCsr();
    const rowsBefore = await certificateRows(main.core);
    const reply = await call(main, 'POST', '/v1/svid/x509:batch', {
      identity: node,
      body: {
        requests: [
          { csr: good1.csr, spiffe_id: WORKLOAD_ID },
          { csr: tamperedCsr(good2.csr), spiffe_id: WORKLOAD_ID },
          { csr: good2.csr, spiffe_id: WORKLOAD_ID },
          { csr: good2.csr, spiffe_id: OTHER_ID },
        ],
      },
    });
    assert.equal(reply.status, 200, reply.body);
    const results = reply.json()['results'] as Record<string, Record<string, unknown>>[];
    assert.equal(results.length, 4);
    assert.equal(results[0]?.['svid']?.['spiffe_id'], WORKLOAD_ID);
    assert.equal(results[1]?.['error']?.['type'], 'https://keysmith.dev/problems/bad-csr');
    assert.equal(results[1]?.['error']?.['status'], 400);
    assert.equal(results[2]?.['svid']?.['spiffe_id'], WORKLOAD_ID);
    assert.equal(results[3]?.['error']?.['type'], 'https://keysmith.dev/problems/forbidden');
    assert.equal(await certificateRows(main.core), rowsBefore + 2);
  });

  it('takes 100 RSA-4096 CSRs (above the app’s 64 KiB body limit), refuses 101 and a body above 512 KiB', async () => {
    const { csr } = await keyAndCsr('rsa4096');
    const hundred = { requests: Array.from({ length: 100 }, () => ({ csr, spiffe_id: WORKLOAD_ID })) };
    assert.ok(JSON.stringify(hundred).length > 64 * 1024);
    const rowsBefore = await certificateRows(main.core);
    const reply = await call(main, 'POST', '/v1/svid/x509:batch', { identity: node, body: hundred });
    assert.equal(reply.status, 200, reply.body.slice(0, 500));
    const results = reply.json()['results'] as Record<string, unknown>[];
    assert.equal(results.filter((r) => r['svid'] !== undefined).length, 100);
    assert.equal(await certificateRows(main.core), rowsBefore + 100);

    const tooMany = { requests: [...hundred.requests, { csr, spiffe_id: WORKLOAD_ID }] };
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509:batch', { identity: node, body: tooMany }),
      400,
      'malformed',
      /body field "requests": must hold 1 to 100 requests/,
    );
    const huge = JSON.stringify({ requests: [{ csr: 'A'.repeat(600 * 1024), spiffe_id: WORKLOAD_ID }] });
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/svid/x509:batch', { identity: node, body: huge }),
      413,
      'payload-too-large',
      /./,
    );
    // The plain route keeps the app's limit.
    await assertRefused(
      main,
      () =>
        call(main, 'POST', '/v1/svid/x509', {
          identity: node,
          body: JSON.stringify({ csr: 'A'.repeat(100 * 1024), spiffe_id: WORKLOAD_ID }),
        }),
      413,
      'payload-too-large',
      /./,
    );
  });
});

describe('POST /v1/attest/join-token', () => {
  function newToken(ks: Keysmith, ttlMs = 600_000): Promise<string> {
    return openSvid(ks.core).then(async (svid) => (await svid.createJoinToken('cli:test', `spiffe://${TD}/node/joined`, ttlMs)).token);
  }

  it('gives a node identity to a client without a certificate, once; a bad CSR does not burn the token', async () => {
    const token = await newToken(main);
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/attest/join-token', { body: { token, csr: 'garbage' } }),
      400,
      'malformed',
      /CSR/,
    );
    const { csr } = await keyAndCsr();
    const reply = await call(main, 'POST', '/v1/attest/join-token', { body: { token, csr } });
    assert.equal(reply.status, 200, reply.body);
    const svid = reply.json();
    assert.equal(svid['spiffe_id'], `spiffe://${TD}/node/joined`);
    assert.equal(svid['entry_id'], null);
    const record = await main.core.repositories.certificates.findBySerial(String(svid['serial']));
    assert.equal(record?.profile, 'node');
    assert.match(String(record?.requester), /^join-token:[0-9a-f]{12}$/);
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/attest/join-token', { body: { token, csr } }),
      403,
      'unauthorized',
      /already been used/,
    );
  });

  it('refuses an unknown token and a malformed body', async () => {
    const { csr } = await keyAndCsr();
    const unknown = Buffer.alloc(32, 7).toString('base64url');
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/attest/join-token', { body: { token: unknown, csr } }),
      403,
      'unauthorized',
      /unknown/,
    );
    await assertRefused(
      main,
      () => call(main, 'POST', '/v1/attest/join-token', { body: { csr } }),
      400,
      'malformed',
      /body field "token"|token/,
    );
  });

  it('answers 429 with Retry-After once a client address spends its burst', async () => {
    const limited = await startKeysmith('limited', { KEYSMITH_JOIN_TOKEN_BURST: '2', KEYSMITH_JOIN_TOKEN_INTERVAL: '1h' });
    try {
      const { csr } = await keyAndCsr();
      const unknown = Buffer.alloc(32, 9).toString('base64url');
      for (let attempt = 0; attempt < 2; attempt++) {
        const reply = await call(limited, 'POST', '/v1/attest/join-token', { body: { token: unknown, csr } });
        assert.equal(reply.status, 403, reply.body);
      }
      // Even a good token waits: the limit comes before the token is looked at.
      const token = await newToken(limited);
      const reply = await assertRefused(
        limited,
        () => call(limited, 'POST', '/v1/attest/join-token', { body: { token, csr } }),
        429,
        'rate-limited',
        /too many join-token attempts/,
      );
      const retryAfter = Number(reply.headers['retry-after']);
      assert.ok(
        Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 3600,
        `retry-after ${String(reply.headers['retry-after'])}`,
      );
    } finally {
      await limited.close();
    }
  });

  it('is off in strict mTLS mode: 403 even for a caller with a certificate', async () => {
    const strict = await startKeysmith('strict', { KEYSMITH_MTLS_MODE: 'strict' });
    try {
      const token = await newToken(strict);
      const { csr } = await keyAndCsr();
      await assertRefused(
        strict,
        () => call(strict, 'POST', '/v1/attest/join-token', { identity: strict.admin, body: { token, csr } }),
        403,
        'forbidden',
        /join tokens are off in strict mode/,
      );
      // Without a certificate the engine refuses the handshake itself (RFC 8446 §4.4.2.4: certificate_required).
      await assert.rejects(call(strict, 'POST', '/v1/attest/join-token', { body: { token, csr } }), /certificate_required/);
    } finally {
      await strict.close();
    }
  });
});
