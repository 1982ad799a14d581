import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { prepareJwtKey } from '../../../src/ca/index.js';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { startServer, type RunningServer } from '../../../src/cli/serve.js';
import { loadConfig } from '../../../src/config/index.js';
import { MAX_JWT_TTL_MS } from '../../../src/svid/index.js';
import { freePort } from '../../helpers/processes.js';
import { EngineAgent } from '../../helpers/engine-client.js';

/**
 * JWT-SVID key rotation through the running service: the real /v1/bundle and
 * /v1/svid/jwt routes over keysmith's TLS listener on 127.0.0.1, the schedule
 * changed on disk by prepareJwtKey (what `keysmith ca rotate-jwt` runs) while
 * the service runs, picked up by its periodic check (1 s here). Real time: the
 * overlap is a few seconds.
 */

const TD = 'keysmith.local';
const NODE_ID = `spiffe://${TD}/node/rotation`;
const WORKLOAD_ID = `spiffe://${TD}/ns/prod/sa/api`;
const OVERLAP_MS = 4_000;

interface Identity {
  readonly key: string;
  readonly chain: string;
}

interface Bundle {
  readonly keys: readonly Record<string, unknown>[];
  readonly spiffe_sequence: number;
}

let dir: string;
let core: Core;
let server: RunningServer & { readonly port: number };
let node: Identity;

function call(
  method: string,
  path: string,
  identity?: Identity,
  body?: unknown,
  accept?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = accept === undefined ? {} : { accept };
    if (text !== undefined)
      Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    const agent = new EngineAgent(server.port, core.authority.bundlePem(), identity);
    const req = httpRequest({ host: '127.0.0.1', port: server.port, method, path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(text);
  });
}

async function fetchBundle(): Promise<Bundle> {
  const reply = await call('GET', '/v1/bundle', undefined, undefined, 'application/json');
  assert.equal(reply.status, 200, reply.body);
  return JSON.parse(reply.body) as Bundle;
}

function jwtKids(bundle: Bundle): string[] {
  return bundle.keys.filter((key) => key['use'] === 'jwt-svid').map((key) => String(key['kid']));
}

async function issueToken(): Promise<{ token: string; answeredAt: number }> {
  const reply = await call('POST', '/v1/svid/jwt', node, { audience: ['https://db.example'], spiffe_id: WORKLOAD_ID });
  const answeredAt = Date.now();
  assert.equal(reply.status, 200, reply.body);
  return { token: String((JSON.parse(reply.body) as Record<string, unknown>)['token']), answeredAt };
}

/** jose verifies the token with the bundle key named by its kid. */
async function verifyWithBundle(token: string, bundle: Bundle): Promise<string | undefined> {
  const kid = decodeProtectedHeader(token).kid;
  const jwk = bundle.keys.find((key) => key['use'] === 'jwt-svid' && key['kid'] === kid);
  assert.ok(jwk !== undefined, `the bundle has no JWT authority with kid ${String(kid)}`);
  const { kty, crv, x, y } = jwk as JWK;
  const { payload } = await jwtVerify(token, await importJWK({ kty, crv, x, y } as JWK, 'ES256'), {
    audience: 'https://db.example',
    algorithms: ['ES256'],
  });
  return payload.sub;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keysmith-jwt-rotation-'));
  const config = loadConfig({
    env: {
      KEYSMITH_DATA_DIR: join(dir, 'data'),
      KEYSMITH_LISTEN: `127.0.0.1:${await freePort()}`,
      KEYSMITH_LOG_LEVEL: 'silent',
      KEYSMITH_ALERTS_SCHEDULE: 'off',
      KEYSMITH_JWT_KEY_CHECK_INTERVAL: '1s',
    },
  });
  core = await openCore(config);
  server = await startServer(core);
  const issued = await issueIdentity(core.authority, { profile: 'node', spiffeId: NODE_ID, requester: 'system' });
  node = { key: issued.keyPem, chain: issued.issued.chainPem };
  const admin = { key: await readFile(core.paths.adminKey, 'utf8'), chain: await readFile(core.paths.adminCert, 'utf8') };
  const entry = await call('POST', '/v1/entries', admin, { spiffe_id: WORKLOAD_ID, parent_id: NODE_ID });
  assert.equal(entry.status, 201, entry.body);
});

after(async () => {
  await server?.close(1_000);
  await core?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('JWT-SVID key rotation through GET /v1/bundle and POST /v1/svid/jwt', () => {
  it('publishes the new kid before it signs, then signs with it; a token signed before the rotation verifies against the bundle fetched after activation', async () => {
    const initial = await fetchBundle();
    assert.equal(jwtKids(initial).length, 1);
    const [oldKid] = jwtKids(initial);
    const beforeRotation = await issueToken();
    assert.equal(decodeProtectedHeader(beforeRotation.token).kid, oldKid);

    const { prepared } = await prepareJwtKey({
      dataDir: core.config.dataDir,
      now: Date.now(),
      activateAfterMs: OVERLAP_MS,
      retainMs: MAX_JWT_TTL_MS,
    });
    // The service re-reads the schedule every second: poll the route (bounded) until the new kid is published.
    let published = initial;
    for (let attempt = 0; attempt < 30 && !jwtKids(published).includes(prepared.kid); attempt++) {
      await sleep(200);
      published = await fetchBundle();
    }
    assert.deepEqual(jwtKids(published), [oldKid, prepared.kid]);
    assert.ok(
      published.spiffe_sequence > initial.spiffe_sequence,
      `sequence ${published.spiffe_sequence} after ${initial.spiffe_sequence}`,
    );
    assert.equal(published.spiffe_sequence, prepared.preparedAt);

    // Published, not yet signing: a token answered before activation still carries the old kid.
    const duringOverlap = await issueToken();
    assert.ok(duringOverlap.answeredAt < prepared.activateAt, 'the overlap ended before the check: raise OVERLAP_MS');
    assert.equal(decodeProtectedHeader(duringOverlap.token).kid, oldKid);

    await sleep(Math.max(0, prepared.activateAt - Date.now() + 50));
    const afterActivation = await issueToken();
    assert.equal(decodeProtectedHeader(afterActivation.token).kid, prepared.kid);

    const bundle = await fetchBundle();
    assert.deepEqual(jwtKids(bundle), [oldKid, prepared.kid], 'the retired key stays published until its last token expires');
    assert.equal(bundle.spiffe_sequence, published.spiffe_sequence, 'activation publishes nothing new');
    assert.equal(await verifyWithBundle(beforeRotation.token, bundle), WORKLOAD_ID);
    assert.equal(await verifyWithBundle(duringOverlap.token, bundle), WORKLOAD_ID);
    assert.equal(await verifyWithBundle(afterActivation.token, bundle), WORKLOAD_ID);
  });
});
