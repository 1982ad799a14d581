/**
 * Debian's HAProxy in front of the bench's keysmith nodes, as deploy/haproxy.cfg
 * runs it: TCP mode (TLS ends on the nodes), round robin per connection, a
 * TLS + GET /healthz health check (every 2 s here: the check's own cost stays
 * out of the figures' way). The load connects to HAProxy only.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { sleep } from '../common/window.js';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function config(port: number, nodePorts: readonly number[], bundlePath: string): string {
  return [
    'global',
    '  maxconn 2000',
    'defaults',
    '  mode tcp',
    '  timeout connect 2s',
    '  timeout client 60s',
    '  timeout server 60s',
    'frontend keysmith',
    `  bind 127.0.0.1:${port}`,
    '  default_backend nodes',
    'backend nodes',
    '  balance roundrobin',
    '  option httpchk',
    '  http-check send meth GET uri /healthz ver HTTP/1.1 hdr Host localhost',
    '  http-check expect status 200',
    `  default-server check check-ssl verify required ca-file ${bundlePath} check-sni localhost inter 2s`,
    ...nodePorts.map((nodePort, i) => `  server node${i + 1} 127.0.0.1:${nodePort}`),
    '',
  ].join('\n');
}

export interface BenchHaproxy {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

/** Starts haproxy in the foreground (-db) under `prefix` (a taskset, or nothing); resolves once it accepts connections. */
export async function startHaproxy(
  dir: string,
  nodePorts: readonly number[],
  bundlePem: string,
  prefix: readonly string[],
): Promise<BenchHaproxy> {
  const bundlePath = join(dir, 'bundle.pem');
  writeFileSync(bundlePath, bundlePem);
  const port = await freePort();
  const configPath = join(dir, 'haproxy.cfg');
  writeFileSync(configPath, config(port, nodePorts, bundlePath));
  const [command = 'haproxy', ...args] = [...prefix, 'haproxy', '-db', '-f', configPath];
  const child: ChildProcess = spawn(command, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('haproxy did not start (is it installed? apt-get install haproxy)');
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });
  // Up when its port accepts; bounded: 10 s.
  for (let attempt = 0; ; attempt++) {
    if (exited) throw new Error(`haproxy exited at start (config ${configPath})`);
    if (await accepts(port)) break;
    if (attempt >= 100) {
      child.kill('SIGKILL');
      throw new Error('haproxy did not listen within 10 s');
    }
    await sleep(100);
  }
  return {
    port,
    pid,
    async stop(): Promise<void> {
      if (exited) return;
      const gone = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([gone, sleep(3_000)]);
      if (!exited) child.kill('SIGKILL');
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
