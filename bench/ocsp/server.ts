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
import { loadConfig } from '../../src/config.js';
import { isParentMessage, type ServerMessage } from './protocol.js';

if (process.send === undefined) {
  console.error('server.js must be started with an IPC channel (child_process.fork)');
  process.exit(2);
}
const send = (message: ServerMessage): void => {
  process.send?.(message);
};

const dir = mkdtempSync(join(tmpdir(), 'keysmith-bench-ocsp-'));
const config = loadConfig({ env: { KEYSMITH_DATA_DIR: join(dir, 'data'), KEYSMITH_LISTEN: '127.0.0.1:1', KEYSMITH_LOG_LEVEL: 'silent' } });
// Port 0: the schema asks for 1..65535, and the bench wants an ephemeral port.
const core = await openCore({ ...config, listen: { host: '127.0.0.1', port: 0 } });
const server = await startServer(core);
const publicKey = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
const leaf = await core.authority.issue({ publicKey, spiffeId: 'spiffe://keysmith.local/bench/leaf', ttlMs: 24 * 3_600_000, requester: 'system' }, 'svid');

let window = process.cpuUsage();
process.on('message', (raw: unknown) => {
  if (!isParentMessage(raw)) return;
  switch (raw.type) {
    case 'window-start':
      window = process.cpuUsage();
      break;
    case 'window-end': {
      const used = process.cpuUsage(window);
      send({ type: 'cpu', seconds: (used.user + used.system) / 1e6 });
      break;
    }
    case 'stop':
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

send({
  type: 'ready',
  port: server.port,
  bundlePem: core.authority.bundlePem(),
  leafDer: Buffer.from(leaf.der).toString('base64'),
  issuerDer: Buffer.from(core.authority.material.intermediate.certDer).toString('base64'),
});
