import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, listeningPort, portOf, runProcess, startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import { countCertificates, withTestBackend } from '../helpers/test-backend.js';

/**
 * The listener as an operator meets it, `keysmith serve` as a child process:
 * its certificate follows KEYSMITH_PUBLIC_URL and is re-issued when revoked,
 * /healthz and `keysmith health` report it, a start on a taken port leaves
 * nothing behind, the banner goes to stderr and stdout holds only JSON log
 * lines, and alert credentials never reach either.
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const READY = /curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/;
const BASE_ENV: NodeJS.ProcessEnv = {
  PATH: process.env['PATH'],
  HOME: process.env['HOME'],
  KEYSMITH_LOG_LEVEL: 'info',
  KEYSMITH_ALERTS_SCHEDULE: '0 3 * * *',
};

function keysmith(args: readonly string[], env: NodeJS.ProcessEnv) {
  return runProcess(process.execPath, [MAIN, ...args], { env: { ...BASE_ENV, ...env }, lifetimeMs: 30_000, timeoutMs: 30_000 });
}

async function startServe(env: NodeJS.ProcessEnv): Promise<{ child: ThirdPartyProcess; port: number }> {
  const child = startProcess(process.execPath, [MAIN, 'serve'], {
    env: { ...BASE_ENV, KEYSMITH_LISTEN: '127.0.0.1:0', ...env },
    lifetimeMs: 120_000,
  });
  await child.waitFor(READY, { timeoutMs: 30_000, stream: 'stderr' });
  return { child, port: boundPort(child.stderr) };
}

/** The port serve bound: its "bound to" line when a public URL names another, else the listening line's. */
function boundPort(stderr: string): number {
  const bound = /^ {2}bound to \S+:(\d+)$/m.exec(stderr);
  return bound === null ? listeningPort(stderr) : Number(bound[1]);
}

async function stopServe(child: ThirdPartyProcess): Promise<void> {
  process.kill(child.pid, 'SIGTERM');
  const result = await child.waitForExit(20_000);
  assert.equal(result.code, 0, child.describeOutput());
}

/** The leaf the listener serves, as `openssl s_client -showcerts` received it. */
async function servedCertificate(port: number, bundle: string): Promise<X509Certificate> {
  const result = await runProcess(
    'openssl',
    ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-showcerts', '-CAfile', bundle],
    {
      stdin: '',
      lifetimeMs: 20_000,
    },
  );
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(result.stdout);
  assert.ok(pem !== null, `no certificate in openssl's output:\n${result.stdout}${result.stderr}`);
  assert.match(result.stdout, /Verify return code: 0 \(ok\)/);
  return new X509Certificate(pem[0]);
}

function curlHealth(port: number, bundle: string) {
  return runProcess(
    'curl',
    [
      '--silent',
      '--show-error',
      '--max-time',
      '10',
      '--cacert',
      bundle,
      '--write-out',
      '\n%{http_code}',
      `https://127.0.0.1:${port}/healthz`,
    ],
    { lifetimeMs: 20_000 },
  );
}

function splitStatus(stdout: string): { status: number; body: string } {
  const lines = stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  return { status, body: lines.join('\n') };
}

/** Every stdout line is a pino JSON record; the banner is not among them. */
function assertStdoutIsJsonLog(child: ThirdPartyProcess): void {
  const lines = child.stdout.split('\n').filter((line) => line !== '');
  assert.ok(lines.length > 0, 'serve logged nothing on stdout');
  for (const line of lines) {
    const record = JSON.parse(line) as { level?: unknown; time?: unknown; msg?: unknown };
    assert.equal(typeof record.level, 'number', line);
    assert.equal(typeof record.time, 'number', line);
  }
  assert.doesNotMatch(child.stdout, /keysmith listening on|curl --cert/);
  assert.match(child.stderr, /keysmith listening on https:\/\/\S+ \(trust domain keysmith\.local, mTLS (standard|strict)\)\n/);
}

describe('the listener certificate follows KEYSMITH_PUBLIC_URL and the ledger', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let bundle: string;
  let server: ThirdPartyProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-listener-'));
    env = { KEYSMITH_DATA_DIR: join(dir, 'data') };
    bundle = join(dir, 'data', 'bundle.pem');
  });

  after(async () => {
    if (server !== undefined && !server.hasExited) await server.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('carries the public URL host as a DNS name; the banner is on stderr and every stdout line is a JSON log record', async () => {
    const started = await startServe({ ...env, KEYSMITH_PUBLIC_URL: 'https://first.example.test:8443' });
    server = started.child;
    const cert = await servedCertificate(started.port, bundle);
    assert.equal(cert.subjectAltName, 'DNS:first.example.test, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    // A request, so the HTTP log writes a line too.
    assert.equal(splitStatus((await curlHealth(started.port, bundle)).stdout).status, 200);
    await stopServe(server);
    assertStdoutIsJsonLog(server);
  });

  it('after KEYSMITH_PUBLIC_URL changes to an IPv6 literal, the restart serves a new certificate with that address and without the old name', async () => {
    const started = await startServe({ ...env, KEYSMITH_PUBLIC_URL: 'https://[fd00::5]:8443' });
    server = started.child;
    assert.match(
      server.stderr,
      /issued the listener certificate [0-9a-f]+ \(localhost, 127\.0\.0\.1, ::1, fd00::5\): the configured names changed\n/,
    );
    const cert = await servedCertificate(started.port, bundle);
    assert.equal(cert.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:FD00:0:0:0:0:0:0:5');
    await stopServe(server);
  });

  it('keeps the certificate across a restart when nothing changed', async () => {
    const before = new X509Certificate(await readFile(join(dir, 'data', 'server', 'cert.pem'))).serialNumber;
    const started = await startServe({ ...env, KEYSMITH_PUBLIC_URL: 'https://[fd00::5]:8443' });
    server = started.child;
    assert.doesNotMatch(server.stderr, /issued the listener certificate/);
    assert.equal((await servedCertificate(started.port, bundle)).serialNumber, before);
  });

  it('/healthz turns 503 naming the reason once the listener certificate is revoked, and `keysmith health` exits 1', async () => {
    const port = boundPort(server!.stderr);
    const serial = new X509Certificate(await readFile(join(dir, 'data', 'server', 'cert.pem'))).serialNumber.toLowerCase();
    const revoked = await keysmith(['revoke', serial, '--reason', 'superseded'], env);
    assert.equal(revoked.code, 0, revoked.stdout + revoked.stderr);
    const { status, body } = splitStatus((await curlHealth(port, bundle)).stdout);
    assert.equal(status, 503, body);
    const report = JSON.parse(body) as { status: string; checks: Record<string, { status: string; detail?: string }> };
    assert.equal(report.status, 'fail');
    assert.deepEqual(report.checks['server_certificate'], {
      status: 'fail',
      detail: `revoked: the listener certificate ${serial} is revoked (superseded); restart keysmith to issue a new one`,
    });
    const health = await keysmith(['health'], { ...env, KEYSMITH_LISTEN: `127.0.0.1:${port}` });
    assert.equal(health.code, 1, health.stdout + health.stderr);
    assert.equal(health.stdout.trim(), 'HTTP/1.1 503 Service Unavailable');
    await stopServe(server!);
  });

  it('re-issues the revoked certificate at the next start, and /healthz is 200 again', async () => {
    const started = await startServe({ ...env, KEYSMITH_PUBLIC_URL: 'https://[fd00::5]:8443' });
    server = started.child;
    assert.match(
      server.stderr,
      /issued the listener certificate [0-9a-f]+ \(localhost, 127\.0\.0\.1, ::1, fd00::5\): the one on disk is revoked\n/,
    );
    assert.equal(splitStatus((await curlHealth(started.port, bundle)).stdout).status, 200);
    await stopServe(server);
  });
});

describe('`keysmith health` in strict mTLS mode', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: ThirdPartyProcess | undefined;
  let port: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-health-strict-'));
    env = { KEYSMITH_DATA_DIR: join(dir, 'data'), KEYSMITH_MTLS_MODE: 'strict' };
    const started = await startServe(env);
    server = started.child;
    port = started.port;
  });

  after(async () => {
    if (server !== undefined && !server.hasExited) await server.kill();
    await rm(dir, { recursive: true, force: true });
  });

  it('presents the admin identity from the data directory and exits 0 with the 200 status line', async () => {
    const result = await keysmith(['health'], { ...env, KEYSMITH_LISTEN: `127.0.0.1:${port}` });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.equal(result.stdout.trim(), 'HTTP/1.1 200 OK');
  });

  it('presents the identity given with --cert and --key', async () => {
    const result = await keysmith(
      ['health', '--cert', join(dir, 'data', 'admin', 'cert.pem'), '--key', join(dir, 'data', 'admin', 'key.pem')],
      {
        ...env,
        KEYSMITH_LISTEN: `127.0.0.1:${port}`,
      },
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
  });

  it('says which files are missing when there is no identity to present', async () => {
    const bare = join(dir, 'bare');
    await mkdir(bare, { mode: 0o700 });
    await copyFile(join(dir, 'data', 'bundle.pem'), join(bare, 'bundle.pem'));
    const result = await keysmith(['health'], {
      KEYSMITH_DATA_DIR: bare,
      KEYSMITH_MTLS_MODE: 'strict',
      KEYSMITH_LISTEN: `127.0.0.1:${port}`,
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr.trim(),
      `keysmith health: mtlsMode is strict, so the listener requires a client certificate, and there is none to present: ${join(bare, 'admin', 'cert.pem')} and ${join(bare, 'admin', 'key.pem')} not found (the first \`keysmith serve\` writes them); pass --cert FILE --key FILE with a certificate this CA issued (\`keysmith issue\`)`,
    );
  });

  it('run with a standard-mode configuration, explains that the server wants a client certificate', async () => {
    const result = await keysmith(['health'], { KEYSMITH_DATA_DIR: join(dir, 'data'), KEYSMITH_LISTEN: `127.0.0.1:${port}` });
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /^keysmith health: the server requires a client certificate \(its mtlsMode is strict; this configuration says standard\): pass --cert FILE --key FILE/,
    );
  });
});

describe('a start on a taken port leaves nothing behind', () => {
  let dir: string;
  let holder: NetServer;
  let takenPort: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-taken-'));
    holder = createNetServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    takenPort = portOf(holder.address());
  });

  after(async () => {
    await new Promise<void>((resolve) => holder.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  const takenMessage = (port: number): string =>
    `keysmith serve: cannot listen on 127.0.0.1:${port}: the address is already in use (another keysmith or another program holds it); stop that program or set KEYSMITH_LISTEN (listen) to a free port. Nothing was created.`;

  it('on a fresh data directory: exits 1 with the reason, and the directory does not exist', async () => {
    const dataDir = join(dir, 'fresh');
    const result = await keysmith(['serve'], { KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LISTEN: `127.0.0.1:${takenPort}` });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.equal(result.stderr.trim(), takenMessage(takenPort));
    assert.equal(result.stdout, '');
    await assert.rejects(readdir(dataDir), { code: 'ENOENT' });
  });

  it('on an existing data directory: exits 1, and the files and the ledger’s rows are as they were', async () => {
    const dataDir = join(dir, 'existing');
    const env = { KEYSMITH_DATA_DIR: dataDir };
    const init = await keysmith(['init'], env);
    assert.equal(init.code, 0, init.stdout + init.stderr);
    const rows = countCertificates(withTestBackend({ ...BASE_ENV, ...env }), join(dataDir, 'keysmith.db'));
    // Listed after counting: reading the ledger makes SQLite's -wal and -shm files.
    const files = (await readdir(dataDir, { recursive: true })).sort();
    const result = await keysmith(['serve'], { ...env, KEYSMITH_LISTEN: `127.0.0.1:${takenPort}` });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.equal(result.stderr.trim(), takenMessage(takenPort));
    assert.deepEqual((await readdir(dataDir, { recursive: true })).sort(), files);
    assert.equal(countCertificates(withTestBackend({ ...BASE_ENV, ...env }), join(dataDir, 'keysmith.db')), rows);
  });
});

describe('a start refused for its configuration or its data directory makes nothing', () => {
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-refused-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a bad setting: exits 78 naming it, and the data directory is not made', async () => {
    const dataDir = join(dir, 'never');
    const result = await keysmith(['serve'], {
      KEYSMITH_DATA_DIR: dataDir,
      KEYSMITH_LISTEN: '127.0.0.1:0',
      KEYSMITH_MTLS_MODE: 'strictest',
    });
    assert.equal(result.code, 78, result.stdout + result.stderr);
    assert.match(result.stderr, /KEYSMITH_MTLS_MODE/);
    await assert.rejects(readdir(dataDir), { code: 'ENOENT' });
  });

  it('a data directory under a file: exits 1 with a sentence naming the path, and nothing is made', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const dataDir = join(file, 'data');
    const result = await keysmith(['serve'], { KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LISTEN: '127.0.0.1:0' });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.equal(
      result.stderr.trim(),
      `keysmith serve: cannot create ${dataDir} (the data directory): a part of that path is a file, not a directory. Set dataDir (KEYSMITH_DATA_DIR) to a directory.`,
    );
    assert.deepEqual(await readdir(dir), ['a-file']);
  });
});

describe('alert credentials never reach the output', () => {
  const PATH_TOKEN = 'pathtoken7f3a9c2e5b';
  const QUERY_TOKEN = 'querytoken4d8e1f6a0c';
  const SIGNING_SECRET = 'signing-secret-9b2c7d4e1f';
  const SMTP_USER = 'smtp-user-6a1e9c';
  const SMTP_PASSWORD = 'smtp-password-3f8d2b7a';
  let dir: string;
  let receiver: HttpServer;
  let server: ThirdPartyProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-secrets-'));
    // A receiver that refuses and echoes what it was asked: the error detail must not carry the URL's tokens.
    receiver = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`refused ${req.url ?? ''}`);
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    if (server !== undefined && !server.hasExited) await server.kill();
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('a webhook URL with tokens in its path and query and SMTP credentials appear in neither stdout nor stderr', async () => {
    const webhookUrl = `http://127.0.0.1:${portOf(receiver.address())}/hooks/${PATH_TOKEN}?token=${QUERY_TOKEN}`;
    const started = await startServe({
      KEYSMITH_DATA_DIR: join(dir, 'data'),
      KEYSMITH_LOG_LEVEL: 'debug',
      KEYSMITH_ALERTS_THRESHOLDS: '15s',
      KEYSMITH_ALERTS_WEBHOOK_URL: webhookUrl,
      KEYSMITH_ALERTS_WEBHOOK_SECRET: SIGNING_SECRET,
      KEYSMITH_ALERTS_SMTP_HOST: '127.0.0.1',
      KEYSMITH_ALERTS_SMTP_PORT: String(await freePort()),
      KEYSMITH_ALERTS_SMTP_USER: SMTP_USER,
      KEYSMITH_ALERTS_SMTP_PASSWORD: SMTP_PASSWORD,
      KEYSMITH_ALERTS_MAIL_FROM: 'keysmith@example.test',
      KEYSMITH_ALERTS_MAIL_TO: 'ops@example.test',
    });
    server = started.child;
    // A certificate that lives 20 s is inside a 15 s threshold 5 s after its issue; the run is asked of serve itself.
    const issued = await keysmith(['issue', '--dns', 'soon.example.test', '--ttl', '20s', '--out', join(dir, 'soon')], {
      KEYSMITH_DATA_DIR: join(dir, 'data'),
    });
    assert.equal(issued.code, 0, issued.stdout + issued.stderr);
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    const data = join(dir, 'data');
    const run = await runProcess(
      'curl',
      [
        '--silent',
        '--show-error',
        '--max-time',
        '20',
        '--cert',
        join(data, 'admin', 'cert.pem'),
        '--key',
        join(data, 'admin', 'key.pem'),
        '--cacert',
        join(data, 'bundle.pem'),
        '--request',
        'POST',
        `https://127.0.0.1:${started.port}/v1/alerts/run`,
      ],
      { lifetimeMs: 30_000 },
    );
    assert.equal(run.code, 0, run.stderr);
    await server.waitFor(/expiry alert webhook delivery failed/, { stream: 'stdout', timeoutMs: 30_000 });
    await server.waitFor(/expiry alert mail delivery failed/, { stream: 'stdout', timeoutMs: 30_000 });
    await stopServe(server);
    assertStdoutIsJsonLog(server);
    for (const secret of [PATH_TOKEN, QUERY_TOKEN, SIGNING_SECRET, SMTP_USER, SMTP_PASSWORD]) {
      assert.equal(server.output.includes(secret), false, `${secret} appears in the output:\n${server.describeOutput()}`);
    }
    // The failure itself is logged, with the webhook named by scheme and host only.
    assert.match(server.stdout, new RegExp(`"recipient":"http://127\\.0\\.0\\.1:${portOf(receiver.address())}/\\.\\.\\."`));
  });
});

describe('KEYSMITH_TLS_MIN_VERSION: the listener speaks TLS 1.2 to clients without TLS 1.3 unless it is 1.3', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: ThirdPartyProcess | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-tls12-'));
    env = { KEYSMITH_DATA_DIR: join(dir, 'data'), KEYSMITH_MTLS_MODE: 'strict' };
  });

  after(async () => {
    if (server !== undefined && !server.hasExited) await server.kill();
    await rm(dir, { recursive: true, force: true });
  });

  /** curl --tls-max 1.2 with the admin identity to /healthz: exit code, HTTP status and the TLS version curl reports. */
  async function curlTls12(port: number): Promise<{ code: number | null; status: string; stderr: string }> {
    const data = join(dir, 'data');
    const result = await runProcess(
      'curl',
      [
        '--silent',
        '--show-error',
        '--verbose',
        '--max-time',
        '10',
        '--tlsv1.2',
        '--tls-max',
        '1.2',
        '--cert',
        join(data, 'admin', 'cert.pem'),
        '--key',
        join(data, 'admin', 'key.pem'),
        '--cacert',
        join(data, 'bundle.pem'),
        '--write-out',
        '%{http_code}',
        '--output',
        '/dev/null',
        `https://127.0.0.1:${port}/healthz`,
      ],
      { lifetimeMs: 20_000 },
    );
    return { code: result.code, status: result.stdout, stderr: result.stderr };
  }

  it('by default (1.2) serves curl --tls-max 1.2 with a client certificate over TLS 1.2', async () => {
    const started = await startServe(env);
    server = started.child;
    const result = await curlTls12(started.port);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.status, '200');
    assert.match(result.stderr, /SSL connection using TLSv1\.2 \/ ECDHE-ECDSA-AES128-GCM-SHA256/);
    await stopServe(server);
  });

  it('with KEYSMITH_TLS_MIN_VERSION=1.3 refuses the same client with protocol_version', async () => {
    const started = await startServe({ ...env, KEYSMITH_TLS_MIN_VERSION: '1.3' });
    server = started.child;
    const result = await curlTls12(started.port);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /alert protocol version/i);
    await stopServe(server);
  });
});
