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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeAcme, openCore } from '../../src/cli/compose.js';
import { startServer } from '../../src/cli/serve.js';
import { bindListener } from '../../src/cli/start-sequence.js';
import { loadConfig } from '../../src/config/index.js';
import { answerWindowRequests } from '../common/window-requests.js';
import type { ServerMessage } from './protocol.js';

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
const { listener, port } = await bindListener('127.0.0.1', 0);
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

answerWindowRequests({
  reportCpu: (cpuSeconds) => send({ type: 'window', cpuSeconds }),
  stop: async () => {
    await server.close(1_000).catch(() => undefined);
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  },
});

send({ type: 'ready', port: server.port, bundlePem: core.authority.bundlePem(), backend: core.ledger.kind });
