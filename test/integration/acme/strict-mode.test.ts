import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { startServer, type RunningServer } from '../../../src/cli/serve.js';
import { loadConfig } from '../../../src/config/index.js';
import { connect } from '../../../src/tls/index.js';
import { freePort } from '../../helpers/processes.js';

/**
 * ACME under `mtlsMode: strict` (DESIGN, Transport): the engine demands a
 * client certificate at the handshake for every connection, ACME included;
 * an ACME client that presents one is served as usual.
 */

interface Identity {
  readonly key: string;
  readonly cert: string;
}

/** One HTTP/1.1 GET over keysmith's own TLS client; resolves with the status line and body, rejects on a TLS alert. */
function get(port: number, ca: string, path: string, identity: Identity | undefined): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', ca, ALPNProtocols: ['http/1.1'], ...(identity ?? {}) });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`GET ${path} timed out`)), 10_000);
    socket.on('secure', () => socket.write(`GET ${path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('end', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('utf8');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

describe('ACME in strict mTLS mode', () => {
  let dir: string;
  let core: Core;
  let server: RunningServer & { readonly port: number };
  let admin: Identity;
  let bundle: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keysmith-acme-strict-'));
    const config = loadConfig({
      env: {
        KEYSMITH_DATA_DIR: join(dir, 'data'),
        KEYSMITH_LISTEN: `127.0.0.1:${await freePort()}`,
        KEYSMITH_LOG_LEVEL: 'silent',
        KEYSMITH_ALERTS_SCHEDULE: 'off',
        KEYSMITH_MTLS_MODE: 'strict',
        KEYSMITH_ACME_ALLOWED_SUFFIXES: 'example.test',
      },
    });
    core = await openCore(config);
    server = await startServer(core);
    admin = { key: await readFile(core.paths.adminKey, 'utf8'), cert: await readFile(core.paths.adminCert, 'utf8') };
    bundle = core.authority.bundlePem();
  });

  after(async () => {
    await server.close(1_000);
    await core.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a client without a certificate at the handshake', async () => {
    await assert.rejects(get(server.port, bundle, '/acme/directory', undefined), /certificate_required: peer sent certificate_required/);
  });

  it('serves the directory to a client that presents a certificate', async () => {
    const reply = await get(server.port, bundle, '/acme/directory', admin);
    assert.equal(reply.status, 200);
    const directory = JSON.parse(reply.body) as Record<string, unknown>;
    assert.equal(typeof directory['newAccount'], 'string');
    assert.match(String(directory['newNonce']), /\/acme\/new-nonce$/);
  });
});
