// A throw-away PostgreSQL cluster for the tests: initdb into a fresh temporary
// directory, start it on a free loopback port with its socket in the same
// directory, and remove everything when stopped. PostgreSQL refuses to run as
// root, so as root (CI) the server runs as the `postgres` system user that
// Debian's `postgresql` package creates.
//
//   import { startCluster } from './pg-cluster.mjs';
//   const cluster = await startCluster();   // cluster.url: postgres://postgres@127.0.0.1:PORT/postgres
//   ...; cluster.stop();
//
// Or from a shell: `node scripts/pg-cluster.mjs` starts one, prints its URL and
// keeps it until Ctrl-C.
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The newest PostgreSQL server binaries Debian installed (/usr/lib/postgresql/<major>/bin). */
export function findServerBinaries() {
  const root = '/usr/lib/postgresql';
  if (process.env.KEYSMITH_PG_BIN) return process.env.KEYSMITH_PG_BIN;
  if (!existsSync(root)) return undefined;
  const majors = readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length === 0 ? undefined : join(root, majors[0], 'bin');
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function lookupUser(name) {
  const result = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const uid = Number(result.stdout.trim());
  const gid = Number(spawnSync('id', ['-g', name], { encoding: 'utf8' }).stdout.trim());
  return result.status === 0 ? { uid, gid } : undefined;
}

function run(command, args, asUser) {
  const [file, argv] = asUser === undefined ? [command, args] : ['runuser', ['-u', asUser, '--', command, ...args]];
  const result = spawnSync(file, argv, { encoding: 'utf8' });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

export async function startCluster() {
  const bin = findServerBinaries();
  if (bin === undefined) {
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql: install them (apt-get install -y postgresql) ' +
        'or set KEYSMITH_TEST_DATABASE_URL to an administrator URL of a server the tests may create databases on',
    );
  }
  const asUser = process.getuid?.() === 0 ? 'postgres' : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'keysmith-pg-'));
  chmodSync(dir, 0o700);
  if (asUser !== undefined) {
    const owner = lookupUser(asUser);
    if (owner === undefined) throw new Error('running as root, but there is no `postgres` user to run PostgreSQL as');
    chownSync(dir, owner.uid, owner.gid);
  }
  const data = join(dir, 'data');
  const port = await freePort();
  try {
    run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-locale', '--no-sync'], asUser);
    // Loopback only; fsync stays on so durability tests measure what an operator runs.
    const settings = [
      `listen_addresses = '127.0.0.1'`,
      `port = ${port}`,
      `unix_socket_directories = '${dir}'`,
      'max_connections = 300',
      'shared_buffers = 128MB',
      `log_min_messages = warning`,
    ];
    writeFileSync(join(dir, 'extra.conf'), `${settings.join('\n')}\n`);
    run('sh', ['-c', `cat '${join(dir, 'extra.conf')}' >> '${join(data, 'postgresql.conf')}'`], asUser);
    run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start'], asUser);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dir,
    dataDir: data,
    bin,
    asUser,
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        run(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop'], asUser);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const cluster = await startCluster();
  console.log(cluster.url);
  const stop = () => {
    cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => {}, 1 << 30);
}
