import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listeningPort, startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import { countCertificates, withTestBackend } from '../helpers/test-backend.js';

/**
 * The hostile-input suite's view of keysmith: `keysmith serve` as a child
 * process (an in-process test cannot see the process die), a fresh data
 * directory, and the probes every hostile test asks of it: is the process
 * alive, does /healthz answer and how fast, how much memory does it hold,
 * how many certificates does the ledger hold. Every wait is bounded.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** The curl line is the last thing serve prints at start-up. */
const READY = /curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/;
const START_TIMEOUT_MS = 60_000;
/** A /healthz answer slower than this counts as this (the probe gives up and records a miss). */
const PROBE_TIMEOUT_MS = 5_000;

export interface ServiceOptions {
  /** KEYSMITH_* settings on top of the defaults (data directory, listener, log level). */
  readonly env?: Readonly<Record<string, string>>;
  /** Hard bound on the child's life. */
  readonly lifetimeMs?: number;
}

export interface ServicePaths {
  readonly dataDir: string;
  readonly adminCert: string;
  readonly adminKey: string;
  readonly bundle: string;
  readonly database: string;
}

/** One /healthz probe: when it was sent (ms since the probe began), how long it took, what came back. */
export interface Probe {
  readonly at: number;
  readonly ms: number;
  readonly status: number | 'error' | 'timeout';
}

export class HostileService {
  private constructor(
    readonly child: ThirdPartyProcess,
    readonly port: number,
    readonly paths: ServicePaths,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /** Starts `keysmith serve` on a fresh data directory; `stop()` removes it. */
  static async start(options: ServiceOptions = {}): Promise<HostileService> {
    const dataDir = await mkdtemp(join(tmpdir(), 'keysmith-hostile-'));
    try {
      return await HostileService.startOn(dataDir, options);
    } catch (err) {
      await rm(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  /**
   * Starts `keysmith serve` as a child on an existing data directory (one made
   * beforehand, e.g. a fleet-sized ledger from bench/ledger); `stop()` removes it too.
   * Port 0, read back from the start-up line: no other process can take the port in between.
   */
  static async startOn(dataDir: string, options: ServiceOptions = {}): Promise<HostileService> {
    // With KEYSMITH_TEST_BACKEND=postgres the env carries the data directory's own database, for the probes below too.
    const env: NodeJS.ProcessEnv = withTestBackend({
      PATH: process.env['PATH'],
      HOME: process.env['HOME'],
      KEYSMITH_DATA_DIR: dataDir,
      KEYSMITH_LISTEN: '127.0.0.1:0',
      KEYSMITH_LOG_LEVEL: 'warn',
      ...options.env,
    });
    const child = startProcess(process.execPath, [MAIN, 'serve'], { env, lifetimeMs: options.lifetimeMs ?? 300_000 });
    try {
      await child.waitFor(READY, { timeoutMs: START_TIMEOUT_MS });
    } catch (err) {
      await child.kill();
      throw err;
    }
    const port = listeningPort(child.output);
    // Commands run beside the service (keysmith issue, alerts run) name the port it got.
    return new HostileService(child, port, servicePaths(dataDir), { ...env, KEYSMITH_LISTEN: `127.0.0.1:${port}` });
  }

  get pid(): number {
    return this.child.pid;
  }

  get isAlive(): boolean {
    return !this.child.hasExited;
  }

  /** The trust bundle, PEM, for clients that verify the listener. */
  bundlePem(): Promise<string> {
    return readFile(this.paths.bundle, 'utf8');
  }

  /** The child's resident set, from /proc (Linux). */
  async rssBytes(): Promise<number> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    if (match === null) throw new Error(`no VmRSS for pid ${this.pid}`);
    return Number(match[1]) * 1024;
  }

  /** Rows in the ledger: read from the database file (WAL readers do not block the service), or from PostgreSQL. */
  certificateCount(): number {
    return countCertificates(this.env, this.paths.database);
  }

  /** One GET /healthz on a fresh connection; resolves with the status, never rejects. */
  async healthz(timeoutMs = PROBE_TIMEOUT_MS): Promise<Probe> {
    const agent = new Agent({ keepAlive: false, ca: await this.bundlePem() });
    try {
      return await probeOnce(agent, this.port, 0, timeoutMs);
    } finally {
      agent.destroy();
    }
  }

  /** The /healthz body (any status), over a fresh connection. */
  async healthzBody(): Promise<string> {
    const ca = await this.bundlePem();
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: this.port, path: '/healthz', servername: 'localhost', ca, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.once('end', () => resolve(text));
        res.once('error', reject);
      });
      req.setTimeout(PROBE_TIMEOUT_MS, () => req.destroy(new Error('/healthz did not answer in time')));
      req.once('error', reject);
      req.end();
    });
  }

  /** Throws unless the child is running and /healthz answers 200. */
  async assertHealthy(what: string): Promise<void> {
    if (!this.isAlive)
      throw new Error(`keysmith exited (${JSON.stringify(this.child.exitStatus)}) ${what}\n${this.child.describeOutput()}`);
    const probe = await this.healthz();
    if (probe.status !== 200) throw new Error(`/healthz answered ${String(probe.status)} ${what}\n${this.child.describeOutput()}`);
  }

  /**
   * Probes /healthz every `intervalMs` (one keep-alive connection, so the
   * figure is the event loop's delay, not a handshake) until `stop()`.
   */
  async startLatencyProbe(intervalMs = 20): Promise<LatencyProbe> {
    return new LatencyProbe(this.port, await this.bundlePem(), intervalMs);
  }

  /** SIGTERM, then the data directory is removed. */
  async stop(): Promise<void> {
    await this.child.kill();
    await rm(this.paths.dataDir, { recursive: true, force: true });
  }
}

function servicePaths(dataDir: string): ServicePaths {
  return {
    dataDir,
    adminCert: join(dataDir, 'admin', 'cert.pem'),
    adminKey: join(dataDir, 'admin', 'key.pem'),
    bundle: join(dataDir, 'bundle.pem'),
    database: join(dataDir, 'keysmith.db'),
  };
}

/** /healthz latencies sampled on a timer; a probe still out when the next is due is not doubled up. */
export class LatencyProbe {
  private readonly agent: Agent;
  private readonly probes: Probe[] = [];
  private readonly started = performance.now();
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<void> | undefined;

  constructor(
    private readonly port: number,
    ca: string,
    intervalMs: number,
  ) {
    this.agent = new Agent({ keepAlive: true, maxSockets: 1, ca });
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  private tick(): void {
    if (this.inFlight !== undefined) return;
    const at = performance.now() - this.started;
    this.inFlight = probeOnce(this.agent, this.port, at, PROBE_TIMEOUT_MS).then((probe) => {
      this.probes.push(probe);
      this.inFlight = undefined;
    });
  }

  /** Stops probing and returns every probe taken. */
  async stop(): Promise<LatencyReport> {
    clearInterval(this.timer);
    await this.inFlight;
    this.agent.destroy();
    return new LatencyReport(this.probes);
  }
}

export class LatencyReport {
  constructor(readonly probes: readonly Probe[]) {}

  /** The q-quantile (0..1) of the probe times; a failed probe counts as its full wait. */
  quantile(q: number): number {
    const sorted = this.probes.map((p) => p.ms).sort((a, b) => a - b);
    if (sorted.length === 0) return Number.POSITIVE_INFINITY;
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  }

  get p99(): number {
    return this.quantile(0.99);
  }

  get max(): number {
    return this.quantile(1);
  }

  /** Probes that got no 200. */
  get failures(): readonly Probe[] {
    return this.probes.filter((p) => p.status !== 200);
  }

  describe(): string {
    return `${this.probes.length} probes, p50 ${this.quantile(0.5).toFixed(1)} ms, p99 ${this.p99.toFixed(1)} ms, max ${this.max.toFixed(1)} ms, ${this.failures.length} failed`;
  }
}

function probeOnce(agent: Agent, port: number, at: number, timeoutMs: number): Promise<Probe> {
  const begin = performance.now();
  return new Promise((resolve) => {
    let isDone = false;
    const finish = (status: Probe['status']): void => {
      if (isDone) return;
      isDone = true;
      clearTimeout(timer);
      resolve({ at, ms: performance.now() - begin, status });
    };
    const timer = setTimeout(() => {
      req.destroy();
      finish('timeout');
    }, timeoutMs);
    const req = request({ host: '127.0.0.1', port, path: '/healthz', servername: 'localhost', agent }, (res) => {
      res.resume();
      res.once('end', () => finish(res.statusCode ?? 'error'));
      res.once('error', () => finish('error'));
    });
    req.once('error', () => finish('error'));
    req.end();
  });
}
