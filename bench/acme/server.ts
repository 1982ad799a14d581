/**
 * The ACME bench's server side, forked by run.ts and pinned like the other
 * benches (server on CPU 0, the client on CPU 1): keysmith as `keysmith
 * serve` wires it (openCore + startServer: the in-house TLS listener,
 * fastify with the /acme routes, the SQLite ledger in a fresh data directory,
 * the Authority), with the ACME handler composeAcme builds and the real
 * challenge validator. Rate limits are lifted; each finished validation is
 * reported to the parent, and so is this process's CPU over measured windows.
 *
 * BENCH_ACME_HTTP01_PORT: where the parent answers http-01 (on 127.0.0.1).
 * BENCH_DIR: parent of the temporary data directory.
 * BENCH_DATABASE_URL: the ledger on this (empty) PostgreSQL database instead of SQLite.
 */
import 'reflect-metadata';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeAcme, openCore } from '../../src/cli/compose.js';
import { startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config.js';
import { isParentMessage, type ServerMessage } from './protocol.js';

if (process.send === undefined) {
  console.error('server.js must be started with an IPC channel (bench/acme/run.js starts it)');
  process.exit(2);
}
const send = (message: ServerMessage): void => {
  process.send?.(message);
};

const SUFFIX = 'bench.test';
const NO_LIMIT = { burst: 1_000_000, perSecond: 1_000_000 };
const http01Port = process.env['BENCH_ACME_HTTP01_PORT'];
const databaseUrl = process.env['BENCH_DATABASE_URL'];
if (http01Port === undefined || http01Port === '') throw new Error('BENCH_ACME_HTTP01_PORT is required');

const parent = process.env['BENCH_DIR'] ?? tmpdir();
mkdirSync(parent, { recursive: true });
const dir = mkdtempSync(join(parent, 'keysmith-bench-acme-'));
// An ephemeral port, bound first as `keysmith serve` does for port 0: the ACME URLs carry it.
const listener = createNetServer();
await new Promise<void>((resolve, reject) => {
  listener.once('error', reject);
  listener.listen(0, '127.0.0.1', () => resolve());
});
const address = listener.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
const config = loadConfig({
  env: {
    KEYSMITH_DATA_DIR: join(dir, 'data'),
    KEYSMITH_LISTEN: `127.0.0.1:${port}`,
    KEYSMITH_LOG_LEVEL: 'warn',
    KEYSMITH_ACME_ALLOWED_SUFFIXES: SUFFIX,
    KEYSMITH_ACME_VALIDATION_ADDRESS: '127.0.0.1',
    KEYSMITH_ACME_HTTP01_PORT: http01Port,
    ...(databaseUrl === undefined || databaseUrl === '' ? {} : { KEYSMITH_DATABASE_URL: databaseUrl }),
  },
});
const core = await openCore(config);
const handler = composeAcme(core, {
  limits: { newAccountPerAddress: NO_LIMIT, noncePerAddress: NO_LIMIT, newOrderPerAccount: NO_LIMIT, finalizePerAccount: NO_LIMIT },
  onValidated: (event) => send({ type: 'validated', challengeId: event.challengeId, ok: event.ok, durationMs: event.durationMs }),
});
const server = await startServer(core, { acme: handler, listener });

let windowCpu = process.cpuUsage();
process.on('message', (raw: unknown) => {
  if (!isParentMessage(raw)) return;
  switch (raw.type) {
    case 'window-start':
      windowCpu = process.cpuUsage();
      break;
    case 'window-end': {
      const used = process.cpuUsage(windowCpu);
      send({ type: 'window', cpuSeconds: (used.user + used.system) / 1e6 });
      break;
    }
    case 'stop':
      // process.exit after the close: --cpu-prof writes its profile on exit.
      void server.close(1_000).finally(async () => {
        await core.close();
        rmSync(dir, { recursive: true, force: true });
        process.exit(0);
      });
      break;
    default: {
      const never: never = raw;
      throw new Error(`unknown message ${String(never)}`);
    }
  }
});

send({ type: 'ready', port: server.port, bundlePem: core.authority.bundlePem(), backend: core.ledger.kind });
