/**
 * `keysmith backup --out FILE [--include-ca]`: an online, consistent copy of
 * the ledger while `serve` runs, as one archive (backup-archive.ts).
 *
 * SQLite: `VACUUM INTO` on a read-only connection. It copies one read
 * transaction's snapshot (WAL readers never block the writer, and the copy
 * never restarts the way the page-by-page backup API does when another
 * connection writes), compacted, into a private temporary directory; the file
 * itself is never copied (a copy of a live WAL database can be torn).
 * PostgreSQL: pg_dump --format=custom inside a snapshot this command exports,
 * so the manifest's counts describe exactly the dump.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { Config } from '../config/index.js';
import { PostgresDatabase, redactUrl } from '../ledger/index.js';
import { systemClock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import { requireOption, type Command } from './args.js';
import {
  BACKUP_FORMAT,
  BACKUP_FORMAT_VERSION,
  sealSecret,
  sha256File,
  TarWriter,
  type BackupFileEntry,
  type BackupManifest,
} from './backup-archive.js';
import { ledgerLocation } from './compose.js';
import { configOf } from './offline.js';
import { dataPaths } from './files.js';

/** The tables whose row counts the manifest records (restore compares the first three). */
export const COUNTED_TABLES = [
  'certificates',
  'registration_entries',
  'join_tokens',
  'acme_accounts',
  'acme_orders',
  'alert_messages',
] as const;

export interface LedgerStats {
  readonly schemaVersion: number;
  readonly highestCrlNumber: number;
  readonly latestIssuedAt: number;
  readonly revokedCount: number;
  readonly rowCounts: Record<string, number>;
}

/** What restore compares, read from one SQLite connection (a snapshot's copy, or the live ledger under restore's lock). */
export function sqliteStats(db: Database.Database, schema = 'main'): LedgerStats {
  const one = (sql: string): number => Number(db.prepare<[], number>(sql).pluck().get() ?? 0);
  const hasTable = (name: string): boolean =>
    db.prepare(`SELECT 1 FROM ${schema}.sqlite_master WHERE type = 'table' AND name = ?`).get(name) !== undefined;
  const rowCounts: Record<string, number> = {};
  for (const table of COUNTED_TABLES) if (hasTable(table)) rowCounts[table] = one(`SELECT count(*) FROM ${schema}.${table}`);
  return {
    schemaVersion: hasTable('schema_migrations') ? one(`SELECT coalesce(max(version), 0) FROM ${schema}.schema_migrations`) : 0,
    highestCrlNumber: hasTable('crl_numbers') ? one(`SELECT coalesce(max(last_number), 0) FROM ${schema}.crl_numbers`) : 0,
    latestIssuedAt: one(`SELECT coalesce(max(issued_at), 0) FROM ${schema}.certificates`),
    revokedCount: one(`SELECT count(*) FROM ${schema}.certificates WHERE status = 'revoked'`),
    rowCounts,
  };
}

/** Private keys in ca/ must be encrypted (PKCS#8 ENCRYPTED PRIVATE KEY); the cluster key is sealed here. */
const PLAIN_KEY_LABEL = /-----BEGIN (?:RSA |EC |)PRIVATE KEY-----/;
export const CLUSTER_KEY_FILE = 'cluster.key';
export const SEALED_CLUSTER_KEY_ENTRY = 'ca/cluster.key.enc';

interface CaEntry {
  readonly name: string;
  readonly bytes: Buffer;
}

/** The CA directory as archive entries, or a refusal naming the first key stored in the clear. */
export function caEntries(dataDir: string, passphrase: string | undefined): CaEntry[] {
  const caDir = join(dataDir, 'ca');
  if (passphrase === undefined) {
    throw new DomainError(
      'forbidden',
      '--include-ca needs KEYSMITH_CA_PASSPHRASE: the CA keys go into a backup only encrypted, and the cluster key is sealed with the same passphrase',
    );
  }
  if (!existsSync(caDir)) throw new DomainError('notFound', `${caDir} does not exist: nothing to include`);
  const entries: CaEntry[] = [];
  for (const name of caFiles(caDir)) {
    const path = join(caDir, name);
    const bytes = readFileSync(path);
    if (name === CLUSTER_KEY_FILE) {
      entries.push({ name: SEALED_CLUSTER_KEY_ENTRY, bytes: sealSecret(bytes, passphrase) });
      continue;
    }
    if (PLAIN_KEY_LABEL.test(bytes.toString('latin1'))) {
      throw new DomainError(
        'forbidden',
        `${path} holds an unencrypted private key; a backup carries CA keys only encrypted. Re-encrypt it with KEYSMITH_CA_PASSPHRASE (openssl pkcs8 -topk8 -v2 aes-256-cbc), or back up without --include-ca`,
      );
    }
    entries.push({ name: `ca/${name}`, bytes });
  }
  return entries;
}

/** Deepest level under ca/ (`intermediates/<serial>/key.pem`). */
const CA_DEPTH = 3;

/**
 * The files of ca/ as relative paths, sorted, down to CA_DEPTH levels: the
 * hierarchy, the JWT keys and, after a rotation, `intermediates/<serial>/`.
 * Hidden names (staging directories, lock files of a rotation in progress)
 * and `.tmp` files are half-made and stay out.
 */
function caFiles(caDir: string, prefix = '', depth = 1): string[] {
  const files: string[] = [];
  for (const name of readdirSync(join(caDir, prefix)).sort()) {
    if (name.startsWith('.') || name.endsWith('.tmp')) continue;
    const relative = prefix === '' ? name : `${prefix}/${name}`;
    const stat = statSync(join(caDir, relative));
    if (stat.isFile()) files.push(relative);
    else if (stat.isDirectory() && depth < CA_DEPTH) files.push(...caFiles(caDir, relative, depth + 1));
    else if (stat.isDirectory())
      throw new DomainError(
        'conflict',
        `${join(caDir, relative)}: ca/ is deeper than keysmith makes it; move the directory out before backing up`,
      );
  }
  return files;
}

/** Writes the archive under a temporary name (0600 from the first byte), syncs it, then renames it into place. */
function writeArchive(
  out: string,
  manifest: Omit<BackupManifest, 'files'>,
  ledgerEntry: { name: string; path: string },
  ca: readonly CaEntry[],
): BackupManifest {
  const files: BackupFileEntry[] = [{ path: ledgerEntry.name, ...sha256File(ledgerEntry.path) }];
  for (const entry of ca) files.push({ path: entry.name, size: entry.bytes.length, sha256: sha256Hex(entry.bytes) });
  const full: BackupManifest = { ...manifest, files };
  const temporary = `${out}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    const tar = new TarWriter(fd, manifest.taken_at_ms);
    tar.addBytes('manifest.json', Buffer.from(JSON.stringify(full, null, 2) + '\n'));
    tar.addFile(ledgerEntry.name, ledgerEntry.path);
    for (const entry of ca) tar.addBytes(entry.name, entry.bytes);
    tar.finish();
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, out);
  return full;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function manifestFrom(
  backend: 'sqlite' | 'postgres',
  stats: LedgerStats,
  takenAt: number,
  includesCa: boolean,
): Omit<BackupManifest, 'files'> {
  return {
    format: BACKUP_FORMAT,
    format_version: BACKUP_FORMAT_VERSION,
    backend,
    schema_version: stats.schemaVersion,
    taken_at: new Date(takenAt).toISOString(),
    taken_at_ms: takenAt,
    highest_crl_number: stats.highestCrlNumber,
    latest_issued_at_ms: stats.latestIssuedAt,
    row_counts: { ...stats.rowCounts, revoked_certificates: stats.revokedCount },
    includes_ca: includesCa,
  };
}

/** SQLite: VACUUM INTO a private directory, check the copy, archive it. */
export function backupSqlite(config: Config, out: string, includeCa: boolean, now: number): BackupManifest {
  const source = dataPaths(config.dataDir).database;
  if (!existsSync(source))
    throw new DomainError('notFound', `${source} does not exist: no ledger to back up (is --config/KEYSMITH_DATA_DIR right?)`);
  const ca = includeCa ? caEntries(config.dataDir, config.caPassphrase) : [];
  const scratch = mkdtempSync(join(tmpdir(), 'keysmith-backup-'));
  try {
    const copy = join(scratch, 'keysmith.db');
    const live = new Database(source, { readonly: true, fileMustExist: true, timeout: 10_000 });
    try {
      live.prepare('VACUUM INTO ?').run(copy);
    } finally {
      live.close();
    }
    const snapshot = new Database(copy);
    let stats: LedgerStats;
    try {
      const verdict = snapshot.pragma('integrity_check', { simple: true });
      if (verdict !== 'ok') throw new Error(`the copy failed PRAGMA integrity_check: ${String(verdict)}`);
      stats = sqliteStats(snapshot);
    } finally {
      snapshot.close();
    }
    return writeArchive(out, manifestFrom('sqlite', stats, now, includeCa), { name: 'keysmith.db', path: copy }, ca);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The sentence for an operator without pg_dump. */
export function pgDumpAdvice(config: Config): string {
  return `pg_dump is not on PATH: back up the PostgreSQL ledger with \`pg_dump --format=custom --file=keysmith.pgdump "$KEYSMITH_DATABASE_URL"\` (PostgreSQL's client tools, same major version as the server) and copy ${join(config.dataDir, 'ca')} with it; see docs/backup-restore.md`;
}

export function hasPgDump(): boolean {
  const probe = spawnSync('pg_dump', ['--version'], { stdio: 'ignore' });
  return probe.error === undefined && probe.status === 0;
}

/**
 * The URL without its password, which goes to pg_dump through PGPASSWORD (argv
 * is visible to every local user); keysmith's TLS settings become libpq's
 * (PGSSLMODE, PGSSLROOTCERT), so pg_dump checks the server as the service does.
 */
function pgDumpConnection(config: Config, url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (password !== '') env['PGPASSWORD'] = password;
  if (config.databaseSslMode !== undefined) env['PGSSLMODE'] = config.databaseSslMode;
  if (config.databaseSslCaFile !== undefined) env['PGSSLROOTCERT'] = config.databaseSslCaFile;
  return { dbname: parsed.toString(), env };
}

async function runPgDump(config: Config, url: string, snapshot: string, file: string): Promise<void> {
  const { dbname, env } = pgDumpConnection(config, url);
  const child = spawn('pg_dump', ['--format=custom', `--snapshot=${snapshot}`, `--file=${file}`, `--dbname=${dbname}`], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString('utf8');
  });
  const code = await new Promise<number | null>((done, fail) => {
    child.once('error', fail);
    child.once('close', done);
  });
  if (code !== 0) throw new Error(`pg_dump failed (exit ${String(code)}) on ${redactUrl(url)}: ${stderr.trim()}`);
}

/** PostgreSQL: export a snapshot, count in it, pg_dump in it, archive the dump. */
export async function backupPostgres(config: Config, url: string, out: string, includeCa: boolean, now: number): Promise<BackupManifest> {
  if (!hasPgDump()) throw new DomainError('unavailable', pgDumpAdvice(config));
  const ca = includeCa ? caEntries(config.dataDir, config.caPassphrase) : [];
  const location = ledgerLocation(config);
  const database = new PostgresDatabase(location.kind === 'postgres' ? { ...location, poolSize: 1 } : { url, poolSize: 1 });
  const client = await database.dedicatedClient();
  const scratch = mkdtempSync(join(tmpdir(), 'keysmith-backup-'));
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const snapshot = String((await client.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0]?.id);
    const one = async (sql: string): Promise<number> =>
      Number(Object.values((await client.query<Record<string, unknown>>(sql)).rows[0] ?? { n: 0 })[0] ?? 0);
    const rowCounts: Record<string, number> = {};
    for (const table of COUNTED_TABLES) rowCounts[table] = await one(`SELECT count(*) FROM ${table}`);
    const stats: LedgerStats = {
      schemaVersion: await one('SELECT coalesce(max(version), 0) FROM schema_migrations'),
      highestCrlNumber: await one('SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM crl_number'),
      latestIssuedAt: await one('SELECT coalesce(max(issued_at), 0) FROM certificates'),
      revokedCount: await one(`SELECT count(*) FROM certificates WHERE status = 'revoked'`),
      rowCounts,
    };
    const dump = join(scratch, 'ledger.pgdump');
    await runPgDump(config, url, snapshot, dump);
    await client.query('COMMIT');
    return writeArchive(out, manifestFrom('postgres', stats, now, includeCa), { name: 'ledger.pgdump', path: dump }, ca);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await client.end().catch(() => undefined);
    await database.close();
  }
}

export const backupCommand: Command = {
  name: 'backup',
  summary: 'write a consistent backup of the ledger (safe while serve runs), optionally with the encrypted CA directory',
  usage: 'keysmith backup --out FILE [--include-ca] [--json] [--config FILE]',
  example: 'keysmith backup --out /backups/keysmith-$(date +%F).tar --include-ca',
  options: {
    out: { type: 'string', value: 'FILE', help: 'the archive to write (a tar, mode 0600); must not exist yet', default: 'none (required)' },
    'include-ca': {
      type: 'boolean',
      help: 'add <dataDir>/ca (refused unless every private key in it is encrypted; needs KEYSMITH_CA_PASSPHRASE)',
      default: 'false',
    },
    json: { type: 'boolean', help: 'print the manifest as one JSON document', default: 'false' },
  },
  async run(parsed) {
    const config = configOf(parsed);
    const out = resolve(requireOption(parsed, 'out'));
    if (existsSync(out)) throw new DomainError('conflict', `${out} already exists: give a new name (a backup never overwrites another)`);
    if (!existsSync(dirname(out))) throw new DomainError('notFound', `${dirname(out)} does not exist: create the directory first`);
    const includeCa = parsed.values['include-ca'] === true;
    const now = systemClock.now();
    const manifest =
      config.databaseUrl === undefined
        ? backupSqlite(config, out, includeCa, now)
        : await backupPostgres(config, config.databaseUrl, out, includeCa, now);
    if (parsed.values['json'] === true) {
      console.log(JSON.stringify(manifest));
    } else {
      const counts = Object.entries(manifest.row_counts)
        .map(([table, n]) => `${table} ${n}`)
        .join(', ');
      console.log(
        `wrote ${out} (${manifest.backend}, schema ${manifest.schema_version}, CRL number ${manifest.highest_crl_number}${manifest.includes_ca ? ', with ca/' : ''}): ${counts}`,
      );
    }
    return 0;
  },
};
