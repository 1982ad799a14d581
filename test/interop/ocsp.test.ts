import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore, type Core } from '../../src/cli/compose.js';
import { startServer, type RunningServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/index.js';
import { freePort, runProcess, type ProcessResult } from '../helpers/processes.js';
import { skipUnlessTool } from './harness.js';

/**
 * `openssl ocsp`, `openssl crl` and curl against keysmith as `serve` wires
 * it, in process: the TLS engine's listener (openssl needs -CAfile for the
 * TLS connection as well as for the response signature) and the optional
 * plain-HTTP listener. Every wait is bounded; every child is killed by PID.
 */

let dir: string;
let core: Core;
let server: RunningServer & { readonly port: number };
let plainPort: number;
let files: { bundle: string; intermediate: string; chain: string; responder: string };

/** One certificate issued for the test, with its PEM on disk. */
interface Leaf {
  readonly serial: string;
  readonly file: string;
}

let counter = 0;
async function issue(): Promise<Leaf> {
  const publicKey = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
  const issued = await core.authority.issue(
    { publicKey, spiffeId: `spiffe://keysmith.local/interop/${++counter}`, requester: 'system' },
    'svid',
  );
  const file = join(dir, `leaf-${counter}.pem`);
  await writeFile(file, issued.pem);
  return { serial: issued.serial, file };
}

function openssl(args: readonly string[]): Promise<ProcessResult> {
  return runProcess('openssl', args, { timeoutMs: 15_000, lifetimeMs: 20_000 });
}

function curl(args: readonly string[]): Promise<ProcessResult> {
  return runProcess('curl', ['--silent', '--show-error', '--max-time', '10', ...args], { timeoutMs: 15_000, lifetimeMs: 20_000 });
}

/** `openssl ocsp` over our TLS listener, verifying the response against the root (-CAfile serves TLS and the signature). */
function ocspOverTls(...args: string[]): Promise<ProcessResult> {
  return openssl([
    'ocsp',
    '-issuer',
    files.intermediate,
    '-CAfile',
    files.bundle,
    '-url',
    `https://127.0.0.1:${server.port}/ocsp`,
    ...args,
  ]);
}

function assertVerified(result: ProcessResult): void {
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stderr + result.stdout, /Response verify OK/);
  assert.doesNotMatch(result.stderr + result.stdout, /WARNING/);
}

describe('openssl ocsp and curl against keysmith', skipUnlessTool('openssl'), () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-ocsp-interop-'));
    plainPort = await freePort();
    const config = loadConfig({
      env: {
        KEYSMITH_DATA_DIR: join(dir, 'data'),
        KEYSMITH_LISTEN: `127.0.0.1:${await freePort()}`,
        KEYSMITH_OCSP_HTTP_LISTEN: `127.0.0.1:${plainPort}`,
        KEYSMITH_LOG_LEVEL: 'silent',
      },
    });
    core = await openCore(config);
    server = await startServer(core);
    files = {
      bundle: core.paths.bundle,
      intermediate: join(dir, 'intermediate.pem'),
      chain: join(dir, 'chain.pem'),
      responder: join(dir, 'responder.pem'),
    };
    await writeFile(files.intermediate, core.authority.material.intermediate.certPem);
    await writeFile(files.chain, core.authority.material.intermediate.certPem + core.authority.material.root.certPem);
  });

  after(async () => {
    await server?.close(1_000);
    await core?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('good, with and without a nonce, SHA-1 and SHA-256 CertIDs, signature verified against the root', async () => {
    const leaf = await issue();
    for (const extra of [['-no_nonce'], ['-nonce'], ['-sha256']]) {
      const result = await ocspOverTls(...extra, '-cert', leaf.file);
      assertVerified(result);
      assert.match(result.stdout, new RegExp(`${leaf.file}: good`), extra.join(' '));
      assert.match(result.stdout, /This Update: .+\n\s+Next Update: /);
    }
  });

  it('revoked with its reason, asked in the same second as the revocation', async () => {
    const leaf = await issue();
    const before = Math.floor(Date.now() / 1000);
    await core.authority.revoke(leaf.serial, 'keyCompromise');
    const result = await ocspOverTls('-cert', leaf.file);
    assertVerified(result);
    assert.match(result.stdout, new RegExp(`${leaf.file}: revoked`));
    assert.match(result.stdout, /Reason: keyCompromise/);
    const when = /Revocation Time: (.+)/.exec(result.stdout)?.[1];
    assert.ok(when !== undefined && Math.abs(Date.parse(when) / 1000 - before) <= 1, when);
  });

  it('unknown for a serial never issued, in one request with a good one', async () => {
    const leaf = await issue();
    const result = await ocspOverTls('-no_nonce', '-cert', leaf.file, '-serial', '0x4bad0bad0bad');
    assertVerified(result);
    assert.match(result.stdout, new RegExp(`${leaf.file}: good`));
    assert.match(result.stdout, /0x4bad0bad0bad: unknown/);
  });

  it('verifies with the responder certificate given as -VAfile', async () => {
    const leaf = await issue();
    const first = await ocspOverTls('-no_nonce', '-cert', leaf.file, '-resp_text');
    const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n/.exec(first.stdout)?.[0];
    assert.ok(pem !== undefined, 'the response carries the responder certificate');
    await writeFile(files.responder, pem);
    const result = await openssl([
      'ocsp',
      '-issuer',
      files.intermediate,
      '-cert',
      leaf.file,
      '-CAfile',
      files.bundle,
      '-VAfile',
      files.responder,
      '-url',
      `https://127.0.0.1:${server.port}/ocsp`,
    ]);
    assertVerified(result);
    assert.match(result.stdout, new RegExp(`${leaf.file}: good`));
  });

  it('a GET fetched with curl reads back with openssl ocsp -respin', async () => {
    const leaf = await issue();
    const request = join(dir, 'get.req');
    const response = join(dir, 'get.resp');
    assert.equal((await openssl(['ocsp', '-issuer', files.intermediate, '-cert', leaf.file, '-no_nonce', '-reqout', request])).code, 0);
    const path = encodeURIComponent((await readFile(request)).toString('base64'));
    const fetched = await curl([
      '--cacert',
      files.bundle,
      '--output',
      response,
      '--write-out',
      '%{http_code} %{content_type}',
      `https://127.0.0.1:${server.port}/ocsp/${path}`,
    ]);
    assert.equal(fetched.stdout, '200 application/ocsp-response', fetched.stderr);
    const result = await openssl([
      'ocsp',
      '-respin',
      response,
      '-no_nonce',
      '-issuer',
      files.intermediate,
      '-cert',
      leaf.file,
      '-CAfile',
      files.bundle,
    ]);
    assertVerified(result);
    assert.match(result.stdout, new RegExp(`${leaf.file}: good`));
  });

  it('garbage and truncated bodies come back as malformedRequest that openssl reads', async () => {
    const leaf = await issue();
    const request = join(dir, 'whole.req');
    await openssl(['ocsp', '-issuer', files.intermediate, '-cert', leaf.file, '-reqout', request]);
    const whole = await readFile(request);
    for (const [name, body] of [
      ['garbage', Buffer.from('this is not DER')],
      ['truncated', whole.subarray(0, whole.length - 7)],
    ] as const) {
      const bodyFile = join(dir, `${name}.req`);
      const responseFile = join(dir, `${name}.resp`);
      await writeFile(bodyFile, body);
      const posted = await curl([
        '--cacert',
        files.bundle,
        '--header',
        'Content-Type: application/ocsp-request',
        '--data-binary',
        `@${bodyFile}`,
        '--output',
        responseFile,
        '--write-out',
        '%{http_code}',
        `https://127.0.0.1:${server.port}/ocsp`,
      ]);
      assert.equal(posted.stdout, '400', name);
      const read = await openssl(['ocsp', '-respin', responseFile, '-resp_text', '-noverify']);
      assert.match(read.stdout + read.stderr, /Responder Error: malformedrequest \(1\)/, name);
    }
  });

  it('openssl crl -inform DER reads the CRL, verifies it against the intermediate, and lists the revoked serial', async () => {
    const leaf = await issue();
    await core.authority.revoke(leaf.serial, 'superseded');
    const crlFile = join(dir, 'keysmith.crl');
    // The CRL is rebuilt off the request path, coalesced (crlRebuildDelayMs): poll, bounded, until it lists the serial.
    let result: ProcessResult | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      const fetched = await curl([
        '--cacert',
        files.bundle,
        '--output',
        crlFile,
        '--write-out',
        '%{content_type}',
        `https://127.0.0.1:${server.port}/crl`,
      ]);
      if (fetched.stdout === 'application/pkix-crl') {
        result = await openssl(['crl', '-inform', 'DER', '-in', crlFile, '-noout', '-text', '-CAfile', files.chain]);
        if (result.stdout.includes(`Serial Number: ${leaf.serial.toUpperCase()}`)) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(result !== undefined, 'the CRL was served');
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /verify OK/);
    assert.match(
      result.stdout,
      new RegExp(
        `Serial Number: ${leaf.serial.toUpperCase()}\\s+Revocation Date: .+\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code:\\s+Superseded`,
      ),
    );
    assert.match(result.stdout, /X509v3 CRL Number:\s+\d+/);
  });

  it('the AIA OCSP URL in an issued certificate points at the plain-HTTP listener, and openssl gets answers there', async () => {
    const leaf = await issue();
    const uri = (await openssl(['x509', '-in', leaf.file, '-noout', '-ocsp_uri'])).stdout.trim();
    assert.equal(uri, `http://127.0.0.1:${plainPort}/ocsp`);
    const good = await openssl(['ocsp', '-issuer', files.intermediate, '-cert', leaf.file, '-CAfile', files.bundle, '-url', uri]);
    assertVerified(good);
    assert.match(good.stdout, new RegExp(`${leaf.file}: good`));
    await core.authority.revoke(leaf.serial, 'cessationOfOperation');
    const revoked = await openssl([
      'ocsp',
      '-issuer',
      files.intermediate,
      '-cert',
      leaf.file,
      '-CAfile',
      files.bundle,
      '-url',
      uri,
      '-no_nonce',
    ]);
    assertVerified(revoked);
    assert.match(revoked.stdout, /Reason: cessationOfOperation/);
    const crl = await curl(['--output', '/dev/null', '--write-out', '%{http_code}', `http://127.0.0.1:${plainPort}/crl`]);
    assert.equal(crl.stdout, '200');
    const other = await curl(['--output', '/dev/null', '--write-out', '%{http_code}', `http://127.0.0.1:${plainPort}/v1/bundle`]);
    assert.equal(other.stdout, '404');
  });
});
