import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openCore } from '../../src/cli/compose.js';
import { issueIdentity } from '../../src/cli/identities.js';
import { loadConfig } from '../../src/config/index.js';
import { listeningPort, runProcess, startProcess } from '../helpers/processes.js';
import { EngineAgent, openssl } from '../helpers/engine-client.js';
import { psql, withTestBackend } from '../helpers/test-backend.js';

/**
 * `keysmith serve` SIGKILLed while 64 keep-alive mTLS clients ask for
 * X.509-SVIDs as fast as it answers (on SQLite the group commit's batches
 * are in the commit worker's thread when the kill comes): every SVID a
 * client received (a 200 with its chain) is in the ledger afterwards, and
 * the SQLite file is sound. Bounded: the burst stops at the kill, after
 * KILL_AFTER SVIDs or 20 s.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const TD = 'keysmith.local';
const NODE_ID = `spiffe://${TD}/node/crash`;
const WORKLOAD_ID = `spiffe://${TD}/svc/crash`;
const CLIENTS = 64;
const KILL_AFTER = 800;
const BURST_LIMIT_MS = 20_000;

interface Identity {
  readonly key: string;
  readonly chain: string;
}

/** One SVID request on a kept-alive connection; the serial of the leaf on a 200, undefined on anything else. */
function askForSvid(agent: EngineAgent, port: number, body: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) };
    // Bounded; a timer of its own (req.setTimeout would add a listener to the kept-alive socket per request).
    let timer: NodeJS.Timeout | undefined;
    const settle = (serial: string | undefined): void => {
      clearTimeout(timer);
      resolve(serial);
    };
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/svid/x509', headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', () => settle(undefined));
      res.on('end', () => {
        if (res.statusCode !== 200) return settle(undefined);
        const chain = String((JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>)['cert_chain']);
        // The ledger keeps serials as lowercase hex (keysmith's never start with a zero octet: src/x509/serial.ts).
        settle(new X509Certificate(chain).serialNumber.toLowerCase());
      });
    });
    timer = setTimeout(() => req.destroy(), 10_000);
    req.on('error', () => settle(undefined));
    req.end(body);
  });
}

describe('keysmith serve under SIGKILL', () => {
  it('keeps every SVID a client received when killed during a burst from 64 clients', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'keysmith-serve-crash-'));
    const work = await mkdtemp(join(tmpdir(), 'keysmith-serve-crash-work-'));
    const env = withTestBackend({
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      USER: 'e2e',
      KEYSMITH_DATA_DIR: dataDir,
      KEYSMITH_LOG_LEVEL: 'warn',
    });
    const server = startProcess(process.execPath, [MAIN, 'serve'], {
      env: { ...env, KEYSMITH_LISTEN: '127.0.0.1:0' },
      lifetimeMs: 120_000,
    });
    try {
      await server.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, {
        timeoutMs: 30_000,
        stream: 'both',
      });
      const port = listeningPort(server.output);
      const entry = await runProcess(
        process.execPath,
        [MAIN, 'entries', 'create', '--spiffe-id', WORKLOAD_ID, '--parent-id', NODE_ID, '--x509-ttl', '1h'],
        { env, lifetimeMs: 30_000 },
      );
      assert.equal(entry.code, 0, entry.stderr);
      // The node identity, issued offline beside the running service (as `keysmith issue` would).
      const core = await openCore(loadConfig({ env }), { ensureIdentities: false });
      let node: Identity;
      try {
        const issued = await issueIdentity(core.authority, { profile: 'node', spiffeId: NODE_ID, requester: 'system' });
        node = { key: issued.keyPem, chain: issued.issued.chainPem };
      } finally {
        await core.close();
      }
      const keyPath = join(work, 'workload.key');
      await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
      const body = JSON.stringify({
        csr: await openssl(['req', '-new', '-key', keyPath, '-subj', '/CN=workload']),
        spiffe_id: WORKLOAD_ID,
      });
      const bundlePem = await readFile(join(dataDir, 'bundle.pem'), 'utf8');

      const received: string[] = [];
      let isKilled = false;
      const started = Date.now();
      const kill = (): void => {
        if (isKilled) return;
        isKilled = true;
        process.kill(server.pid, 'SIGKILL');
      };
      const client = async (): Promise<void> => {
        const agent = new EngineAgent(port, bundlePem, node, true);
        try {
          while (!isKilled && Date.now() - started < BURST_LIMIT_MS) {
            const serial = await askForSvid(agent, port, body);
            // Only what the client actually received counts; after the kill nothing more arrives.
            if (serial !== undefined) received.push(serial);
            if (received.length >= KILL_AFTER) kill();
          }
        } finally {
          agent.destroy();
        }
      };
      await Promise.all(Array.from({ length: CLIENTS }, () => client()));
      kill();
      await server.waitForExit(10_000).catch(() => undefined);
      assert.ok(received.length >= CLIENTS, `only ${received.length} SVIDs were received before the kill`);

      const databaseUrl = env['KEYSMITH_DATABASE_URL'];
      if (databaseUrl !== undefined) {
        // The serials are hex only, so they go into the statement as literals.
        const found = new Set(
          psql(databaseUrl, `SELECT serial FROM certificates WHERE serial IN (${received.map((s) => `'${s}'`).join(',')})`).split('\n'),
        );
        assert.deepEqual(
          received.filter((serial) => !found.has(serial)),
          [],
          'every SVID received is in the ledger',
        );
        return;
      }
      const db = new Database(join(dataDir, 'keysmith.db'));
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        const has = db.prepare('SELECT 1 FROM certificates WHERE serial = ?');
        assert.deepEqual(
          received.filter((serial) => has.get(serial) === undefined),
          [],
          'every SVID received is in the ledger',
        );
      } finally {
        db.close();
      }
    } finally {
      if (!server.hasExited) await server.kill();
      await rm(dataDir, { recursive: true, force: true });
      await rm(work, { recursive: true, force: true });
    }
  });
});
