import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listeningPort, runProcess, startProcess, type ProcessResult, type ThirdPartyProcess } from '../helpers/processes.js';
import { withTestBackend } from '../helpers/test-backend.js';

/**
 * An intermediate CA rotation on a running `keysmith serve` (a child
 * process, SQLite or, with KEYSMITH_TEST_BACKEND=postgres, PostgreSQL), with
 * real clients only: curl for every HTTP call (the node and the workloads
 * authenticate with their certificates), `openssl verify` and `openssl ocsp`.
 * `keysmith ca rotate` publishes the new intermediate before it signs;
 * `keysmith ca activate` makes it sign; the running node follows without a
 * restart (caReloadInterval 1 s here); an SVID from each intermediate then
 * verifies against the bundle, is `good` over OCSP and authenticates a curl
 * connection; `keysmith ca revoke-intermediate` puts an intermediate on the
 * ARL at /crl/root and takes it out of the bundle. Every wait is bounded.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TD = 'keysmith.local';
const NODE_ID = `spiffe://${TD}/node/agent-1`;
const WORKLOAD_ID = `spiffe://${TD}/svc/orders`;
/** The node follows a change in ca/ within caReloadInterval (1 s): 15 s is a generous bound on a loaded machine. */
const FOLLOW_MS = 15_000;

let dataDir: string;
let work: string;
let env: NodeJS.ProcessEnv;
let server: ThirdPartyProcess | undefined;
let base: string;
let bundleFile: string;

function keysmith(args: readonly string[]): Promise<ProcessResult> {
  return runProcess(process.execPath, [MAIN, ...args], { env, lifetimeMs: 60_000 });
}

function openssl(args: readonly string[]): Promise<ProcessResult> {
  return runProcess('openssl', args, { timeoutMs: 15_000, lifetimeMs: 20_000 });
}

/** curl against the service, trusting `bundleFile`; `identity` presents a client certificate. */
async function curl(args: readonly string[], identity?: { chain: string; key: string }): Promise<ProcessResult> {
  const auth = identity === undefined ? [] : ['--cert', identity.chain, '--key', identity.key];
  return runProcess(
    'curl',
    ['--silent', '--show-error', '--fail-with-body', '--max-time', '10', '--cacert', bundleFile, ...auth, ...args],
    { timeoutMs: 15_000, lifetimeMs: 20_000 },
  );
}

interface SpiffeBundle {
  readonly keys: readonly { readonly use: string; readonly x5c?: readonly string[] }[];
  readonly spiffe_sequence: number;
}

async function spiffeBundle(): Promise<SpiffeBundle> {
  const result = await curl(['-H', 'accept: application/json', `${base}/v1/bundle`]);
  assert.equal(result.code, 0, result.stderr + result.stdout);
  return JSON.parse(result.stdout) as SpiffeBundle;
}

function x509Serials(bundle: SpiffeBundle): string[] {
  return bundle.keys
    .filter((k) => k.use === 'x509-svid')
    .map((k) => serialOf(new X509Certificate(Buffer.from(k.x5c?.[0] ?? '', 'base64'))));
}

function serialOf(cert: X509Certificate): string {
  return cert.serialNumber.toLowerCase().replace(/^(00)+/, '');
}

function pemBlocks(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----\n?/g) ?? [];
}

/** Polls `probe` until it holds, at most FOLLOW_MS. */
async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + FOLLOW_MS;
  for (;;) {
    if (await probe()) return;
    if (Date.now() > deadline) assert.fail(`not within ${FOLLOW_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

interface Svid {
  readonly name: string;
  readonly leaf: string;
  readonly chain: string;
  readonly key: string;
  readonly intermediate: string;
  readonly intermediateSerial: string;
}

/** A workload SVID obtained over curl with `as` (the node's identity, or the workload's own to renew). */
async function obtainSvid(name: string, as: { chain: string; key: string }): Promise<Svid> {
  const key = join(work, `${name}.key`);
  assert.equal((await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', key])).code, 0);
  const csr = await openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}`]);
  assert.equal(csr.code, 0, csr.stderr);
  const body = join(work, `${name}.json`);
  await writeFile(body, JSON.stringify({ csr: csr.stdout, spiffe_id: WORKLOAD_ID }));
  const reply = await curl(['-H', 'content-type: application/json', '--data-binary', `@${body}`, `${base}/v1/svid/x509`], as);
  assert.equal(reply.code, 0, reply.stderr + reply.stdout);
  const chainPem = String((JSON.parse(reply.stdout) as Record<string, unknown>)['cert_chain']);
  const [leafPem, intermediatePem] = pemBlocks(chainPem);
  assert.ok(leafPem !== undefined && intermediatePem !== undefined, 'leaf then intermediate');
  const files = {
    leaf: join(work, `${name}.leaf.pem`),
    chain: join(work, `${name}.chain.pem`),
    intermediate: join(work, `${name}.issuer.pem`),
  };
  await writeFile(files.leaf, leafPem);
  await writeFile(files.chain, chainPem);
  await writeFile(files.intermediate, intermediatePem);
  return { name, ...files, key, intermediateSerial: serialOf(new X509Certificate(intermediatePem)) };
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keysmith-rotation-e2e-'));
  work = await mkdtemp(join(tmpdir(), 'keysmith-rotation-e2e-work-'));
  env = withTestBackend({
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    USER: 'e2e',
    KEYSMITH_DATA_DIR: dataDir,
    KEYSMITH_LOG_LEVEL: 'warn',
    KEYSMITH_CA_RELOAD_INTERVAL: '1s',
  });
  bundleFile = join(work, 'bundle.pem');
});

after(async () => {
  if (server !== undefined && !server.hasExited) await server.kill();
  await rm(dataDir, { recursive: true, force: true });
  await rm(work, { recursive: true, force: true });
});

describe('intermediate CA rotation on a running node, with real clients', () => {
  let original: string;
  let prepared: string;
  let node: { chain: string; key: string };
  let sequenceBefore: number;
  let underOld: Svid;
  let underNew: Svid;

  it('serve starts; an entry lets the node obtain the workload SVID', async () => {
    const entry = await keysmith(['entries', 'create', '--spiffe-id', WORKLOAD_ID, '--parent-id', NODE_ID, '--x509-ttl', '1h']);
    assert.equal(entry.code, 0, entry.stderr);
    const issued = await keysmith(['issue', '--spiffe-id', NODE_ID, '--profile', 'node', '--out', join(work, 'node')]);
    assert.equal(issued.code, 0, issued.stderr);
    node = { chain: join(work, 'node', 'cert.pem'), key: join(work, 'node', 'key.pem') };
    server = startProcess(process.execPath, [MAIN, 'serve'], { env: { ...env, KEYSMITH_LISTEN: '127.0.0.1:0' }, lifetimeMs: 240_000 });
    await server.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, { timeoutMs: 30_000, stream: 'both' });
    const port = listeningPort(server.output);
    base = `https://127.0.0.1:${port}`;
    // The CLI commands below write this URL into certificates (the ARL URL of a new intermediate).
    env = { ...env, KEYSMITH_LISTEN: `127.0.0.1:${port}` };
    await writeFile(bundleFile, await readFile(join(dataDir, 'bundle.pem'), 'utf8'));
    const status = await keysmith(['ca', 'status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const listed = (JSON.parse(status.stdout) as { intermediates: { serial: string; state: string }[] }).intermediates;
    assert.equal(listed.length, 1);
    assert.equal(listed[0]?.state, 'active');
    original = listed[0]?.serial ?? '';
    const bundle = await spiffeBundle();
    sequenceBefore = bundle.spiffe_sequence;
    assert.deepEqual(x509Serials(bundle).slice(1), [original], 'the bundle: root, then the active intermediate');
    underOld = await obtainSvid('old', node);
    assert.equal(underOld.intermediateSerial, original);
  });

  it('ca rotate publishes the new intermediate at once (spiffe_sequence grows) while the old one still signs', async () => {
    const rotated = await keysmith(['ca', 'rotate', '--activate-after', '1h']);
    assert.equal(rotated.code, 0, rotated.stderr);
    prepared = /prepared intermediate ([0-9a-f]+):/.exec(rotated.stdout)?.[1] ?? '';
    assert.notEqual(prepared, '');
    await eventually('the running node publishes the prepared intermediate', async () =>
      x509Serials(await spiffeBundle()).includes(prepared),
    );
    const bundle = await spiffeBundle();
    assert.deepEqual(new Set(x509Serials(bundle).slice(1)), new Set([original, prepared]));
    assert.ok(bundle.spiffe_sequence > sequenceBefore, `spiffe_sequence ${bundle.spiffe_sequence} after ${sequenceBefore}`);
    const pem = await curl([`${base}/v1/bundle`]);
    assert.equal(pem.stdout.match(/BEGIN CERTIFICATE/g)?.length, 3, 'PEM bundle: root and both intermediates');
    // keysmith_certificate_not_after_timestamp_seconds: one series per published intermediate, at its notAfter.
    const metrics = (await curl([`${base}/metrics`])).stdout;
    const intermediateSeries = [
      ...metrics.matchAll(/^keysmith_certificate_not_after_timestamp_seconds\{role="intermediate",serial="([0-9a-f]+)"\} (\d+)$/gm),
    ];
    assert.deepEqual(new Set(intermediateSeries.map((m) => m[1])), new Set([original, prepared]), metrics);
    for (const cert of pemBlocks(pem.stdout).map((block) => new X509Certificate(block))) {
      const series = intermediateSeries.find((m) => m[1] === serialOf(cert));
      if (series !== undefined) assert.equal(Number(series[2]), Date.parse(cert.validTo) / 1000);
    }
    const stillOld = await obtainSvid('still-old', node);
    assert.equal(stillOld.intermediateSerial, original, 'a prepared intermediate signs nothing');
  });

  it('ca activate: the running node signs with the new intermediate without a restart', async () => {
    const activated = await keysmith(['ca', 'activate']);
    assert.equal(activated.code, 0, activated.stderr);
    assert.match(activated.stdout, new RegExp(`intermediate ${prepared} is active`));
    await eventually('the node serves the new issuing CA at /ca.crt', async () => {
      const result = await runProcess(
        'curl',
        ['--silent', '--max-time', '10', '--cacert', bundleFile, '--output', join(work, 'ca.der'), `${base}/ca.crt`],
        { timeoutMs: 15_000 },
      );
      return result.code === 0 && serialOf(new X509Certificate(await readFile(join(work, 'ca.der')))) === prepared;
    });
    underNew = await obtainSvid('new', node);
    assert.equal(underNew.intermediateSerial, prepared);
    const status = JSON.parse((await keysmith(['ca', 'status', '--json'])).stdout) as {
      intermediates: { serial: string; state: string; leaves_outstanding: number }[];
    };
    const states = Object.fromEntries(status.intermediates.map((i) => [i.serial, i.state]));
    assert.deepEqual(states, { [original]: 'retiring', [prepared]: 'active' });
  });

  it('both SVIDs verify with openssl against the bundle fetched after activation', async () => {
    const pem = await curl([`${base}/v1/bundle`]);
    assert.equal(pem.code, 0, pem.stderr);
    await writeFile(bundleFile, pem.stdout);
    assert.equal(pem.stdout.match(/BEGIN CERTIFICATE/g)?.length, 3, 'root, the retiring and the active intermediate');
    for (const svid of [underOld, underNew]) {
      const verified = await openssl(['verify', '-CAfile', bundleFile, svid.leaf]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
      assert.equal(verified.stdout.trim(), `${svid.leaf}: OK`);
    }
  });

  it('openssl ocsp answers good for both, each response verified against the bundle', async () => {
    for (const svid of [underOld, underNew]) {
      const result = await openssl([
        'ocsp',
        '-issuer',
        svid.intermediate,
        '-cert',
        svid.leaf,
        '-CAfile',
        bundleFile,
        '-url',
        `${base}/ocsp`,
        '-no_nonce',
      ]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout + result.stderr, /Response verify OK/);
      assert.match(result.stdout, new RegExp(`${svid.leaf}: good`), svid.name);
    }
  });

  it('curl authenticates with each SVID (the workload renews itself over mTLS)', async () => {
    for (const svid of [underOld, underNew]) {
      const renewed = await obtainSvid(`${svid.name}-renewed`, { chain: svid.chain, key: svid.key });
      assert.equal(renewed.intermediateSerial, prepared, `${svid.name}: renewed under the active intermediate`);
    }
  });

  it('ca revoke-intermediate: the ARL at /crl/root lists it, and it leaves the bundle', async () => {
    // A third intermediate takes over, so the retiring original can be revoked as if compromised.
    assert.equal((await keysmith(['ca', 'rotate', '--activate-after', '0s'])).code, 0);
    const revoked = await keysmith(['ca', 'revoke-intermediate', original, '--reason', 'keyCompromise']);
    assert.equal(revoked.code, 0, revoked.stderr);
    await eventually(
      'the running node drops the revoked intermediate from the bundle',
      async () => !x509Serials(await spiffeBundle()).includes(original),
    );
    const arlFile = join(work, 'arl.der');
    const fetched = await curl(['--output', arlFile, `${base}/crl/root`]);
    assert.equal(fetched.code, 0, fetched.stderr);
    const root = pemBlocks(await readFile(bundleFile, 'utf8'))[0] ?? '';
    await writeFile(join(work, 'root.pem'), root);
    const text = await openssl(['crl', '-inform', 'DER', '-in', arlFile, '-noout', '-text', '-CAfile', join(work, 'root.pem')]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr + text.stdout, /verify OK/);
    assert.match(text.stdout, /Issuer: O = keysmith, OU = keysmith\.local, CN = keysmith root CA/);
    assert.match(
      text.stdout,
      new RegExp(
        `Serial Number: ${original.toUpperCase()}\\s+Revocation Date: .+\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Key Compromise`,
      ),
    );
    // RFC 6960 §2.7: every certificate of the compromised intermediate is answered revoked.
    const ocsp = await openssl([
      'ocsp',
      '-issuer',
      underOld.intermediate,
      '-cert',
      underOld.leaf,
      '-CAfile',
      join(work, 'root.pem'),
      '-VAfile',
      underOld.intermediate,
      '-url',
      `${base}/ocsp`,
      '-no_nonce',
    ]);
    assert.equal(ocsp.code, 0, ocsp.stdout + ocsp.stderr);
    assert.match(ocsp.stdout, new RegExp(`${underOld.leaf}: revoked`));
    assert.match(ocsp.stdout, /Reason: cACompromise/);
    // The TLS layer refuses a client chain through the revoked intermediate, although the leaf itself is valid in the ledger.
    const body = join(work, 'refused.json');
    await writeFile(body, JSON.stringify({ csr: 'unused', spiffe_id: WORKLOAD_ID }));
    const refused = await curl(['-H', 'content-type: application/json', '--data-binary', `@${body}`, `${base}/v1/svid/x509`], {
      chain: underOld.chain,
      key: underOld.key,
    });
    assert.notEqual(refused.code, 0, refused.stdout);
    assert.match(refused.stderr, /alert certificate revoked/);
  });

  it('serve stops cleanly on SIGTERM', async () => {
    assert.ok(server !== undefined);
    process.kill(server.pid, 'SIGTERM');
    const result = await server.waitForExit(20_000);
    assert.equal(result.code, 0, server.output);
  });
});
