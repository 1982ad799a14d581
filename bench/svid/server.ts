/**
 * The SVID bench's server side, forked by run.ts and pinned like the other
 * benches: keysmith exactly as `keysmith serve` wires it (openCore +
 * startServer: TLS engine, node:http, fastify, the SVID routes, the ledger)
 * in a fresh data directory. It issues the bench client's workload identity,
 * hands it and the bootstrap admin identity to the parent, and reports its
 * own CPU time and the Authority's step timings over measured windows.
 */
import { generateKeyPair } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IssueStep } from '../../src/ca/index.js';
import { openCore, openSvid } from '../../src/cli/compose.js';
import { startServer } from '../../src/cli/serve.js';
import { loadConfig } from '../../src/config/index.js';
import { parseCsr } from '../../src/x509/index.js';
import { ISSUE_STEPS, isParentMessage, perStep, type FleetIdentity, type ServerMessage, type StepTotal } from './protocol.js';

if (process.send === undefined) {
  console.error('server.js must be started with an IPC channel (child_process.fork)');
  process.exit(2);
}
const send = (message: ServerMessage): void => {
  process.send?.(message);
};

// BENCH_NODE_DIR: a directory the parent made (a second node of a cluster, holding a copy of the first node's
// data/ca); else a fresh one under BENCH_DIR. BENCH_NODE_DATABASE_URL: the ledger on PostgreSQL, else SQLite there.
const given = process.env['BENCH_NODE_DIR'];
const parent = process.env['BENCH_DIR'] ?? tmpdir();
mkdirSync(parent, { recursive: true });
const dir = given === undefined || given === '' ? mkdtempSync(join(parent, 'keysmith-bench-svid-')) : given;
const databaseUrl = process.env['BENCH_NODE_DATABASE_URL'];
const poolSize = process.env['BENCH_DATABASE_POOL_SIZE'];
const cryptoWorkers = process.env['BENCH_NODE_CRYPTO_WORKERS'];
const fleetSize = Number(process.env['BENCH_IDENTITIES'] ?? '1000');
const config = loadConfig({
  env: {
    KEYSMITH_DATA_DIR: join(dir, 'data'),
    KEYSMITH_LISTEN: '127.0.0.1:1',
    KEYSMITH_LOG_LEVEL: 'silent',
    ...(databaseUrl === undefined || databaseUrl === '' ? {} : { KEYSMITH_DATABASE_URL: databaseUrl }),
    // The pool a node keeps (default 10): BENCH_DATABASE_POOL_SIZE tries another.
    ...(poolSize === undefined || poolSize === '' ? {} : { KEYSMITH_DATABASE_POOL_SIZE: poolSize }),
    // Worker threads for CSR checks and signatures (default one per core; 0: the event loop).
    ...(cryptoWorkers === undefined || cryptoWorkers === '' ? {} : { KEYSMITH_CRYPTO_WORKERS: cryptoWorkers }),
  },
});
// An ephemeral port, bound first as `keysmith serve` does for port 0: the URLs written into certificates carry it.
const listener = createNetServer();
await new Promise<void>((resolve, reject) => {
  listener.once('error', reject);
  listener.listen(0, '127.0.0.1', () => resolve());
});
const address = listener.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;
const core = await openCore({ ...config, listen: { host: '127.0.0.1', port } });

const totals = new Map<IssueStep, { count: number; totalMs: number }>(ISSUE_STEPS.map((step) => [step, { count: 0, totalMs: 0 }]));
core.authority.onStepTimed((step, ms) => {
  const total = totals.get(step);
  if (total === undefined) return;
  total.count++;
  total.totalMs += ms;
});
const server = await startServer(core, { listener });

// The bench client: a workload identity that registration entries name as parent.
const clientId = `spiffe://${config.trustDomain}/bench/client`;
const pair = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
const client = await core.authority.issue(
  {
    publicKey: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })),
    spiffeId: clientId,
    ttlMs: 24 * 3_600_000,
    requester: 'system',
  },
  'svid',
);

/**
 * The fleet: BENCH_IDENTITIES workloads (default 1,000), each with its own key
 * and SVID, and an entry for its own SPIFFE ID (parent: the bench client), so
 * each may renew it over a connection that presents that SVID. Made through
 * the Authority and the SVID service, outside any window.
 */
async function makeFleet(count: number): Promise<FleetIdentity[]> {
  const svid = await openSvid(core);
  const fleet: FleetIdentity[] = [];
  for (let i = 0; i < count; i++) {
    const id = `spiffe://${config.trustDomain}/bench/fleet-${i}`;
    await svid.createEntry('bench', { spiffeId: id, parentId: clientId, x509TtlMs: 3_600_000 });
    const keys = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
    const issued = await core.authority.issue(
      {
        publicKey: new Uint8Array(keys.publicKey.export({ type: 'spki', format: 'der' })),
        spiffeId: id,
        ttlMs: 24 * 3_600_000,
        requester: 'system',
      },
      'svid',
    );
    fleet.push({ spiffeId: id, certPem: issued.chainPem, keyPem: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() });
  }
  return fleet;
}
const fleet = await makeFleet(Number.isSafeInteger(fleetSize) && fleetSize > 0 ? fleetSize : 0);

function snapshot(): Record<IssueStep, StepTotal> {
  return perStep((step) => ({ ...(totals.get(step) ?? { count: 0, totalMs: 0 }) }));
}

function difference(after: Record<IssueStep, StepTotal>, before: Record<IssueStep, StepTotal>): Record<IssueStep, StepTotal> {
  return perStep((step) => ({ count: after[step].count - before[step].count, totalMs: after[step].totalMs - before[step].totalMs }));
}

/** CPU per parseCsr (all threads: the signature check runs on the libuv pool), one at a time, outside any window. */
async function calibrate(csrs: readonly string[]): Promise<void> {
  for (const csr of csrs.slice(0, 20)) await parseCsr(csr);
  const start = process.cpuUsage();
  for (const csr of csrs) await parseCsr(csr);
  const used = process.cpuUsage(start);
  send({ type: 'calibration', parseCsrCpuUs: (used.user + used.system) / Math.max(1, csrs.length), samples: csrs.length });
}

let windowCpu = process.cpuUsage();
let windowSteps = snapshot();
process.on('message', (raw: unknown) => {
  if (!isParentMessage(raw)) return;
  switch (raw.type) {
    case 'window-start':
      windowCpu = process.cpuUsage();
      windowSteps = snapshot();
      break;
    case 'window-end': {
      const used = process.cpuUsage(windowCpu);
      send({ type: 'window', cpuSeconds: (used.user + used.system) / 1e6, steps: difference(snapshot(), windowSteps) });
      break;
    }
    case 'calibrate':
      void calibrate(raw.csrs);
      break;
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
  dataDir: config.dataDir,
  backend: core.ledger.kind,
  trustDomain: config.trustDomain,
  bundlePem: core.authority.bundlePem(),
  clientId,
  clientCertPem: client.chainPem,
  clientKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  adminCertPem: readFileSync(core.paths.adminCert, 'utf8'),
  adminKeyPem: readFileSync(core.paths.adminKey, 'utf8'),
  fleet,
});
