import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, listeningPort, runProcess, startProcess, type ThirdPartyProcess } from '../helpers/processes.js';

/**
 * keysmith as an operator runs it: the built CLI in a child process, a fresh
 * data directory, curl as the client. Every wait is bounded.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

let dataDir: string;
let port: number;
let server: ThirdPartyProcess | undefined;
let env: NodeJS.ProcessEnv;

function keysmith(args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runProcess(process.execPath, [MAIN, ...args], { env: { ...env, ...extraEnv }, lifetimeMs: 30_000 });
}

/** serve on port 0 (no port can be taken in between); commands run beside it then name the port it bound. */
async function startServe(): Promise<ThirdPartyProcess> {
  const child = startProcess(process.execPath, [MAIN, 'serve'], { env: { ...env, KEYSMITH_LISTEN: '127.0.0.1:0' }, lifetimeMs: 120_000 });
  // The curl line is the last thing serve prints at start-up.
  await child.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, { timeoutMs: 30_000, stream: 'both' });
  port = listeningPort(child.output);
  env = { ...env, KEYSMITH_LISTEN: `127.0.0.1:${port}` };
  return child;
}

async function stopServe(child: ThirdPartyProcess): Promise<number | null> {
  process.kill(child.pid, 'SIGTERM');
  const result = await child.waitForExit(20_000);
  return result.code;
}

function curl(args: readonly string[]) {
  return runProcess('curl', ['--silent', '--show-error', '--max-time', '10', '--write-out', '\n%{http_code}', ...args], {
    lifetimeMs: 20_000,
  });
}

function adminCurl(path: string, extra: readonly string[] = []) {
  return curl([
    '--cert',
    join(dataDir, 'admin', 'cert.pem'),
    '--key',
    join(dataDir, 'admin', 'key.pem'),
    '--cacert',
    join(dataDir, 'bundle.pem'),
    ...extra,
    `https://127.0.0.1:${port}${path}`,
  ]);
}

function statusOf(result: { stdout: string }): number {
  return Number(result.stdout.trim().split('\n').pop());
}

function bodyOf(result: { stdout: string }): string {
  const lines = result.stdout.trimEnd().split('\n');
  lines.pop();
  return lines.join('\n');
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keysmith-e2e-'));
  env = { PATH: process.env['PATH'], HOME: process.env['HOME'], KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LOG_LEVEL: 'warn' };
});

after(async () => {
  if (server !== undefined && !server.hasExited) await server.kill();
  await rm(dataDir, { recursive: true, force: true });
});

describe('keysmith serve, first start', () => {
  it('creates the CA, the listener and admin identities, and prints a curl line that lists certificates', async () => {
    server = await startServe();
    const match = /curl --cert (\S+) --key (\S+) --cacert (\S+) (https:\/\/\S+\/v1\/certificates)/.exec(server.output);
    assert.ok(match !== null, `no curl line in:\n${server.output}`);
    const result = await curl(['--cert', match[1]!, '--key', match[2]!, '--cacert', match[3]!, match[4]!]);
    assert.equal(statusOf(result), 200, result.stdout + result.stderr);
    const page = JSON.parse(bodyOf(result)) as { items: { profile: string; spiffe_id: string | null }[] };
    const profiles = page.items.map((c) => c.profile).sort();
    // The delegated OCSP responder certificate is issued at start, like any other, through the Authority.
    assert.deepEqual(profiles, ['intermediate', 'ocsp-signer', 'root', 'svid', 'tls-server']);
    assert.ok(page.items.some((c) => c.spiffe_id === 'spiffe://keysmith.local/admin/bootstrap'));
  });

  it('keeps private keys 0600 in 0700 directories', async () => {
    for (const dir of ['admin', 'server', 'ca']) assert.equal((await stat(join(dataDir, dir))).mode & 0o777, 0o700, dir);
    assert.equal((await stat(join(dataDir, 'admin', 'key.pem'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dataDir, 'server', 'key.pem'))).mode & 0o777, 0o600);
  });

  it('refuses the ops routes to a client without a certificate with a 401 problem document', async () => {
    const result = await curl(['--cacert', join(dataDir, 'bundle.pem'), '--include', `https://127.0.0.1:${port}/v1/certificates`]);
    assert.equal(statusOf(result), 401);
    assert.match(result.stdout, /content-type: application\/problem\+json/i);
  });

  it('serves /healthz and the trust bundle to any TLS client', async () => {
    const health = await curl(['--cacert', join(dataDir, 'bundle.pem'), `https://127.0.0.1:${port}/healthz`]);
    assert.equal(statusOf(health), 200, health.stdout);
    const bundle = await curl(['--cacert', join(dataDir, 'bundle.pem'), `https://127.0.0.1:${port}/v1/bundle`]);
    assert.equal(statusOf(bundle), 200);
    // The root (bundle.pem), then the published intermediates: here the one active intermediate (docs/ca-lifecycle.md).
    const published =
      (await readFile(join(dataDir, 'bundle.pem'), 'utf8')) + (await readFile(join(dataDir, 'ca', 'intermediate.cert.pem'), 'utf8'));
    assert.equal(bodyOf(bundle).trim(), published.trim());
  });

  it('answers `keysmith health` (the container health check) with exit 0 and the 200 status line', async () => {
    const result = await keysmith(['health']);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout.trim(), 'HTTP/1.1 200 OK');
  });

  it('staples a good OCSP response for its own certificate (openssl s_client -status)', async () => {
    const result = await runProcess(
      'openssl',
      ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-status', '-CAfile', join(dataDir, 'bundle.pem')],
      { lifetimeMs: 20_000, stdin: '' },
    );
    assert.match(result.stdout, /OCSP Response Status: successful/);
    assert.match(result.stdout, /Cert Status: good/);
  });

  it('refuses a client certificate from another CA at the handshake', async () => {
    const result = await curl([
      '--cert',
      join(FIXTURES, 'other-client.pem'),
      '--key',
      join(FIXTURES, 'other-client.key'),
      '--cacert',
      join(dataDir, 'bundle.pem'),
      `https://127.0.0.1:${port}/v1/certificates`,
    ]);
    // curl 56: the server's fatal alert ended the connection; RFC 8446 §6.2: unknown_ca for a chain that reaches no trusted root.
    assert.equal(result.code, 56, result.stderr);
    assert.match(result.stderr, /alert unknown ca/);
    assert.equal(statusOf(result), 0);
  });

  it('issues an admin offline while serving, accepts it, and refuses it once revoked', async () => {
    const out = join(dataDir, 'second-admin');
    const issued = await keysmith(['issue', '--spiffe-id', 'spiffe://keysmith.local/admin/second', '--ttl', '1d', '--out', out]);
    assert.equal(issued.code, 0, issued.stderr);
    const serial = issued.stdout.trim();
    assert.match(serial, /^[0-9a-f]{16,}$/);
    assert.equal((await stat(join(out, 'key.pem'))).mode & 0o777, 0o600);
    const asSecond = () =>
      curl([
        '--cert',
        join(out, 'cert.pem'),
        '--key',
        join(out, 'key.pem'),
        '--cacert',
        join(dataDir, 'bundle.pem'),
        `https://127.0.0.1:${port}/v1/certificates/${serial}`,
      ]);
    const before = await asSecond();
    assert.equal(statusOf(before), 200, before.stdout);
    const revoked = await keysmith(['revoke', serial, '--reason', 'keyCompromise']);
    assert.equal(revoked.code, 0, revoked.stderr);
    // The handshake itself refuses a revoked client certificate (certificate_revoked), before any HTTP.
    const afterRevoke = await asSecond();
    assert.equal(afterRevoke.code, 56, afterRevoke.stderr);
    assert.match(afterRevoke.stderr, /alert certificate revoked/);
    assert.equal(statusOf(afterRevoke), 0);
    const listed = await keysmith(['certs', 'list', '--status', 'revoked']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, new RegExp(`${serial}\\s+svid\\s+revoked`));
  });

  it('stops on SIGTERM and keeps every certificate and the CA across a restart', async () => {
    const beforeList = JSON.parse(bodyOf(await adminCurl('/v1/certificates'))) as { items: { serial: string; profile: string }[] };
    const bundleBefore = await readFile(join(dataDir, 'bundle.pem'), 'utf8');
    assert.equal(await stopServe(server!), 0);
    server = await startServe();
    const afterList = JSON.parse(bodyOf(await adminCurl('/v1/certificates'))) as { items: { serial: string; profile: string }[] };
    const known = new Set(beforeList.items.map((c) => c.serial));
    // Everything is kept as it was, and nothing new is issued: the restart reuses the OCSP responder certificate
    // the ledger holds (with its wrapped key) instead of minting another.
    assert.deepEqual(afterList.items.map((c) => c.serial).sort(), [...known].sort());
    assert.equal(afterList.items.filter((c) => c.profile === 'ocsp-signer').length, 1);
    assert.equal(await readFile(join(dataDir, 'bundle.pem'), 'utf8'), bundleBefore);
    assert.equal(await stopServe(server), 0);
  });
});

describe('keysmith health against an unhealthy or absent service', () => {
  it('exits 1 with the 503 status line when a check fails (the listener certificate has expired)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keysmith-health-'));
    // A one-second listener certificate: /healthz fails its server_certificate check within seconds,
    // while TLS clients still connect inside their clock-skew allowance.
    const child = startProcess(process.execPath, [MAIN, 'serve'], {
      env: { ...env, KEYSMITH_DATA_DIR: dir, KEYSMITH_LISTEN: '127.0.0.1:0', KEYSMITH_SERVER_CERTIFICATE_TTL: '1s' },
      lifetimeMs: 60_000,
    });
    try {
      await child.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, { timeoutMs: 30_000 });
      const healthEnv = { KEYSMITH_DATA_DIR: dir, KEYSMITH_LISTEN: `127.0.0.1:${listeningPort(child.output)}` };
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const result = await keysmith(['health'], healthEnv);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.equal(result.stdout.trim(), 'HTTP/1.1 503 Service Unavailable');
    } finally {
      await child.kill();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 naming the refused connection when nothing listens', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keysmith-health-'));
    const idlePort = await freePort();
    try {
      assert.equal((await keysmith(['init'], { KEYSMITH_DATA_DIR: dir })).code, 0);
      const result = await keysmith(['health'], { KEYSMITH_DATA_DIR: dir, KEYSMITH_LISTEN: `127.0.0.1:${idlePort}` });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, new RegExp(`ECONNREFUSED 127\\.0\\.0\\.1:${idlePort}`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('keysmith configuration errors', () => {
  it('stops at start-up naming the field and what was expected', async () => {
    const result = await keysmith(['serve'], { KEYSMITH_MTLS_MODE: 'loose' });
    assert.equal(result.code, 78);
    assert.match(result.stderr, /KEYSMITH_MTLS_MODE \(mtlsMode\)/);
    assert.match(result.stderr, /standard/);
  });

  it('refuses to start without the passphrase once the CA keys are encrypted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keysmith-pass-'));
    try {
      const withPass = await keysmith(['init'], { KEYSMITH_DATA_DIR: dir, KEYSMITH_CA_PASSPHRASE: 'correct horse battery' });
      assert.equal(withPass.code, 0, withPass.stderr);
      // Every CA key on disk is encrypted with the passphrase (PKCS#8 EncryptedPrivateKeyInfo), and only its owner may read it.
      for (const name of ['root.key.pem', 'intermediate.key.pem']) {
        const path = join(dir, 'ca', name);
        assert.match(await readFile(path, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/, name);
        assert.equal((await stat(path)).mode & 0o777, 0o600, name);
      }
      const without = await keysmith(['init'], { KEYSMITH_DATA_DIR: dir });
      assert.equal(without.code, 1, without.stderr);
      assert.match(without.stderr, /KEYSMITH_CA_PASSPHRASE/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('answers --help for every command', async () => {
    for (const command of [['serve'], ['init'], ['issue'], ['certs', 'list'], ['revoke']]) {
      const result = await keysmith([...command, '--help']);
      assert.equal(result.code, 0, command.join(' '));
      assert.match(result.stdout, /usage: keysmith/);
    }
  });
});
