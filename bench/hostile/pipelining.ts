/**
 * Measured: N TLS clients (no client certificate) each
 * write 2,000 pipelined `GET /openapi.json` in one write and never read.
 * For each target (keysmith serve, and node:https serving the same body
 * with the same certificate) and each client count, on a fresh server
 * process: RSS before, its peak and end value during the attack, RSS some
 * seconds after the clients closed, and /healthz latency (one keep-alive
 * connection, every 20 ms) throughout. Prints a table and keysmith/node:https
 * ratios.
 *
 *   npm run build && node dist/bench/hostile/pipelining.js
 *
 * Settings (environment): PIPELINING_SECONDS (30), PIPELINING_CLIENTS
 * ("8,20"), PIPELINING_REQUESTS (2000), PIPELINING_SETTLE_SECONDS (10),
 * PIPELINING_TARGETS ("keysmith,node-https").
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { envNumber } from '../common/env.js';
import { HostileService, LatencyProbe, type LatencyReport } from '../../test/hostile/harness.js';
import { startProcess, type ThirdPartyProcess } from '../../test/helpers/processes.js';
import { NonReadingPipeliners, sleep } from '../../test/hostile/transport-peers.js';

const SECONDS = envNumber('PIPELINING_SECONDS', 30, 1, 600);
const REQUESTS = envNumber('PIPELINING_REQUESTS', 2000, 1, 100_000);
const SETTLE_SECONDS = envNumber('PIPELINING_SETTLE_SECONDS', 10, 0, 120);
const CLIENT_COUNTS = (process.env['PIPELINING_CLIENTS'] ?? '8,20').split(',').map((n) => Number(n.trim()));
const TARGETS = (process.env['PIPELINING_TARGETS'] ?? 'keysmith,node-https').split(',').map((t) => t.trim());
const HTTPS_SERVER = fileURLToPath(new URL('./https-server.js', import.meta.url));
const MB = 1024 * 1024;

interface Target {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly ca: string;
  stop(): Promise<void>;
}

interface Row {
  readonly target: string;
  readonly clients: number;
  readonly baselineMb: number;
  readonly peakGrowthMb: number;
  readonly endGrowthMb: number;
  readonly afterCloseGrowthMb: number;
  readonly stillOpen: number;
  readonly latency: LatencyReport;
}

/** "+12 MB" / "-17 MB". */
function signedMb(mb: number): string {
  return `${mb < 0 ? '-' : '+'}${Math.abs(mb).toFixed(0)} MB`;
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (match === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

function fetchText(port: number, ca: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, servername: 'localhost', ca, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (part: string) => (text += part));
      res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${path}: ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`${path}: no answer in 10 s`)));
  });
}

async function startKeysmith(): Promise<Target> {
  const service = await HostileService.start({ lifetimeMs: (SECONDS + SETTLE_SECONDS + 120) * 1000 });
  return { name: 'keysmith', pid: service.pid, port: service.port, ca: await service.bundlePem(), stop: () => service.stop() };
}

/** node:https with keysmith's listener certificate and its /openapi.json body, taken from a keysmith started for the purpose. */
async function startNodeHttps(): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'keysmith-pipelining-'));
  const service = await HostileService.start();
  let ca: string;
  try {
    ca = await service.bundlePem();
    await writeFile(join(dir, 'openapi.json'), await fetchText(service.port, ca, '/openapi.json'));
    await writeFile(join(dir, 'key.pem'), await readFile(join(service.paths.dataDir, 'server', 'key.pem')));
    await writeFile(join(dir, 'cert.pem'), await readFile(join(service.paths.dataDir, 'server', 'cert.pem')));
  } finally {
    await service.stop();
  }
  const child: ThirdPartyProcess = startProcess(
    process.execPath,
    [HTTPS_SERVER, join(dir, 'key.pem'), join(dir, 'cert.pem'), join(dir, 'openapi.json')],
    {
      lifetimeMs: (SECONDS + SETTLE_SECONDS + 120) * 1000,
    },
  );
  const ready = await child.waitFor(/listening (\d+)/, { timeoutMs: 10_000 });
  const port = Number(ready[1]);
  return {
    name: 'node-https',
    pid: child.pid,
    port,
    ca,
    stop: async () => {
      await child.kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function runOne(targetName: string, clients: number): Promise<Row> {
  const target = targetName === 'node-https' ? await startNodeHttps() : await startKeysmith();
  try {
    await fetchText(target.port, target.ca, '/openapi.json'); // warm: the document is built on first use
    await sleep(2_000);
    const baseline = await rssBytes(target.pid);
    const probe = new LatencyProbe(target.port, target.ca, 20);
    const attackers = await NonReadingPipeliners.open(target.port, target.ca, clients, REQUESTS);
    let peak = baseline;
    const until = performance.now() + SECONDS * 1000;
    while (performance.now() < until) {
      await sleep(500);
      peak = Math.max(peak, await rssBytes(target.pid));
    }
    const end = await rssBytes(target.pid);
    const latency = await probe.stop();
    const stillOpen = attackers.openCount;
    attackers.close();
    await sleep(SETTLE_SECONDS * 1000);
    const after = await rssBytes(target.pid);
    return {
      target: target.name,
      clients,
      baselineMb: baseline / MB,
      peakGrowthMb: (peak - baseline) / MB,
      endGrowthMb: (end - baseline) / MB,
      afterCloseGrowthMb: (after - baseline) / MB,
      stillOpen,
      latency,
    };
  } finally {
    await target.stop();
  }
}

async function main(): Promise<void> {
  console.log(
    `pipelining: ${REQUESTS} GET /openapi.json per client in one write, never read; ${SECONDS} s per run, ${SETTLE_SECONDS} s settle after close`,
  );
  const rows: Row[] = [];
  for (const clients of CLIENT_COUNTS) {
    for (const target of TARGETS) {
      const row = await runOne(target, clients);
      rows.push(row);
      console.log(
        `${row.target.padEnd(10)} ${String(row.clients).padStart(3)} clients: baseline ${row.baselineMb.toFixed(0)} MB, peak ${signedMb(row.peakGrowthMb)}, ` +
          `end ${signedMb(row.endGrowthMb)}, ${SETTLE_SECONDS} s after close ${signedMb(row.afterCloseGrowthMb)}; attackers still open ${row.stillOpen}; /healthz ${row.latency.describe()}`,
      );
    }
  }
  for (const clients of CLIENT_COUNTS) {
    const ours = rows.find((r) => r.target === 'keysmith' && r.clients === clients);
    const theirs = rows.find((r) => r.target === 'node-https' && r.clients === clients);
    if (ours === undefined || theirs === undefined) continue;
    const ratio = (a: number, b: number): string => (b <= 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);
    console.log(
      `${clients} clients, keysmith / node:https: peak growth ${ratio(ours.peakGrowthMb, theirs.peakGrowthMb)}, /healthz p99 ${ratio(ours.latency.p99, theirs.latency.p99)}`,
    );
  }
}

await main();
