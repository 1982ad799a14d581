import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listeningPort, runProcess, startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import { withTestBackend } from '../helpers/test-backend.js';

/**
 * The root key need not be online (docs/ca-lifecycle.md, "Offline root"):
 * after `keysmith init`, ca/root.key.pem is moved away; `keysmith serve`
 * still starts, issues and answers; `keysmith ca rotate` then says which
 * file is missing and how to go on, and exits 1 without touching ca/.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

let dataDir: string;
let offline: string;
let env: NodeJS.ProcessEnv;
let server: ThirdPartyProcess | undefined;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'keysmith-offline-root-'));
  offline = await mkdtemp(join(tmpdir(), 'keysmith-offline-root-medium-'));
  env = withTestBackend({
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    USER: 'e2e',
    KEYSMITH_DATA_DIR: dataDir,
    KEYSMITH_LOG_LEVEL: 'warn',
  });
});

after(async () => {
  if (server !== undefined && !server.hasExited) await server.kill();
  await rm(dataDir, { recursive: true, force: true });
  await rm(offline, { recursive: true, force: true });
});

describe('keysmith with the root key offline', () => {
  it('serve starts without ca/root.key.pem, is healthy and issues', async () => {
    const init = await runProcess(process.execPath, [MAIN, 'init'], { env, lifetimeMs: 60_000 });
    assert.equal(init.code, 0, init.stderr);
    await rename(join(dataDir, 'ca', 'root.key.pem'), join(offline, 'root.key.pem'));
    server = startProcess(process.execPath, [MAIN, 'serve'], { env: { ...env, KEYSMITH_LISTEN: '127.0.0.1:0' }, lifetimeMs: 120_000 });
    await server.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, { timeoutMs: 30_000, stream: 'both' });
    const port = listeningPort(server.output);
    const health = await runProcess(
      'curl',
      ['--silent', '--show-error', '--max-time', '10', '--cacert', join(dataDir, 'bundle.pem'), `https://127.0.0.1:${port}/healthz`],
      { timeoutMs: 15_000 },
    );
    assert.equal(health.code, 0, health.stderr);
    const report = JSON.parse(health.stdout) as { status: string; checks: Record<string, { status: string }> };
    assert.equal(report.status, 'ok');
    assert.equal(report.checks['ca']?.status, 'ok');
    const issued = await runProcess(
      process.execPath,
      [MAIN, 'issue', '--spiffe-id', 'spiffe://keysmith.local/svc/a', '--out', join(offline, 'svc')],
      {
        env: { ...env, KEYSMITH_LISTEN: `127.0.0.1:${port}` },
        lifetimeMs: 60_000,
      },
    );
    assert.equal(issued.code, 0, issued.stderr);
  });

  it('ca rotate names the missing file and the offline path, and exits 1', async () => {
    const rotated = await runProcess(process.execPath, [MAIN, 'ca', 'rotate'], { env, lifetimeMs: 60_000 });
    assert.equal(rotated.code, 1);
    assert.equal(
      rotated.stderr.trim(),
      `keysmith ca rotate: the root key ${join(dataDir, 'ca', 'root.key.pem')} is not here (an offline root): ` +
        'prepare a request with `keysmith ca rotate --csr-out FILE` and have it signed where the root key is; see docs/ca-lifecycle.md, "Offline root"',
    );
    assert.equal(existsSync(join(dataDir, 'ca', 'intermediates')), false, 'nothing was written');
  });

  it('the offline path: --csr-out on the service, --sign-csr where the root key is, --import-cert back', async () => {
    const keysmith = (args: readonly string[], extra: NodeJS.ProcessEnv = {}) =>
      runProcess(process.execPath, [MAIN, ...args], { env: { ...env, ...extra }, lifetimeMs: 60_000 });
    const csr = join(offline, 'intermediate.csr');
    const cert = join(offline, 'intermediate.pem');
    const requested = await keysmith(['ca', 'rotate', '--csr-out', csr]);
    assert.equal(requested.code, 0, requested.stderr);
    assert.ok(existsSync(join(dataDir, 'ca', 'intermediates', 'pending.key.pem')));
    // The offline machine: a data directory with only the root certificate and key, no ledger.
    const rootDir = join(offline, 'root-machine');
    await mkdir(join(rootDir, 'ca'), { recursive: true, mode: 0o700 });
    await copyFile(join(dataDir, 'ca', 'root.cert.pem'), join(rootDir, 'ca', 'root.cert.pem'));
    await copyFile(join(offline, 'root.key.pem'), join(rootDir, 'ca', 'root.key.pem'));
    const signed = await runProcess(process.execPath, [MAIN, 'ca', 'rotate', '--sign-csr', csr, '--cert-out', cert], {
      env: { PATH: process.env['PATH'], HOME: process.env['HOME'], KEYSMITH_DATA_DIR: rootDir, KEYSMITH_LOG_LEVEL: 'warn' },
      lifetimeMs: 60_000,
    });
    assert.equal(signed.code, 0, signed.stderr);
    assert.equal(existsSync(join(rootDir, 'keysmith.db')), false, 'signing needs no ledger');
    const imported = await keysmith(['ca', 'rotate', '--import-cert', cert, '--activate-after', '2h']);
    assert.equal(imported.code, 0, imported.stderr);
    const status = JSON.parse((await keysmith(['ca', 'status', '--json'])).stdout) as { intermediates: { state: string }[] };
    assert.deepEqual(status.intermediates.map((i) => i.state).sort(), ['active', 'prepared']);
  });

  it('usage errors exit 2 and name the flag', async () => {
    const keysmith = (args: readonly string[]) => runProcess(process.execPath, [MAIN, ...args], { env, lifetimeMs: 60_000 });
    const noCertOut = await keysmith(['ca', 'rotate', '--sign-csr', 'x.csr']);
    assert.equal(noCertOut.code, 2);
    assert.match(noCertOut.stderr, /^keysmith ca rotate: --sign-csr needs --cert-out FILE\n/);
    const twoModes = await keysmith(['ca', 'rotate', '--csr-out', 'a', '--import-cert', 'b']);
    assert.equal(twoModes.code, 2);
    assert.match(twoModes.stderr, /^keysmith ca rotate: give one of --csr-out, --sign-csr, --import-cert\n/);
    const badReason = await keysmith(['ca', 'revoke-intermediate', '01', '--reason', 'removeFromCRL']);
    assert.equal(badReason.code, 2);
    assert.match(badReason.stderr, /--reason: expected one of unspecified, keyCompromise, cACompromise/);
    const badDuration = await keysmith(['ca', 'rotate', '--activate-after', 'soon']);
    assert.equal(badDuration.code, 2);
    assert.match(badDuration.stderr, /--activate-after: expected a duration such as 90s, 15m, 12h or 7d, got 'soon'/);
  });

  it('serve stops cleanly on SIGTERM', async () => {
    assert.ok(server !== undefined);
    process.kill(server.pid, 'SIGTERM');
    const result = await server.waitForExit(20_000);
    assert.equal(result.code, 0, server.output);
  });
});
