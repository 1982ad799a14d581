import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPublicKey, X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { hasCommand, listeningPort, runProcess, startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import { withTestBackend } from '../helpers/test-backend.js';

/**
 * `keysmith issue --p12` as an operator runs it to get an admin identity
 * into a browser: the built CLI in a child process on a fresh data
 * directory, the file checked with openssl and used against `keysmith serve`
 * by curl and by node:tls (what playwright's clientCertificates load).
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const ADMIN_ID = 'spiffe://keysmith.local/admin/alice';
const PASSPHRASE = 'tr0ub4dor & 3';

let work: string;
let dataDir: string;
let env: NodeJS.ProcessEnv;
let server: ThirdPartyProcess | undefined;

function keysmith(args: readonly string[], stdin?: string) {
  return runProcess(process.execPath, [MAIN, ...args], { env, lifetimeMs: 60_000, ...(stdin === undefined ? {} : { stdin }) });
}

async function certificateCount(): Promise<number> {
  const listed = await keysmith(['certs', 'list', '--all', '--json']);
  assert.equal(listed.code, 0, listed.stderr);
  const document = JSON.parse(listed.stdout) as { certificates: unknown[] };
  return document.certificates.length;
}

async function passFile(name: string, contents: string): Promise<string> {
  const path = join(work, name);
  await writeFile(path, contents);
  return path;
}

function spki(pem: string): string {
  return createPublicKey(pem).export({ type: 'spki', format: 'der' }).toString('hex');
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'keysmith-p12-'));
  dataDir = join(work, 'data');
  env = { PATH: process.env['PATH'], HOME: process.env['HOME'], KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LOG_LEVEL: 'warn' };
  const init = await keysmith(['init']);
  assert.equal(init.code, 0, init.stderr);
});

after(async () => {
  if (server !== undefined && !server.hasExited) await server.kill();
  await rm(work, { recursive: true, force: true });
});

describe('keysmith issue --p12', () => {
  let p12: string;

  it('writes the admin identity as a 0600 PKCS#12 file that openssl opens with the passphrase file, and says so in --json', async () => {
    const pass = await passFile('pass.txt', `${PASSPHRASE}\nsecond line ignored\n`);
    const dir = join(work, 'identities');
    await mkdir(dir);
    p12 = join(dir, 'alice.p12');
    const issued = await keysmith([
      'issue',
      '--spiffe-id',
      ADMIN_ID,
      '--ttl',
      '12h',
      '--p12',
      p12,
      '--p12-passphrase-file',
      pass,
      '--json',
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const document = JSON.parse(issued.stdout) as { certificates: { serial: string; spiffe_id: string }[]; p12_file: string };
    assert.equal(document.p12_file, p12);
    assert.equal(document.certificates[0]?.spiffe_id, ADMIN_ID);
    assert.ok(!('cert_file' in document) && !('key_file' in document), issued.stdout);
    assert.ok(!issued.stdout.includes(PASSPHRASE) && !issued.stderr.includes(PASSPHRASE));

    assert.equal((await stat(p12)).mode & 0o777, 0o600);
    assert.deepEqual(await readdir(dir), ['alice.p12']); // the temporary file was renamed, nothing else left

    const info = await runProcess('openssl', ['pkcs12', '-in', p12, '-passin', `file:${pass}`, '-nodes']);
    assert.equal(info.code, 0, info.stderr);
    const certificates = [...info.stdout.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map(
      (m) => new X509Certificate(m[0]),
    );
    const intermediate = new X509Certificate(await readFile(join(dataDir, 'ca', 'intermediate.cert.pem')));
    const root = new X509Certificate(await readFile(join(dataDir, 'ca', 'root.cert.pem')));
    // The leaf, then the chain below the root: the intermediate, never the root.
    assert.equal(certificates.length, 2);
    assert.equal(certificates[0]?.serialNumber.toLowerCase().replace(/^0+/, ''), document.certificates[0]?.serial.replace(/^0+/, ''));
    assert.equal(certificates[0]?.subjectAltName, `URI:${ADMIN_ID}`);
    assert.equal(certificates[1]?.fingerprint256, intermediate.fingerprint256);
    assert.ok(certificates.every((c) => c.fingerprint256 !== root.fingerprint256));
    const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(info.stdout)?.[0] ?? '';
    assert.equal(spki(key), certificates[0]?.publicKey.export({ type: 'spki', format: 'der' }).toString('hex'));
    assert.match(info.stdout, new RegExp(`friendlyName: ${ADMIN_ID.replaceAll('.', '\\.')}\n`));

    const wrong = await runProcess('openssl', [
      'pkcs12',
      '-in',
      p12,
      '-passin',
      `file:${await passFile('wrong.txt', 'tr0ub4dor\n')}`,
      '-noout',
    ]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Mac verify error/);
  });

  it('writes cert.pem and key.pem too when --out is given beside --p12', async () => {
    const out = join(work, 'both');
    const both = join(work, 'both.p12');
    const pass = await passFile('both.txt', `${PASSPHRASE}\r\n`);
    const issued = await keysmith([
      'issue',
      '--spiffe-id',
      'spiffe://keysmith.local/admin/both',
      '--out',
      out,
      '--p12',
      both,
      '--p12-passphrase-file',
      pass,
      '--json',
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const document = JSON.parse(issued.stdout) as { cert_file: string; key_file: string; p12_file: string };
    assert.deepEqual([document.cert_file, document.key_file, document.p12_file], [join(out, 'cert.pem'), join(out, 'key.pem'), both]);
    // A CRLF file's passphrase is the line without its CR.
    const info = await runProcess('openssl', ['pkcs12', '-in', both, '-passin', `pass:${PASSPHRASE}`, '-nodes']);
    assert.equal(info.code, 0, info.stderr);
    const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(info.stdout)?.[0] ?? '';
    assert.equal(spki(key), spki(await readFile(join(out, 'key.pem'), 'utf8')));
  });

  it('refuses an empty passphrase file, a missing one, and no file without a terminal, before issuing anything (exit 2)', async () => {
    const before = await certificateCount();
    const target = join(work, 'refused.p12');
    const cases: readonly { args: string[]; message: RegExp }[] = [
      {
        args: ['--p12-passphrase-file', await passFile('empty.txt', '')],
        message: /the first line of \S+empty\.txt is empty: a PKCS#12 file needs a passphrase/,
      },
      {
        args: ['--p12-passphrase-file', await passFile('blank.txt', '\nsecret on line two\n')],
        message: /the first line of \S+blank\.txt is empty/,
      },
      {
        args: ['--p12-passphrase-file', join(work, 'absent.txt')],
        message: /--p12-passphrase-file: cannot read \S+absent\.txt \(ENOENT\)/,
      },
      { args: [], message: /--p12 needs --p12-passphrase-file FILE when stdin is not a terminal to ask on/ },
    ];
    for (const { args, message } of cases) {
      const refused = await keysmith(
        ['issue', '--spiffe-id', 'spiffe://keysmith.local/admin/refused', '--p12', target, ...args],
        'typed\ntyped\n',
      );
      assert.equal(refused.code, 2, refused.stdout + refused.stderr);
      assert.match(refused.stderr, message);
      assert.match(refused.stderr, /\nusage: keysmith issue /);
    }
    const alone = await keysmith([
      'issue',
      '--spiffe-id',
      'spiffe://keysmith.local/admin/refused',
      '--out',
      join(work, 'x'),
      '--p12-passphrase-file',
      join(work, 'pass.txt'),
    ]);
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--p12-passphrase-file goes with --p12 FILE/);
    const neither = await keysmith(['issue', '--spiffe-id', 'spiffe://keysmith.local/admin/refused']);
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /give --out DIR, --p12 FILE, or both/);
    await assert.rejects(stat(target), { code: 'ENOENT' });
    assert.equal(await certificateCount(), before);
  });
});

describe('keysmith issue --p12 on a terminal', { skip: !hasCommand('script') && 'script(1) is not installed (util-linux)' }, () => {
  /** keysmith under script(1), which gives it a pseudo-terminal; what we write to script's stdin is what the operator types. */
  async function onTerminal(spiffeId: string, target: string, answers: readonly string[]) {
    const command = [process.execPath, MAIN, 'issue', '--spiffe-id', spiffeId, '--p12', target].map((a) => `'${a}'`).join(' ');
    const child = startProcess('script', ['-qefc', command, '/dev/null'], { env: withTestBackend(env), lifetimeMs: 60_000 });
    const prompts = [/PKCS#12 passphrase: /, /PKCS#12 passphrase again: /];
    for (const [index, answer] of answers.entries()) {
      await child.waitFor(prompts[index] ?? /$^/, { timeoutMs: 30_000, from: index === 0 ? 0 : child.offset() });
      await child.write(`${answer}\r`);
    }
    return child.waitForExit(60_000);
  }

  it('asks twice without echo and writes a file that opens with the typed passphrase', async () => {
    const target = join(work, 'typed.p12');
    const result = await onTerminal('spiffe://keysmith.local/admin/typed', target, ['typed sekrit', 'typed sekrit']);
    assert.equal(result.code, 0, result.stdout);
    assert.ok(!result.stdout.includes('sekrit'), `the terminal echoed the passphrase:\n${result.stdout}`);
    assert.equal((await stat(target)).mode & 0o777, 0o600);
    const info = await runProcess('openssl', ['pkcs12', '-in', target, '-passin', 'pass:typed sekrit', '-noout']);
    assert.equal(info.code, 0, info.stderr);
  });

  it('refuses two answers that differ, and an empty answer (exit 2, no file)', async () => {
    const target = join(work, 'mistyped.p12');
    const differ = await onTerminal('spiffe://keysmith.local/admin/mistyped', target, ['one thing', 'another']);
    assert.equal(differ.code, 2, differ.stdout);
    assert.match(differ.stdout, /the two PKCS#12 passphrases differ/);
    const empty = await onTerminal('spiffe://keysmith.local/admin/mistyped', target, ['']);
    assert.equal(empty.code, 2, empty.stdout);
    assert.match(empty.stdout, /the PKCS#12 passphrase is empty/);
    await assert.rejects(stat(target), { code: 'ENOENT' });
  });
});

describe('the PKCS#12 identity against keysmith serve', () => {
  let port: number;

  before(async () => {
    server = startProcess(process.execPath, [MAIN, 'serve'], { env: { ...env, KEYSMITH_LISTEN: '127.0.0.1:0' }, lifetimeMs: 120_000 });
    await server.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, { timeoutMs: 30_000, stream: 'both' });
    port = listeningPort(server.output);
  });

  function curl(args: readonly string[]) {
    return runProcess(
      'curl',
      ['--silent', '--show-error', '--max-time', '10', '--write-out', '\n%{http_code}', '--cacert', join(dataDir, 'bundle.pem'), ...args],
      {
        lifetimeMs: 20_000,
      },
    );
  }

  it('lists certificates for curl presenting the admin p12 (--cert-type P12), and refuses a workload p12 (403) and no certificate (401)', async () => {
    const url = `https://127.0.0.1:${port}/v1/certificates?limit=1`;
    const admin = await curl(['--cert-type', 'P12', '--cert', `${join(work, 'identities', 'alice.p12')}:${PASSPHRASE}`, url]);
    assert.equal(admin.stdout.trim().split('\n').pop(), '200', admin.stdout + admin.stderr);

    const workloadP12 = join(work, 'web.p12');
    const issued = await keysmith([
      'issue',
      '--spiffe-id',
      'spiffe://keysmith.local/svc/web',
      '--p12',
      workloadP12,
      '--p12-passphrase-file',
      join(work, 'pass.txt'),
    ]);
    assert.equal(issued.code, 0, issued.stderr);
    const workload = await curl(['--cert-type', 'P12', '--cert', `${workloadP12}:${PASSPHRASE}`, url]);
    assert.equal(workload.stdout.trim().split('\n').pop(), '403', workload.stdout);

    const anonymous = await curl([url]);
    assert.equal(anonymous.stdout.trim().split('\n').pop(), '401', anonymous.stdout);
  });

  it('lists certificates for node:tls presenting the p12 as pfx (what playwright-core loads)', async () => {
    const pfx = await readFile(join(work, 'identities', 'alice.p12'));
    const ca = await readFile(join(dataDir, 'bundle.pem'));
    const status = await new Promise<number | undefined>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/v1/certificates?limit=1',
          pfx,
          passphrase: PASSPHRASE,
          ca,
          servername: 'localhost',
          timeout: 10_000,
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        },
      );
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
  });
});
