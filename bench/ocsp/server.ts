/**
 * The OCSP bench's server side, forked by run.ts and pinned to one core:
 * keysmith exactly as `keysmith serve` wires it (openCore + startServer:
 * TLS engine, node:http, fastify, the OCSP responder and its cache) in a
 * fresh data directory. It issues one leaf, tells the parent what to ask,
 * and reports its own CPU time over measured windows.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore } from '../../src/cli/compose.js';
import { startServer } from '../../src/cli/serve.js';
import { bindListener } from '../../src/cli/start-sequence.js';
import { loadConfig } from '../../src/config/index.js';
import { answerWindowRequests } from '../common/window-requests.js';
import type { ServerMessage } from './protocol.js';

if (process.send === undefined) {
  console.error('server.js must be started with an IPC channel (child_process.fork)');
  process.exit(2);
}
const send = (message: ServerMessage): void => {
  process.send?.(message);
};

const dir = mkdtempSync(join(tmpdir(), 'keysmith-bench-ocsp-'));
// An ephemeral port, bound first as `keysmith serve` does for port 0: the OCSP URL in the leaf carries it.
const { listener, port } = await bindListener('127.0.0.1', 0);
const config = loadConfig({
  env: { KEYSMITH_DATA_DIR: join(dir, 'data'), KEYSMITH_LISTEN: `127.0.0.1:${port}`, KEYSMITH_LOG_LEVEL: 'silent' },
});
const core = await openCore(config);
const server = await startServer(core, { listener });
const publicKey = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
const leaf = await core.authority.issue(
  { publicKey, spiffeId: 'spiffe://keysmith.local/bench/leaf', ttlMs: 24 * 3_600_000, requester: 'system' },
  'svid',
);

answerWindowRequests({
  reportCpu: (seconds) => send({ type: 'cpu', seconds }),
  stop: async () => {
    await server.close(1_000).catch(() => undefined);
    await core.close();
    rmSync(dir, { recursive: true, force: true });
  },
});

send({
  type: 'ready',
  port: server.port,
  bundlePem: core.authority.bundlePem(),
  leafDer: Buffer.from(leaf.der).toString('base64'),
  issuerDer: Buffer.from(core.authority.material.intermediate.certDer).toString('base64'),
});
