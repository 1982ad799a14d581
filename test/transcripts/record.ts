/**
 * Records test/transcripts/*.json: our engine against real peers, every
 * byte each side sent, with the provider script (randomness, ephemeral
 * keys, signatures) and the fixed clock, so CI replays them with no peer
 * installed (test/unit/tls/replay/transcripts.test.ts). See README.md here.
 *
 *   npx tsc -p tsconfig.json && node dist/test/transcripts/record.js [name-filter]
 *
 * TLS 1.2 rows: rows-tls12.ts (filter `tls12`). Needs openssl and gnutls-cli; the Go rows need `go` (apt-get install golang-go).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nodeTls from 'node:tls';
import { fixture } from '../fakes/tls-fixtures.js';
import { FIXTURES, fx, recordOurClient, recordOurServer, runPeer, save, versionOf, withNodeServer, withSServer } from './recorder.js';
import { TLS12_ROWS } from './rows-tls12.js';

const S_CLIENT = ['-tls1_3', '-servername', 'localhost', '-verify_return_error', '-CAfile', fx('ca.pem'), '-ign_eof'];
const S_CLIENT_CERT = ['-cert', fx('client.pem'), '-key', fx('client.key'), '-cert_chain', fx('intermediate.pem')];

async function opensslClient(): Promise<void> {
  const peer = versionOf('openssl', ['version']);
  const line = 'hello from openssl s_client\n';
  const session = join(mkdtempSync(join(tmpdir(), 'keysmith-rec-')), 'session.pem');
  for (const { name, setup, extra } of [
    { name: 'server-openssl-full', setup: {}, extra: ['-sess_out', session] },
    { name: 'server-openssl-resumed', setup: {}, extra: ['-sess_in', session] },
    { name: 'server-openssl-client-cert', setup: { clientAuth: 'require' as const }, extra: S_CLIENT_CERT },
  ]) {
    const rec = await recordOurServer(setup);
    const args = ['s_client', '-connect', `127.0.0.1:${rec.port}`, ...S_CLIENT, ...extra];
    await runPeer('openssl', args, line);
    const [t] = await rec.take(1);
    rec.close();
    if (t !== undefined) save(name, peer, `openssl ${args.join(' ').replaceAll(FIXTURES, 'test/fixtures')}`, t);
  }
}

/** s_client offering X25519 but sending its share for P-384 first: our server asks for X25519 with a HelloRetryRequest and cookie. */
async function opensslRetry(): Promise<void> {
  const peer = versionOf('openssl', ['version']);
  const rec = await recordOurServer({});
  const args = ['s_client', '-connect', `127.0.0.1:${rec.port}`, ...S_CLIENT, '-groups', 'P-384:X25519'];
  await runPeer('openssl', args, 'hello after a retry\n');
  const [t] = await rec.take(1);
  rec.close();
  if (t !== undefined) save('server-openssl-hello-retry', peer, `openssl ${args.join(' ').replaceAll(FIXTURES, 'test/fixtures')}`, t);
}

async function gnutlsClient(): Promise<void> {
  const peer = versionOf('gnutls-cli', ['--version']);
  const line = 'hello from gnutls-cli\n';
  for (const { name, setup, extra } of [
    { name: 'server-gnutls-full', setup: {}, extra: [] as string[] },
    {
      name: 'server-gnutls-client-cert',
      setup: { clientAuth: 'require' as const },
      extra: ['--x509certfile', fx('client-chain.pem'), '--x509keyfile', fx('client.key')],
    },
  ]) {
    const rec = await recordOurServer(setup);
    const args = [
      '--x509cafile',
      fx('ca.pem'),
      '--sni-hostname',
      'localhost',
      '--verify-hostname',
      'localhost',
      '-p',
      String(rec.port),
      ...extra,
      '127.0.0.1',
    ];
    await runPeer('gnutls-cli', args, line, line);
    const [t] = await rec.take(1);
    rec.close();
    if (t !== undefined) save(name, peer, `gnutls-cli ${args.join(' ').replaceAll(FIXTURES, 'test/fixtures')}`, t);
  }
}

/** node:tls in this process as the client: full, then resumed with the ticket it got, then with a client certificate. */
async function nodeClient(): Promise<void> {
  const peer = `node ${process.version} tls.connect (OpenSSL ${process.versions.openssl})`;
  let session: Buffer | undefined;
  for (const { name, setup, resume, cert } of [
    { name: 'server-node-full', setup: {}, resume: false, cert: false },
    { name: 'server-node-resumed', setup: {}, resume: true, cert: false },
    { name: 'server-node-client-cert', setup: { clientAuth: 'require' as const }, resume: false, cert: true },
  ]) {
    const rec = await recordOurServer(setup);
    await new Promise<void>((resolve) => {
      const socket = nodeTls.connect({
        host: '127.0.0.1',
        port: rec.port,
        servername: 'localhost',
        ca: fixture('ca.pem'),
        minVersion: 'TLSv1.3',
        ...(resume && session !== undefined ? { session } : {}),
        ...(cert ? { key: fixture('client.key'), cert: fixture('client-chain.pem') } : {}),
      });
      socket.on('session', (s: Buffer) => {
        if (!resume) session = s;
      });
      socket.once('secureConnect', () => socket.write('hello from node tls.connect\n'));
      socket.on('data', () => socket.end());
      socket.on('error', () => resolve());
      socket.once('close', () => resolve());
    });
    const [t] = await rec.take(1);
    rec.close();
    if (t !== undefined)
      save(
        name,
        peer,
        `tls.connect({ servername: 'localhost', ca, minVersion: 'TLSv1.3'${resume ? ', session' : ''}${cert ? ', key, cert' : ''} })`,
        t,
      );
  }
}

/** The Go client (test/transcripts/go-client): two connections, the second resuming the first's ticket; -cert: a client certificate. */
async function goClient(): Promise<void> {
  const version = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (version.status !== 0) {
    process.stdout.write('go not installed: Go transcripts skipped\n');
    return;
  }
  const dir = join(process.cwd(), 'test', 'transcripts', 'go-client');
  const binary = join(mkdtempSync(join(tmpdir(), 'keysmith-go-')), 'go-client');
  const build = spawnSync('go', ['build', '-o', binary, '.'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod', GOCACHE: join(tmpdir(), 'keysmith-go-cache') },
  });
  if (build.status !== 0) throw new Error(`go build failed: ${build.stderr}`);
  const peer = `${version.stdout.trim()} crypto/tls client`;
  for (const { names, setup, extra } of [
    { names: ['server-go-full', 'server-go-resumed'], setup: {}, extra: [] as string[] },
    {
      names: ['server-go-client-cert'],
      setup: { clientAuth: 'require' as const },
      extra: ['-cert', fx('client-chain.pem'), '-key', fx('client.key'), '-once'],
    },
  ]) {
    const rec = await recordOurServer(setup);
    const args = ['-addr', `127.0.0.1:${rec.port}`, '-ca', fx('ca.pem'), ...extra];
    const output = await runPeer(binary, args, '');
    const ts = await rec.take(names.length);
    rec.close();
    names.forEach((name, i) => {
      const t = ts[i];
      if (t === undefined) throw new Error(`${name}: no transcript; go client said: ${output}`);
      save(name, peer, `go-client ${args.join(' ').replaceAll(FIXTURES, 'test/fixtures')}`, t);
    });
  }
}
async function opensslServer(): Promise<void> {
  const peer = versionOf('openssl', ['version']);
  await withSServer('-tls1_3', 3, async (port, command) => {
    const full = await recordOurClient(port, { clientCert: true });
    save('client-openssl-full', peer, command, full.transcript);
    if (full.session !== undefined) {
      const resumed = await recordOurClient(port, { clientCert: true, session: full.session });
      save('client-openssl-resumed', peer, command, resumed.transcript);
    }
  });
}

async function nodeServer(): Promise<void> {
  await withNodeServer({ minVersion: 'TLSv1.3' }, async (peer, port, command) => {
    const full = await recordOurClient(port, { clientCert: true });
    save('client-node-full', peer, command, full.transcript);
  });
}

const filter = process.argv[2] ?? '';
const rows: [string, () => Promise<void>][] = [
  ['openssl-client', opensslClient],
  ['openssl-retry', opensslRetry],
  ['gnutls-client', gnutlsClient],
  ['node-client', nodeClient],
  ['go-client', goClient],
  ['openssl-server', opensslServer],
  ['node-server', nodeServer],
  ...TLS12_ROWS,
];
for (const [name, run] of rows) {
  if (!name.includes(filter)) continue;
  await run();
}
