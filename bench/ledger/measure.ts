/**
 * Measured on a data directory made by make.js:
 *
 *   npx tsc -p tsconfig.json && node dist/bench/ledger/measure.js DATA_DIR [what...]
 *
 * `what` picks measurements (default: all, in this order):
 *   size       bytes per row: table and each index (dbstat), divided by certificate rows
 *   check      PRAGMA quick_check and integrity_check times
 *   issue      SVIDs through the real Authority (group commit, 64 in flight): rate, and
 *              bytes written to disk per SVID (/proc/self/io write_bytes; wchar too)
 *   wal        WAL size after 20 s of issuance with a long reader open, then after it ends
 *              (and after the ledger's checkpoint policy had its turn)
 *   serve      `keysmith serve` time to its curl line, warm and cold (page cache dropped)
 * Issuance adds rows to the ledger; run `size` first when comparing.
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openCore, type Core } from '../../src/cli/compose.js';
import { loadConfig } from '../../src/config/index.js';

const HOUR = 3_600_000;
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const READY = /curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/;

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function databaseOf(dataDir: string): string {
  return join(dataDir, 'keysmith.db');
}

function measureSize(dataDir: string): void {
  const db = new Database(databaseOf(dataDir), { readonly: true });
  try {
    const rows = db.prepare<[], number>('SELECT count(*) FROM certificates').pluck().get() ?? 0;
    const objects = db
      .prepare<[], { name: string; tbl: string; bytes: number; pages: number }>(
        `SELECT s.name, m.tbl_name AS tbl, sum(s.pgsize) AS bytes, count(*) AS pages
           FROM dbstat s JOIN sqlite_schema m ON m.name = s.name
          WHERE m.tbl_name IN ('certificates', 'certificate_names', 'spiffe_latest')
          GROUP BY s.name ORDER BY bytes DESC`,
      )
      .all();
    const freelist = db.pragma('freelist_count', { simple: true }) as number;
    const pageSize = db.pragma('page_size', { simple: true }) as number;
    let total = 0;
    console.log(
      `size: ${rows} certificate rows; file ${mb(statSync(databaseOf(dataDir)).size)}, free pages ${freelist} (${mb(freelist * pageSize)})`,
    );
    for (const o of objects) {
      total += o.bytes;
      console.log(`  ${o.name.padEnd(44)} ${mb(o.bytes).padStart(10)}  ${(o.bytes / rows).toFixed(0).padStart(5)} B/row`);
    }
    console.log(
      `  ${'total (certificates + names + indexes)'.padEnd(44)} ${mb(total).padStart(10)}  ${(total / rows).toFixed(0).padStart(5)} B/row`,
    );
  } finally {
    db.close();
  }
}

function measureChecks(dataDir: string): void {
  const db = new Database(databaseOf(dataDir), { readonly: true });
  try {
    for (const pragma of ['quick_check', 'integrity_check']) {
      const start = performance.now();
      const result = db.pragma(pragma, { simple: true });
      console.log(`check: PRAGMA ${pragma}: ${String(result)} in ${((performance.now() - start) / 1000).toFixed(1)} s`);
    }
  } finally {
    db.close();
  }
}

function processIo(): { writeBytes: number; wchar: number } {
  const text = readFileSync('/proc/self/io', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { writeBytes: field('write_bytes'), wchar: field('wchar') };
}

interface Opened {
  readonly core: Core;
  close(): Promise<void>;
}

/** The core as `serve` runs it: with the WAL checkpointer when this version of keysmith has one. */
async function openAt(dataDir: string): Promise<Opened> {
  const config = loadConfig({ env: { KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LOG_LEVEL: 'warn' } });
  const core = await openCore(config);
  const checkpointer = core.ledger.kind === 'sqlite' ? core.ledger.ledger.startCheckpoints() : undefined;
  return {
    core,
    close: async () => {
      await checkpointer?.stop();
      await core.close();
    },
  };
}

const keys = Array.from({ length: 256 }, () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }),
);

/** Issues SVIDs with `inFlight` callers until `count` are done or `untilMs` passes; returns how many. */
async function issueSvids(
  core: Core,
  options: { count?: number; untilMs?: number; inFlight?: number; onTick?: () => void },
): Promise<number> {
  let issued = 0;
  let next = 0;
  const stopAt = options.untilMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + options.untilMs;
  const count = options.count ?? Number.POSITIVE_INFINITY;
  const caller = async (): Promise<void> => {
    while (next < count && performance.now() < stopAt) {
      const i = next++;
      const spiffeId = `spiffe://keysmith.local/ns/bench/sa/issue-${i % 5000}`;
      const publicKey = keys[i % keys.length];
      if (publicKey === undefined) throw new Error('no key');
      await core.authority.issue({ publicKey, spiffeId, ttlMs: HOUR, requester: 'system' }, 'svid');
      issued += 1;
      if (issued % 500 === 0) options.onTick?.();
    }
  };
  await Promise.all(Array.from({ length: options.inFlight ?? 64 }, caller));
  return issued;
}

async function measureIssue(dataDir: string, label: string): Promise<void> {
  const opened = await openAt(dataDir);
  const core = opened.core;
  try {
    await issueSvids(core, { count: 500 });
    const count = 5000;
    const before = processIo();
    const start = performance.now();
    await issueSvids(core, { count });
    const seconds = (performance.now() - start) / 1000;
    const after = processIo();
    console.log(
      `issue (${label}): ${count} SVIDs in ${seconds.toFixed(1)} s = ${(count / seconds).toFixed(0)}/s; ` +
        `written per SVID: write_bytes ${((after.writeBytes - before.writeBytes) / count / 1024).toFixed(1)} KiB, ` +
        `wchar ${((after.wchar - before.wchar) / count / 1024).toFixed(1)} KiB`,
    );
  } finally {
    await opened.close();
  }
}

function walSize(dataDir: string): number {
  const path = `${databaseOf(dataDir)}-wal`;
  return existsSync(path) ? statSync(path).size : 0;
}

async function measureWal(dataDir: string): Promise<void> {
  const opened = await openAt(dataDir);
  const core = opened.core;
  const reader = new Database(databaseOf(dataDir), { readonly: true });
  try {
    console.log(`wal: at start ${mb(walSize(dataDir))}`);
    // A long reader: a read transaction that has read something holds its snapshot until it ends.
    reader.exec('BEGIN');
    reader.prepare('SELECT count(*) FROM certificates WHERE rowid < 100').get();
    let peak = 0;
    const issued = await issueSvids(core, { untilMs: 20_000, onTick: () => (peak = Math.max(peak, walSize(dataDir))) });
    console.log(
      `wal: after 20 s of issuance (${issued} SVIDs) with a reader open: ${mb(walSize(dataDir))} (peak seen ${mb(Math.max(peak, walSize(dataDir)))})`,
    );
    reader.exec('COMMIT');
    await issueSvids(core, { untilMs: 3_000 });
    console.log(`wal: reader ended, 3 s more issuance: ${mb(walSize(dataDir))}`);
    await new Promise((resolve) => setTimeout(resolve, 12_000));
    console.log(`wal: 12 s idle later: ${mb(walSize(dataDir))}`);
  } finally {
    reader.close();
    await opened.close();
  }
}

/** Drops the database files from the page cache: drop_caches when allowed (root), else posix_fadvise through python3. */
function dropPageCache(dataDir: string): string {
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return 'drop_caches';
  } catch {
    const files = ['keysmith.db', 'keysmith.db-wal', 'keysmith.db-shm'].map((f) => join(dataDir, f)).filter(existsSync);
    const script = `import os,sys\nfor p in sys.argv[1:]:\n  fd=os.open(p,os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)`;
    spawnSync('python3', ['-c', script, ...files], { stdio: 'inherit' });
    return 'posix_fadvise';
  }
}

function freePort(): Promise<number> {
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

async function timeServe(dataDir: string): Promise<number> {
  const port = await freePort();
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [MAIN, 'serve'], {
      env: {
        PATH: process.env['PATH'],
        HOME: process.env['HOME'],
        KEYSMITH_DATA_DIR: dataDir,
        KEYSMITH_LISTEN: `127.0.0.1:${port}`,
        KEYSMITH_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve printed no curl line within 120 s:\n${output}`));
    }, 120_000);
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      if (READY.test(output)) {
        const ms = performance.now() - started;
        clearTimeout(timer);
        child.once('exit', () => resolve(ms));
        child.kill('SIGTERM');
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      if (!READY.test(output)) {
        clearTimeout(timer);
        reject(new Error(`serve exited (${String(code)}) before its curl line:\n${output}`));
      }
    });
  });
}

async function measureServe(dataDir: string): Promise<void> {
  await timeServe(dataDir);
  const warm: number[] = [];
  for (let i = 0; i < 3; i += 1) warm.push(await timeServe(dataDir));
  const cold: number[] = [];
  let how = '';
  for (let i = 0; i < 2; i += 1) {
    how = dropPageCache(dataDir);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    cold.push(await timeServe(dataDir));
  }
  const list = (values: number[]): string => values.map((v) => `${(v / 1000).toFixed(2)} s`).join(', ');
  console.log(`serve: to the curl line warm ${list(warm)}; cold (${how}) ${list(cold)}`);
}

async function main(): Promise<void> {
  const [dataDir, ...what] = process.argv.slice(2);
  if (dataDir === undefined || !existsSync(databaseOf(dataDir)))
    throw new Error('usage: node dist/bench/ledger/measure.js DATA_DIR [size|check|issue|wal|serve ...]');
  const all = what.length === 0;
  const wants = (name: string): boolean => all || what.includes(name);
  if (wants('size')) measureSize(dataDir);
  if (wants('check')) measureChecks(dataDir);
  if (wants('issue')) await measureIssue(dataDir, dataDir);
  if (wants('wal')) await measureWal(dataDir);
  if (wants('serve')) await measureServe(dataDir);
}

await main();
