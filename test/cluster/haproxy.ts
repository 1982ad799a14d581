import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, runProcess, startProcess, withTimeout, type ThirdPartyProcess } from '../helpers/processes.js';

/**
 * Debian's HAProxy in front of the nodes, configured as deploy/haproxy.cfg
 * is (TCP mode, round robin, a TLS + HTTP health check of /healthz, the
 * PROXY protocol v2 on every connection to a node, checks included), with a
 * short check interval so a killed node leaves the rotation within a
 * second, and an admin socket the test reads the servers' states from.
 */

/**
 * The address HAProxy connects to the nodes from (`source`), and the only one
 * the nodes take a PROXY header from (KEYSMITH_PROXY_PROTOCOL_FROM). Not
 * 127.0.0.1: on loopback the clients would share it, and the test could not
 * tell the client's address from the balancer's.
 */
export const BALANCER_SOURCE_ADDRESS = '127.0.0.2';

export interface Backend {
  readonly name: string;
  readonly port: number;
}

export type ServerStates = ReadonlyMap<string, string>;

/** The configuration; the check's choice is explained in deploy/haproxy.cfg. */
export function haproxyConfig(listenPort: number, backends: readonly Backend[], bundlePath: string, socketPath: string): string {
  return [
    'global',
    `  stats socket ${socketPath} mode 600 level admin`,
    '  maxconn 2000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    // A connection refused by a dead node is tried again, on another node (redispatch).
    '  retries 2',
    '  option redispatch',
    'frontend keysmith',
    `  bind 127.0.0.1:${listenPort}`,
    '  default_backend nodes',
    'backend nodes',
    '  balance roundrobin',
    '  option httpchk',
    '  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost',
    // 200 includes `degraded` (the shared database is down: OCSP from cache goes on); 503 is a broken node.
    '  http-check expect status 200',
    // send-proxy-v2: each connection to a node starts with a PROXY header naming the client; check-send-proxy: checks send
    // one too (a LOCAL header), since a node that expects the header from this address closes a connection without it
    // (deploy/haproxy.cfg says more).
    `  default-server source ${BALANCER_SOURCE_ADDRESS} send-proxy-v2 check-send-proxy check check-ssl verify required ca-file ${bundlePath} check-sni localhost inter 300ms fastinter 200ms fall 2 rise 2`,
    ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port}`),
    '',
  ].join('\n');
}

export class Haproxy {
  private constructor(
    readonly process: ThirdPartyProcess,
    readonly port: number,
    private readonly socketPath: string,
  ) {}

  /** Starts haproxy in the foreground (-db) listening on `port`; resolves once every backend is UP. */
  static async start(dir: string, port: number, backends: readonly Backend[], bundlePath: string): Promise<Haproxy> {
    const configPath = join(dir, 'haproxy.cfg');
    const socketPath = join(dir, 'haproxy.sock');
    await writeFile(configPath, haproxyConfig(port, backends, bundlePath, socketPath));
    const check = await runProcess('haproxy', ['-c', '-f', configPath], { timeoutMs: 10_000 });
    if (check.code !== 0) throw new Error(`haproxy -c rejected ${configPath}:\n${check.stdout}${check.stderr}`);
    const child = startProcess('haproxy', ['-db', '-f', configPath], { lifetimeMs: 900_000 });
    const balancer = new Haproxy(child, port, socketPath);
    try {
      await balancer.waitForStates(new Map(backends.map((b) => [b.name, 'UP'])), 20_000);
    } catch (err) {
      await child.kill();
      throw err;
    }
    return balancer;
  }

  /** A port for the balancer, chosen before the nodes start: their public URL names it. */
  static freePort(): Promise<number> {
    return freePort();
  }

  /** Each server's status as `show stat` reports it (UP, DOWN, "UP 1/2", ...). */
  async serverStates(): Promise<ServerStates> {
    const rows = parseStat(await this.command('show stat'));
    return new Map(rows.map((r) => [r['svname'] ?? '', r['status'] ?? '']));
  }

  /** Polls until every named server is in the given state; rejects with the last states and check results seen. */
  async waitForStates(expected: ServerStates, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let seen: ServerStates = new Map();
    while (Date.now() < deadline) {
      if (this.process.hasExited) throw new Error(`haproxy exited\n${this.process.describeOutput()}`);
      seen = await this.serverStates().catch(() => new Map<string, string>());
      if ([...expected].every(([server, state]) => seen.get(server) === state)) return;
      await sleep(100);
    }
    const checks = await this.lastChecks().catch((err: unknown) => String(err));
    throw new Error(
      `haproxy servers did not reach ${JSON.stringify([...expected])} in ${timeoutMs} ms; last seen ${JSON.stringify([...seen])}; checks: ${checks}`,
    );
  }

  /** Connections each server has been handed since HAProxy started (`show stat` stot; health checks are not counted). */
  async sessionsByServer(): Promise<ReadonlyMap<string, number>> {
    const rows = parseStat(await this.command('show stat'));
    return new Map(rows.map((r) => [r['svname'] ?? '', Number(r['stot'] ?? Number.NaN)]));
  }

  /** The last health check of each server, as `show stat` describes it (for failure messages). */
  private async lastChecks(): Promise<string> {
    const rows = parseStat(await this.command('show stat'));
    return rows
      .map(
        (r) => `${r['svname'] ?? ''}: ${r['check_status'] ?? ''} ${r['check_code'] ?? ''} ${r['check_desc'] ?? ''} ${r['last_chk'] ?? ''}`,
      )
      .join('; ');
  }

  async stop(): Promise<void> {
    await this.process.kill();
  }

  /** One command on the admin socket; haproxy answers and closes. */
  private command(text: string): Promise<string> {
    return withTimeout(
      new Promise<string>((resolve, reject) => {
        const socket = connect(this.socketPath);
        let answer = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (answer += chunk));
        socket.once('end', () => resolve(answer));
        socket.once('error', reject);
        socket.end(`${text}\n`);
      }),
      5_000,
      `haproxy: ${text}`,
    );
  }
}

/** The backend's server rows of `show stat` (CSV with a '# ' header line), as field -> value. */
function parseStat(csv: string): Array<Record<string, string>> {
  const [headerLine = '', ...lines] = csv.split('\n');
  const header = headerLine.replace(/^# /, '').split(',');
  return lines
    .map((line) => line.split(','))
    .map((cells) => Object.fromEntries(header.map((field, i) => [field, cells[i] ?? ''])))
    .filter((row) => row['pxname'] === 'nodes' && row['svname'] !== 'BACKEND' && row['svname'] !== '');
}
