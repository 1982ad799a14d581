/**
 * The TLS 1.2 rows of record.ts: our server against `openssl s_client
 * -tls1_2`, `gnutls-cli` held to TLS 1.2 and node's tls.connect with
 * maxVersion TLSv1.2; our client (TLS 1.2 alone, or both versions offered
 * to a server that has only 1.2) against `openssl s_server -tls1_2` and
 * node's tls.createServer with maxVersion TLSv1.2. See README.md here.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as nodeTls from 'node:tls';
import type { TranscriptSetup } from '../helpers/fixed-provider-transcript.js';
import { fixture } from '../fakes/tls-fixtures.js';
import { FIXTURES, fx, recordOurClient, recordOurServer, runPeer, save, versionOf, withNodeServer, withSServer } from './recorder.js';

const S_CLIENT_12 = ['-tls1_2', '-servername', 'localhost', '-verify_return_error', '-CAfile', fx('ca.pem'), '-ign_eof'];
const S_CLIENT_CERT = ['-cert', fx('client.pem'), '-key', fx('client.key'), '-cert_chain', fx('intermediate.pem')];
/** Our client held to TLS 1.2. */
const ONLY_TLS12: TranscriptSetup = { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' };

const relative = (text: string): string => text.replaceAll(FIXTURES, 'test/fixtures');

function run(command: string, args: readonly string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
}

/**
 * A real OCSP response for the fixture server certificate ("good", signed by
 * the test intermediate with `openssl ocsp`), so s_client -status parses the
 * staple; the hex goes into the transcript's setup, so the replay needs no openssl.
 */
function ocspStapleForServer(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keysmith-ocsp-'));
  const serial = spawnSync('openssl', ['x509', '-in', fx('server.pem'), '-noout', '-serial'], { encoding: 'utf8' }).stdout.trim();
  const notAfter = spawnSync('openssl', ['x509', '-in', fx('server.pem'), '-noout', '-enddate'], { encoding: 'utf8' }).stdout.trim();
  const expiry = new Date(notAfter.replace('notAfter=', '')).toISOString().replace(/[-:T]/g, '').slice(0, 14);
  writeFileSync(join(dir, 'index.txt'), `V\t${expiry}Z\t\t${serial.replace('serial=', '')}\tunknown\t/CN=localhost\n`);
  run('openssl', ['ocsp', '-issuer', fx('intermediate.pem'), '-cert', fx('server.pem'), '-reqout', 'req.der', '-no_nonce'], dir);
  run(
    'openssl',
    [
      'ocsp',
      '-index',
      'index.txt',
      '-rsigner',
      fx('intermediate.pem'),
      '-rkey',
      fx('intermediate.key'),
      '-CA',
      fx('intermediate.pem'),
      '-reqin',
      'req.der',
      '-respout',
      'resp.der',
      '-ndays',
      '7',
    ],
    dir,
  );
  return readFileSync(join(dir, 'resp.der')).toString('hex');
}

/** Our server (TLS 1.3 capable, so ServerHello.random carries the downgrade sentinel) against s_client -tls1_2. */
async function opensslClient12(): Promise<void> {
  const peer = versionOf('openssl', ['version']);
  const line = 'hello from openssl s_client -tls1_2\n';
  const session = join(mkdtempSync(join(tmpdir(), 'keysmith-rec-')), 'session.pem');
  const rows: { name: string; setup: TranscriptSetup; extra: string[] }[] = [
    { name: 'server-openssl-tls12-full', setup: {}, extra: ['-sess_out', session] },
    { name: 'server-openssl-tls12-resumed', setup: {}, extra: ['-sess_in', session] },
    { name: 'server-openssl-tls12-client-cert', setup: { clientAuth: 'require' }, extra: S_CLIENT_CERT },
    {
      name: 'server-openssl-tls12-rsa-aes256',
      setup: { serverKey: 'rsa' },
      extra: ['-cipher', 'ECDHE-RSA-AES256-GCM-SHA384', '-groups', 'P-384'],
    },
    { name: 'server-openssl-tls12-chacha20', setup: {}, extra: ['-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305', '-groups', 'P-256'] },
    { name: 'server-openssl-tls12-ocsp-staple', setup: { ocspStaple: ocspStapleForServer() }, extra: ['-status'] },
  ];
  for (const { name, setup, extra } of rows) {
    const rec = await recordOurServer(setup);
    const args = ['s_client', '-connect', `127.0.0.1:${rec.port}`, ...S_CLIENT_12, ...extra];
    const output = await runPeer('openssl', args, line);
    const [t] = await rec.take(1);
    rec.close();
    if (name.endsWith('ocsp-staple') && !output.includes('Cert Status: good')) throw new Error(`${name}: s_client saw no staple`);
    if (t !== undefined) save(name, peer, `openssl ${relative(args.join(' ')).replace(session, 'session.pem')}`, t);
  }
}

async function gnutlsClient12(): Promise<void> {
  const peer = versionOf('gnutls-cli', ['--version']);
  const line = 'hello from gnutls-cli over TLS 1.2\n';
  for (const { name, setup, extra } of [
    { name: 'server-gnutls-tls12-full', setup: {}, extra: [] as string[] },
    {
      name: 'server-gnutls-tls12-client-cert',
      setup: { clientAuth: 'require' as const },
      extra: ['--x509certfile', fx('client-chain.pem'), '--x509keyfile', fx('client.key')],
    },
  ]) {
    const rec = await recordOurServer(setup);
    const args = [
      '--priority',
      'NORMAL:-VERS-ALL:+VERS-TLS1.2',
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
    if (t !== undefined) save(name, peer, `gnutls-cli ${relative(args.join(' '))}`, t);
  }
}

/** node:tls held to TLS 1.2: full, then resumed with the RFC 5077 ticket it got. */
async function nodeClient12(): Promise<void> {
  const peer = `node ${process.version} tls.connect (OpenSSL ${process.versions.openssl})`;
  let session: Buffer | undefined;
  for (const { name, resume } of [
    { name: 'server-node-tls12-full', resume: false },
    { name: 'server-node-tls12-resumed', resume: true },
  ]) {
    const rec = await recordOurServer({});
    await new Promise<void>((resolve) => {
      const socket = nodeTls.connect({
        host: '127.0.0.1',
        port: rec.port,
        servername: 'localhost',
        ca: fixture('ca.pem'),
        maxVersion: 'TLSv1.2',
        ...(resume && session !== undefined ? { session } : {}),
      });
      socket.on('session', (s: Buffer) => {
        if (!resume) session = s;
      });
      socket.once('secureConnect', () => socket.write('hello from node tls.connect over TLS 1.2\n'));
      socket.on('data', () => socket.end());
      socket.on('error', () => resolve());
      socket.once('close', () => resolve());
    });
    const [t] = await rec.take(1);
    rec.close();
    if (t !== undefined)
      save(name, peer, `tls.connect({ servername: 'localhost', ca, maxVersion: 'TLSv1.2'${resume ? ', session' : ''} })`, t);
  }
}

/** Our client against s_server -tls1_2 -verify: TLS 1.2 alone (full, then resumed), then offering both versions. */
async function opensslServer12(): Promise<void> {
  const peer = versionOf('openssl', ['version']);
  await withSServer('-tls1_2', 3, async (port, command) => {
    const full = await recordOurClient(port, { ...ONLY_TLS12, clientCert: true });
    save('client-openssl-tls12-full', peer, command, full.transcript);
    if (full.session === undefined) throw new Error('s_server -tls1_2 sent no ticket');
    const resumed = await recordOurClient(port, { ...ONLY_TLS12, clientCert: true, session: full.session });
    save('client-openssl-tls12-resumed', peer, command, resumed.transcript);
    const both = await recordOurClient(port, { minVersion: 'TLSv1.2', clientCert: true });
    save('client-openssl-tls12-both-offered', peer, command, both.transcript);
  });
}

/** Our client against node's tls.createServer held to TLS 1.2, with a client certificate: full, then resumed. */
async function nodeServer12(): Promise<void> {
  await withNodeServer({ maxVersion: 'TLSv1.2' }, async (peer, port, command) => {
    const full = await recordOurClient(port, { ...ONLY_TLS12, clientCert: true });
    save('client-node-tls12-full', peer, command, full.transcript);
    if (full.session === undefined) throw new Error('node sent no TLS 1.2 ticket');
    const resumed = await recordOurClient(port, { ...ONLY_TLS12, clientCert: true, session: full.session });
    save('client-node-tls12-resumed', peer, command, resumed.transcript);
  });
}

/** Row names for record.ts's filter: `node dist/test/transcripts/record.js tls12` records these alone. */
export const TLS12_ROWS: [string, () => Promise<void>][] = [
  ['openssl-client-tls12', opensslClient12],
  ['gnutls-client-tls12', gnutlsClient12],
  ['node-client-tls12', nodeClient12],
  ['openssl-server-tls12', opensslServer12],
  ['node-server-tls12', nodeServer12],
];
