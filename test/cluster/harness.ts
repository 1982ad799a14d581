import { cpSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runProcess, startProcess, type ProcessResult, type ThirdPartyProcess } from '../helpers/processes.js';
import { BALANCER_SOURCE_ADDRESS, Haproxy } from './haproxy.js';
import { ThrowAwayPostgres } from './postgres-server.js';

/**
 * A keysmith cluster over real processes on loopback, joined the way the
 * README's "Running several nodes" says: one PostgreSQL, `keysmith init`
 * once, a copy of the first node's ca/ in every node's data directory, the
 * same KEYSMITH_DATABASE_URL and CA passphrase everywhere, then N
 * `keysmith serve` children on loopback ports and HAProxy in front, speaking
 * the PROXY protocol to them from an address of its own. Every wait
 * is bounded; every child is stopped by its own PID.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
/** The curl line is the last thing serve prints at start-up. */
const READY = /curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/;
export const TRUST_DOMAIN = 'cluster.test';
export const ALLOWED_SUFFIX = 'example.test';
const PASSPHRASE = 'cluster test passphrase, not a secret';

export interface ClusterNode {
  /** node1, node2, ... (HAProxy's server names too). */
  readonly name: string;
  readonly dataDir: string;
  readonly port: number;
  readonly process: ThirdPartyProcess;
}

export interface ClusterOptions {
  readonly nodeCount: number;
  /** KEYSMITH_* settings every node gets on top of the cluster's own. */
  readonly nodeEnv?: Readonly<Record<string, string>>;
}

export interface ClusterPaths {
  /** The trust bundle (root), as every node wrote it. */
  readonly bundle: string;
  /** The intermediate's certificate (openssl ocsp -issuer). */
  readonly intermediate: string;
  readonly adminCert: string;
  readonly adminKey: string;
}

/** `keysmith ARGS` to completion with exactly this environment (bounded). */
export function runKeysmith(args: readonly string[], env: NodeJS.ProcessEnv): Promise<ProcessResult> {
  return runProcess(process.execPath, [MAIN, ...args], { env, timeoutMs: 60_000, lifetimeMs: 70_000 });
}

export class KeysmithCluster {
  private constructor(
    readonly root: string,
    readonly database: ThrowAwayPostgres,
    readonly nodes: readonly ClusterNode[],
    readonly balancer: Haproxy,
    /** The settings every node and every CLI run shares (database, passphrase, public URL, ...). */
    readonly env: NodeJS.ProcessEnv,
    readonly paths: ClusterPaths,
  ) {}

  static async start(options: ClusterOptions): Promise<KeysmithCluster> {
    const root = await mkdtemp(join(tmpdir(), 'keysmith-cluster-'));
    const started: { database?: ThrowAwayPostgres; nodes: ThirdPartyProcess[]; balancer?: Haproxy } = { nodes: [] };
    try {
      started.database = await ThrowAwayPostgres.start();
      const balancerPort = await Haproxy.freePort();
      const env: NodeJS.ProcessEnv = {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        USER: 'cluster-test',
        KEYSMITH_DATABASE_URL: started.database.url,
        KEYSMITH_CA_PASSPHRASE: PASSPHRASE,
        KEYSMITH_TRUST_DOMAIN: TRUST_DOMAIN,
        // Certificates (AIA OCSP URL) and ACME URLs name the balancer, not a node.
        KEYSMITH_PUBLIC_URL: `https://127.0.0.1:${balancerPort}`,
        KEYSMITH_LOG_LEVEL: 'warn',
        KEYSMITH_ACME_VALIDATION_ADDRESS: '127.0.0.1',
        KEYSMITH_ACME_ALLOWED_SUFFIXES: ALLOWED_SUFFIX,
        // Connections from HAProxy start with a PROXY header: a node sees each client's address, not the balancer's.
        KEYSMITH_PROXY_PROTOCOL_FROM: `${BALANCER_SOURCE_ADDRESS}/32`,
        ...options.nodeEnv,
      };
      const dataDirs = Array.from({ length: options.nodeCount }, (_, i) => join(root, `node${i + 1}`));
      const first = dataDirs[0];
      if (first === undefined) throw new Error('a cluster needs at least one node');

      // 1. `keysmith init` once, against the empty database: it creates the CA there and in node1's ca/.
      const init = await runKeysmith(['init'], { ...env, KEYSMITH_DATA_DIR: first });
      if (init.code !== 0) throw new Error(`keysmith init failed (${String(init.code)}):\n${init.stdout}${init.stderr}`);
      // 2. Every other node gets a copy of that ca/ (the way one mounts a secret).
      for (const dir of dataDirs.slice(1)) cpSync(join(first, 'ca'), join(dir, 'ca'), { recursive: true });

      // 3. The nodes start together (they race for the migration and CA locks), each on a port of its own.
      // Ports chosen here, not 0: with KEYSMITH_PUBLIC_URL set, serve prints the balancer's URL, not the port it bound.
      const nodes = await Promise.all(
        dataDirs.map(async (dataDir, i): Promise<ClusterNode> => {
          const port = await freePort();
          const child = startProcess(process.execPath, [MAIN, 'serve'], {
            env: { ...env, KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LISTEN: `127.0.0.1:${port}` },
            lifetimeMs: 900_000,
          });
          started.nodes.push(child);
          await child.waitFor(READY, { timeoutMs: 90_000 });
          return { name: `node${i + 1}`, dataDir, port, process: child };
        }),
      );
      const paths: ClusterPaths = {
        bundle: join(first, 'bundle.pem'),
        intermediate: join(first, 'ca', 'intermediate.cert.pem'),
        adminCert: join(first, 'admin', 'cert.pem'),
        adminKey: join(first, 'admin', 'key.pem'),
      };
      // 4. HAProxy in front, once its health checks see every node.
      started.balancer = await Haproxy.start(
        root,
        balancerPort,
        nodes.map((n) => ({ name: n.name, port: n.port })),
        paths.bundle,
      );
      return new KeysmithCluster(root, started.database, nodes, started.balancer, env, paths);
    } catch (err) {
      await started.balancer?.stop();
      await Promise.all(started.nodes.map((n) => n.kill()));
      started.database?.stop();
      await rm(root, { recursive: true, force: true });
      throw err;
    }
  }

  get balancerUrl(): string {
    return `https://127.0.0.1:${this.balancer.port}`;
  }

  node(name: string): ClusterNode {
    const found = this.nodes.find((n) => n.name === name);
    if (found === undefined) throw new Error(`no ${name} in the cluster`);
    return found;
  }

  bundlePem(): Promise<string> {
    return readFile(this.paths.bundle, 'utf8');
  }

  /** `keysmith ARGS` offline, on node1's data directory and the cluster's database. */
  cli(args: readonly string[]): Promise<ProcessResult> {
    const first = this.nodes[0];
    if (first === undefined) throw new Error('no nodes');
    return runKeysmith(args, { ...this.env, KEYSMITH_DATA_DIR: first.dataDir, KEYSMITH_LISTEN: `127.0.0.1:${first.port}` });
  }

  /** Stops HAProxy, every node still running (SIGTERM, then SIGKILL), PostgreSQL, and removes every directory. */
  async stop(): Promise<void> {
    await this.balancer.stop();
    await Promise.all(this.nodes.map((n) => n.process.kill()));
    this.database.stop();
    await rm(this.root, { recursive: true, force: true });
  }
}
