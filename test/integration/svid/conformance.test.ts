import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { issueIdentity } from '../../../src/cli/identities.js';
import { startServer, type RunningServer } from '../../../src/cli/serve.js';
import { loadConfig } from '../../../src/config/index.js';
import { freePort } from '../../helpers/processes.js';
import { EngineAgent, openssl } from '../../helpers/engine-client.js';

/**
 * SPIFFE X509-SVID and JWT-SVID rules, checked on SVIDs issued through the
 * running service (never on templates): node:crypto and `openssl x509 -text`
 * read what was signed, `openssl verify` chains it to the bundle, jose
 * verifies the JWT against the bundle's JWK. The SPIFFE ID checker here is
 * written from the spec, independently of src/shared/spiffe-id.ts.
 */

const TD = 'keysmith.local';
const NODE_ID = `spiffe://${TD}/node/conformance`;
const WORKLOAD_ID = `spiffe://${TD}/ns/prod/sa/web`;
/** Issuance backdates notBefore for clock skew; the rule is "by seconds, not by hours". */
const MAX_BACKDATE_MS = 5 * 60_000;

interface Identity {
  readonly key: string;
  readonly chain: string;
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
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.setTimeout(20_000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(text);
  });
}

const KEY_ALGORITHMS = {
  'EC P-256': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
  'EC P-384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  Ed25519: ['-algorithm', 'ED25519'],
  'RSA 2048': ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
} as const;
type KeyAlgorithm = keyof typeof KEY_ALGORITHMS;

interface IssuedSvid {
  readonly algorithm: KeyAlgorithm;
  readonly leafPem: string;
  readonly leafPath: string;
  readonly leaf: X509Certificate;
  readonly text: string;
  /** Bounds of the request, to judge notBefore against. */
  readonly requestedAt: number;
  readonly answeredAt: number;
}

const svids: IssuedSvid[] = [];

async function issueThroughService(algorithm: KeyAlgorithm): Promise<IssuedSvid> {
  const slug = algorithm.replace(/\W+/g, '-').toLowerCase();
  const keyPath = join(dir, `${slug}.key`);
  await openssl(['genpkey', ...KEY_ALGORITHMS[algorithm], '-out', keyPath]);
  // The CSR asks for names and a CA bit the SVID must not get.
  const csr = await openssl([
    'req',
    '-new',
    '-key',
    keyPath,
    '-subj',
    '/CN=ignored',
    '-addext',
    'subjectAltName=DNS:evil.example,URI:spiffe://evil.example/x',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
  ]);
  const requestedAt = Date.now();
  const reply = await call('POST', '/v1/svid/x509', node, { csr, spiffe_id: WORKLOAD_ID });
  const answeredAt = Date.now();
  assert.equal(reply.status, 200, reply.body);
  const chain = String((JSON.parse(reply.body) as Record<string, unknown>)['cert_chain']);
  const leafPem = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/.exec(chain)?.[0] ?? '';
  const leafPath = join(dir, `${slug}-leaf.pem`);
  await writeFile(leafPath, leafPem);
  const text = await openssl(['x509', '-in', leafPath, '-noout', '-text']);
  return { algorithm, leafPem, leafPath, leaf: new X509Certificate(leafPem), text, requestedAt, answeredAt };
}

/** The lines of an extension in `openssl x509 -text`: its header (with "critical") and its value. */
function extension(text: string, name: string): { critical: boolean; value: string } | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((line) => line.trim().startsWith(`${name}:`));
  if (at === -1) return undefined;
  return { critical: /critical\s*$/.test(lines[at] ?? ''), value: (lines[at + 1] ?? '').trim() };
}

/** SPIFFE-ID §2: scheme, trust domain of [a-z0-9.-_], no port/userinfo, no query/fragment, path segments not empty/./.. of [a-zA-Z0-9.-_]. */
function spiffeIdViolations(uri: string): string[] {
  const problems: string[] = [];
  if (!uri.startsWith('spiffe://')) return ['scheme is not spiffe://'];
  if (uri.includes('?')) problems.push('query');
  if (uri.includes('#')) problems.push('fragment');
  const rest = uri.slice('spiffe://'.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (!/^[a-z0-9._-]+$/.test(trustDomain)) problems.push(`trust domain "${trustDomain}" (port, userinfo or other characters)`);
  if (slash !== -1) {
    for (const segment of rest.slice(slash + 1).split('/')) {
      if (segment === '' || segment === '.' || segment === '..') problems.push(`path segment "${segment}"`);
      else if (!/^[A-Za-z0-9._-]+$/.test(segment)) problems.push(`path segment "${segment}" characters`);
    }
  }
  return problems;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keysmith-svid-conformance-'));
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
  const admin = { key: await readFile(core.paths.adminKey, 'utf8'), chain: await readFile(core.paths.adminCert, 'utf8') };
  const entry = await call('POST', '/v1/entries', admin, { spiffe_id: WORKLOAD_ID, parent_id: NODE_ID, x509_ttl: 3600 });
  assert.equal(entry.status, 201, entry.body);
  for (const algorithm of Object.keys(KEY_ALGORITHMS) as KeyAlgorithm[]) svids.push(await issueThroughService(algorithm));
  await writeFile(join(dir, 'bundle.pem'), core.authority.bundlePem());
  await writeFile(join(dir, 'intermediate.pem'), core.authority.material.intermediate.certPem);
});

after(async () => {
  await server?.close(1_000);
  await core?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('X509-SVIDs issued through POST /v1/svid/x509 (SPIFFE X509-SVID spec)', () => {
  it('carry exactly one URI SAN, a valid SPIFFE ID of the trust domain, and none of the CSR’s names (§2)', () => {
    for (const svid of svids) {
      const san = extension(svid.text, 'X509v3 Subject Alternative Name');
      assert.ok(san !== undefined, svid.algorithm);
      const uris = san.value.split(', ').filter((name) => name.startsWith('URI:'));
      assert.deepEqual(uris, [`URI:${WORKLOAD_ID}`], svid.algorithm);
      assert.deepEqual(spiffeIdViolations(WORKLOAD_ID), []);
      assert.doesNotMatch(san.value, /evil\.example/);
      assert.doesNotMatch(svid.leaf.subject, /ignored/);
    }
  });

  it('the checker used above catches what the spec forbids', () => {
    for (const bad of [
      'spiffe://Keysmith.local/a',
      'spiffe://td:8443/a',
      'spiffe://user@td/a',
      'spiffe://td/a?x=1',
      'spiffe://td/a#f',
      'spiffe://td//a',
      'spiffe://td/./a',
      'spiffe://td/a/..',
      'spiffe://td/a/',
    ]) {
      assert.notDeepEqual(spiffeIdViolations(bad), [], bad);
    }
  });

  it('are leaves: basicConstraints CA:FALSE, even when the CSR asked for CA:TRUE (§4.1)', () => {
    for (const svid of svids) {
      assert.equal(svid.leaf.ca, false, svid.algorithm);
      const constraints = extension(svid.text, 'X509v3 Basic Constraints');
      assert.equal(constraints?.value, 'CA:FALSE', svid.algorithm);
      assert.equal(constraints?.critical, true, svid.algorithm);
    }
  });

  it('have a critical keyUsage of digitalSignature only: no keyCertSign or cRLSign, no keyEncipherment (§4.3)', () => {
    for (const svid of svids) {
      const usage = extension(svid.text, 'X509v3 Key Usage');
      assert.equal(usage?.critical, true, svid.algorithm);
      assert.equal(usage?.value, 'Digital Signature', `${svid.algorithm}: ${usage?.value}`);
    }
  });

  it('have extendedKeyUsage serverAuth and clientAuth (§4.4)', () => {
    for (const svid of svids) {
      const eku = extension(svid.text, 'X509v3 Extended Key Usage');
      assert.ok(eku !== undefined, svid.algorithm);
      const usages = eku.value.split(', ').sort();
      assert.deepEqual(usages, ['TLS Web Client Authentication', 'TLS Web Server Authentication'], svid.algorithm);
    }
  });

  it('end no later than the issuing intermediate, and begin backdated by seconds, never in the future', () => {
    const issuerNotAfter = Date.parse(new X509Certificate(core.authority.material.intermediate.certPem).validTo);
    for (const svid of svids) {
      const notBefore = Date.parse(svid.leaf.validFrom);
      const notAfter = Date.parse(svid.leaf.validTo);
      assert.ok(notAfter <= issuerNotAfter, svid.algorithm);
      // validFrom has whole seconds: allow the truncation.
      assert.ok(notBefore <= svid.answeredAt, `${svid.algorithm}: notBefore ${svid.leaf.validFrom} after the answer`);
      assert.ok(
        notBefore >= svid.requestedAt - MAX_BACKDATE_MS,
        `${svid.algorithm}: notBefore ${svid.leaf.validFrom} backdated by more than minutes`,
      );
      assert.ok(notAfter - notBefore <= 3600_000 + MAX_BACKDATE_MS, svid.algorithm);
    }
  });

  it('chain to the trust bundle through the intermediate (openssl verify)', async () => {
    for (const svid of svids) {
      const out = await openssl(['verify', '-CAfile', join(dir, 'bundle.pem'), '-untrusted', join(dir, 'intermediate.pem'), svid.leafPath]);
      assert.match(out, /: OK\s*$/, svid.algorithm);
    }
  });
});

describe('the SPIFFE bundle and JWT-SVIDs', () => {
  let bundle: { keys: Record<string, unknown>[]; spiffe_sequence?: unknown; spiffe_refresh_hint?: unknown };

  before(async () => {
    const reply = await call('GET', '/v1/bundle', undefined, undefined, 'application/json');
    assert.equal(reply.status, 200, reply.body);
    bundle = JSON.parse(reply.body) as typeof bundle;
  });

  it('lists X.509 authorities with use x509-svid, one x5c and no kid, and the JWT authority with use jwt-svid and a kid (bundle spec §4.2)', () => {
    const x509 = bundle.keys.filter((key) => key['use'] === 'x509-svid');
    const jwt = bundle.keys.filter((key) => key['use'] === 'jwt-svid');
    assert.equal(x509.length + jwt.length, bundle.keys.length, 'every key has a SPIFFE use');
    assert.ok(x509.length >= 1);
    for (const key of x509) {
      assert.ok(Array.isArray(key['x5c']) && key['x5c'].length === 1);
      assert.equal(key['kid'], undefined);
    }
    // The root, then the published intermediates: here the active one (docs/ca-lifecycle.md).
    const authorities = x509.map((key) => new X509Certificate(Buffer.from(String((key['x5c'] as unknown[])[0]), 'base64')).fingerprint256);
    assert.deepEqual(authorities, [
      new X509Certificate(core.authority.bundlePem()).fingerprint256,
      new X509Certificate(core.authority.material.intermediate.certDer).fingerprint256,
    ]);
    assert.equal(jwt.length, 1);
    assert.equal(typeof jwt[0]?.['kid'], 'string');
    assert.ok(String(jwt[0]?.['kid']).length > 0);
    assert.equal(jwt[0]?.['x5c'], undefined);
    assert.ok(Number.isInteger(bundle.spiffe_sequence));
    assert.ok(Number.isInteger(bundle.spiffe_refresh_hint) && Number(bundle.spiffe_refresh_hint) > 0);
  });

  it('issues a JWT-SVID that verifies with the bundle’s JWK: ES256 with kid, sub, aud, exp and iat (JWT-SVID §2, §3)', async () => {
    // The workload calls with its own X509-SVID.
    const keyPath = join(dir, 'ec-p-256.key');
    const workload = {
      key: await readFile(keyPath, 'utf8'),
      chain: (svids[0]?.leafPem ?? '') + core.authority.material.intermediate.certPem,
    };
    const before = Math.floor(Date.now() / 1000);
    const reply = await call('POST', '/v1/svid/jwt', workload, { audience: ['https://db.example', 'spiffe://keysmith.local/db'] });
    assert.equal(reply.status, 200, reply.body);
    const token = String((JSON.parse(reply.body) as Record<string, unknown>)['token']);
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'ES256');
    const jwk = bundle.keys.find((key) => key['use'] === 'jwt-svid' && key['kid'] === header.kid);
    assert.ok(jwk !== undefined, `no bundle key with kid ${String(header.kid)}`);
    const { kty, crv, x, y } = jwk as JWK;
    const publicKey = await importJWK({ kty, crv, x, y } as JWK, 'ES256');
    const { payload } = await jwtVerify(token, publicKey, { audience: 'https://db.example', algorithms: ['ES256'] });
    assert.equal(payload.sub, WORKLOAD_ID);
    assert.deepEqual(payload.aud, ['https://db.example', 'spiffe://keysmith.local/db']);
    assert.ok(typeof payload.iat === 'number' && payload.iat >= before - 1 && payload.iat <= Math.ceil(Date.now() / 1000));
    assert.equal(payload.exp, (payload.iat ?? 0) + 300);
    assert.deepEqual(spiffeIdViolations(String(payload.sub)), []);
  });
});
