/**
 * `keysmith restore FILE [--data-dir DIR] [--force] [--crl FILE]...`: puts a
 * backup's SQLite ledger (and CA directory, when it has one) into a data
 * directory. What a restore must never do, and how it is prevented:
 *
 * - Go back in time silently: a live ledger with more certificates, a later
 *   issued_at, more revocations or a higher CRL number than the backup makes it
 *   refuse, unless --force.
 * - Un-revoke: revocations the live ledger knows, and those in the CRL files on
 *   disk (<dataDir>/crl/*.crl) or passed with --crl (the last published CRL),
 *   are applied to the restored ledger before it replaces the live one.
 * - Forget a certificate: rows the live ledger has and the backup lacks are
 *   carried over, so a serial handed out stays in the ledger (never reused,
 *   still answerable by OCSP, still on the CRL when revoked). The CRL number
 *   continues from the highest one seen (RFC 5280 §5.2.3: it only grows).
 * - Run under a live `serve`: the live ledger is opened with
 *   locking_mode=EXCLUSIVE and BEGIN EXCLUSIVE with no busy wait. Any other
 *   connection to the file (an idle serve holds one) makes that fail at once,
 *   and once taken the lock is held until the new file is in place, so no
 *   serve can open the old one meanwhile.
 *
 * The restored file is checked (PRAGMA integrity_check, foreign_key_check)
 * before it replaces the live one; the live one is kept beside it as
 * keysmith.db.before-restore-<time>.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { openLedger } from '../ledger/index.js';
import { systemClock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import { stringList, stringOption, UsageError, type Command } from './args.js';
import { configOf, onePositional } from './offline.js';
import { BACKUP_FORMAT, BACKUP_FORMAT_VERSION, openSealedSecret, readTar, type BackupManifest } from './backup-archive.js';
import { CLUSTER_KEY_FILE, SEALED_CLUSTER_KEY_ENTRY, sqliteStats, type LedgerStats } from './backup.js';
import { dataPaths, ensurePrivateDir } from './files.js';
import { crlRevocations, reconcile } from './restore-reconcile.js';

export interface RestoreOptions {
  readonly archive: string;
  readonly dataDir: string;
  readonly force: boolean;
  /** CRL files (DER or PEM) whose revocations must hold after the restore, besides <dataDir>/crl/*.crl. */
  readonly crlFiles: readonly string[];
  readonly caPassphrase: string | undefined;
  readonly now: number;
}

export interface RestoreReport {
  readonly dataDir: string;
  readonly backupTakenAt: string;
  /** Certificates in the live ledger that the backup lacked, carried over. */
  readonly carriedCertificates: number;
  /** Certificates the backup had as valid and the live ledger as revoked. */
  readonly revocationsFromLedger: number;
  /** Certificates still valid after that which a CRL lists as revoked. */
  readonly revocationsFromCrl: number;
  /** CRL entries whose serial is in no ledger (issued after the backup, live ledger gone): the CRL still lists them. */
  readonly unknownCrlSerials: number;
  readonly crlNumber: number;
  readonly caRestored: boolean;
  /** Where the replaced ledger was kept, if there was one. */
  readonly previousLedger: string | null;
}

interface Extracted {
  readonly manifest: BackupManifest;
  readonly ca: ReadonlyMap<string, Buffer>;
}

/** Unpacks the archive: the ledger into `ledgerPath` (0600), the CA files into memory; every sha256 checked against the manifest. */
function extract(archive: string, ledgerPath: string): Extracted {
  let manifestBytes: Buffer | undefined;
  const ca = new Map<string, Buffer>();
  const hashes = new Map<string, string>();
  readTar(archive, (name) => {
    const hash = createHash('sha256');
    if (name === 'keysmith.db') {
      const fd = openSync(ledgerPath, 'wx', 0o600);
      return {
        write: (chunk) => {
          hash.update(chunk);
          writeSync(fd, chunk);
        },
        end: () => {
          fsyncSync(fd);
          closeSync(fd);
          hashes.set(name, hash.digest('hex'));
        },
      };
    }
    if (name === 'ledger.pgdump') {
      throw new DomainError(
        'forbidden',
        `${archive} holds a PostgreSQL dump: restore it with \`tar -xf ${archive} ledger.pgdump && pg_restore --clean --if-exists --single-transaction --dbname="$KEYSMITH_DATABASE_URL" ledger.pgdump\` (see docs/backup-restore.md)`,
      );
    }
    const chunks: Buffer[] = [];
    return {
      write: (chunk) => {
        hash.update(chunk);
        chunks.push(Buffer.from(chunk));
      },
      end: () => {
        hashes.set(name, hash.digest('hex'));
        if (name === 'manifest.json') manifestBytes = Buffer.concat(chunks);
        else ca.set(name, Buffer.concat(chunks));
      },
    };
  });
  if (manifestBytes === undefined) throw new DomainError('malformed', `${archive} has no manifest.json: not a keysmith backup`);
  const manifest = JSON.parse(manifestBytes.toString('utf8')) as BackupManifest;
  if (manifest.format !== BACKUP_FORMAT || manifest.format_version !== BACKUP_FORMAT_VERSION) {
    throw new DomainError(
      'malformed',
      `${archive}: manifest format ${String(manifest.format)} v${String(manifest.format_version)} is not one this keysmith reads (${BACKUP_FORMAT} v${BACKUP_FORMAT_VERSION})`,
    );
  }
  for (const file of manifest.files) {
    if (hashes.get(file.path) !== file.sha256)
      throw new DomainError(
        'malformed',
        `${archive}: ${file.path} does not match the manifest's sha256 (damaged or altered); nothing was restored`,
      );
  }
  if (!hashes.has('keysmith.db')) throw new DomainError('malformed', `${archive} holds no keysmith.db`);
  return { manifest, ca };
}

/** Why the live ledger is newer than the backup, or [] when it is not. */
function newerThan(live: LedgerStats, manifest: BackupManifest): string[] {
  const reasons: string[] = [];
  const backupCertificates = manifest.row_counts['certificates'] ?? 0;
  const liveCertificates = live.rowCounts['certificates'] ?? 0;
  if (liveCertificates > backupCertificates) reasons.push(`${liveCertificates} certificates against the backup's ${backupCertificates}`);
  if (live.latestIssuedAt > manifest.latest_issued_at_ms) {
    reasons.push(
      `a certificate issued at ${new Date(live.latestIssuedAt).toISOString()}, after the backup's latest (${new Date(manifest.latest_issued_at_ms).toISOString()})`,
    );
  }
  const backupRevoked = manifest.row_counts['revoked_certificates'] ?? 0;
  if (live.revokedCount > backupRevoked) reasons.push(`${live.revokedCount} revoked certificates against the backup's ${backupRevoked}`);
  if (live.highestCrlNumber > manifest.highest_crl_number)
    reasons.push(`CRL number ${live.highestCrlNumber} against the backup's ${manifest.highest_crl_number}`);
  return reasons;
}

/** The live ledger, locked against every other connection, or a sentence saying who holds it. */
function lockLiveLedger(path: string): Database.Database {
  const live = new Database(path, { fileMustExist: true, timeout: 0 });
  try {
    live.pragma('locking_mode = EXCLUSIVE');
    // Takes the file's exclusive lock and, in this locking mode, keeps it after COMMIT until close.
    live.exec('BEGIN EXCLUSIVE');
    live.exec('COMMIT');
    return live;
  } catch (error) {
    live.close();
    if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY')) {
      throw new DomainError('conflict', `${path} is open in another process (a running keysmith serve?): stop it, then restore`);
    }
    throw error;
  }
}

/** PRAGMA integrity_check and foreign_key_check on the restored file; anything but a clean answer stops the restore. */
function checkRestored(path: string): void {
  const db = new Database(path);
  try {
    const integrity = db.pragma('integrity_check', { simple: true });
    if (integrity !== 'ok')
      throw new Error(`the restored ledger fails PRAGMA integrity_check: ${String(integrity)}; the live ledger was left as it was`);
    const dangling = db.pragma('foreign_key_check') as unknown[];
    if (dangling.length > 0)
      throw new Error(`the restored ledger has ${dangling.length} rows that break a foreign key; the live ledger was left as it was`);
    // The file replaces a WAL ledger: leave it in rollback mode, and serve turns WAL on as it opens it.
    db.pragma('journal_mode = DELETE');
  } finally {
    db.close();
  }
}

function restoreCa(dataDir: string, ca: ReadonlyMap<string, Buffer>, passphrase: string | undefined): boolean {
  if (ca.size === 0) return false;
  const caDir = join(dataDir, 'ca');
  if (existsSync(caDir) && readdirSync(caDir).length > 0) return false;
  const sealed = ca.get(SEALED_CLUSTER_KEY_ENTRY);
  if (sealed !== undefined && passphrase === undefined) {
    throw new DomainError(
      'forbidden',
      'this backup carries the CA directory: set KEYSMITH_CA_PASSPHRASE (the passphrase it was taken with) to restore it',
    );
  }
  const files = new Map<string, Buffer>();
  for (const [entry, bytes] of ca) {
    if (entry === SEALED_CLUSTER_KEY_ENTRY && passphrase !== undefined) files.set(CLUSTER_KEY_FILE, openSealedSecret(bytes, passphrase));
    else files.set(entry.slice('ca/'.length), bytes);
  }
  mkdirSync(caDir, { recursive: true, mode: 0o700 });
  for (const [name, bytes] of files) {
    // Nested entries (ca/intermediates/<serial>/...) get their directories, private like ca/ itself.
    mkdirSync(dirname(join(caDir, name)), { recursive: true, mode: 0o700 });
    const fd = openSync(join(caDir, name), 'wx', name.endsWith('.cert.pem') || name.endsWith('.crt') ? 0o644 : 0o600);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }
  return true;
}

/** The restore itself (see the module comment); throws before touching the live ledger whenever it refuses. */
export function restoreBackup(options: RestoreOptions): RestoreReport {
  const dataDir = resolve(options.dataDir);
  ensurePrivateDir(dataDir);
  const target = dataPaths(dataDir).database;
  const restoring = `${target}.restoring-${process.pid}`;
  rmSync(restoring, { force: true });
  let live: Database.Database | undefined;
  try {
    const { manifest, ca } = extract(options.archive, restoring);
    if (manifest.backend !== 'sqlite')
      throw new DomainError('forbidden', `${options.archive} is a ${manifest.backend} backup; see docs/backup-restore.md`);
    if (ca.has(SEALED_CLUSTER_KEY_ENTRY) && options.caPassphrase === undefined && !existsSync(join(dataDir, 'ca'))) {
      throw new DomainError(
        'forbidden',
        'this backup carries the CA directory: set KEYSMITH_CA_PASSPHRASE (the passphrase it was taken with) to restore it',
      );
    }
    // Bring the restored copy to this keysmith's schema first, so live rows carry over column for column.
    openLedger({ path: restoring }).close();
    if (existsSync(target)) {
      live = lockLiveLedger(target);
      const reasons = newerThan(sqliteStats(live), manifest);
      if (reasons.length > 0 && !options.force) {
        throw new DomainError(
          'conflict',
          `${target} is newer than the backup of ${manifest.taken_at} (${reasons.join('; ')}): restoring would go back in time. ` +
            'Nothing was changed. To restore anyway, pass --force: certificates and revocations the live ledger knows are carried into the restored one.',
        );
      }
    }
    const counts = reconcile(restoring, live, crlRevocations(dataDir, options.crlFiles), manifest.highest_crl_number);
    checkRestored(restoring);
    const caRestored = restoreCa(dataDir, ca, options.caPassphrase);
    let previous: string | null = null;
    if (live !== undefined) {
      // Still holding the lock: fold the WAL into the old file and drop it, so no -wal of the old ledger meets the new one.
      live.pragma('journal_mode = DELETE');
      previous = `${target}.before-restore-${new Date(options.now).toISOString().replace(/[:.]/g, '-')}`;
      renameSync(target, previous);
    }
    for (const suffix of ['-wal', '-shm']) rmSync(`${target}${suffix}`, { force: true });
    renameSync(restoring, target);
    const dirFd = openSync(dataDir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
    return {
      dataDir,
      backupTakenAt: manifest.taken_at,
      carriedCertificates: counts.carried,
      revocationsFromLedger: counts.fromLedger,
      revocationsFromCrl: counts.fromCrl,
      unknownCrlSerials: counts.unknown,
      crlNumber: counts.crlNumber,
      caRestored,
      previousLedger: previous,
    };
  } finally {
    live?.close();
    for (const leftover of [restoring, `${restoring}-wal`, `${restoring}-shm`]) rmSync(leftover, { force: true });
  }
}

export const restoreCommand: Command = {
  name: 'restore',
  summary: 'restore a backup into a data directory (never un-revokes; refuses an older backup without --force)',
  usage: 'keysmith restore FILE [--data-dir DIR] [--force] [--crl FILE]... [--json] [--config FILE]',
  example: 'keysmith restore /backups/keysmith-2026-12-01.tar --data-dir /var/lib/keysmith --crl /srv/www/crl/full.crl',
  allowPositionals: true,
  options: {
    'data-dir': {
      type: 'string',
      value: 'DIR',
      help: 'the data directory to restore into',
      default: 'dataDir from the configuration (./data)',
    },
    force: {
      type: 'boolean',
      help: 'restore even when the live ledger is newer (its certificates and revocations are carried over)',
      default: 'false',
    },
    crl: {
      type: 'string',
      multiple: true,
      value: 'FILE',
      help: 'a published CRL (DER or PEM) whose revocations must hold after the restore; repeatable',
      default: 'none (the CRLs in <dataDir>/crl are always read)',
    },
    json: { type: 'boolean', help: 'print the report as one JSON document', default: 'false' },
  },
  async run(parsed) {
    const archive = onePositional(parsed, 'backup FILE');
    const config = configOf(parsed);
    const dataDir = stringOption(parsed, 'data-dir') ?? config.dataDir;
    if (config.databaseUrl !== undefined && stringOption(parsed, 'data-dir') === undefined) {
      throw new UsageError(
        'KEYSMITH_DATABASE_URL is set: the ledger is on PostgreSQL (restore it with pg_restore, docs/backup-restore.md); give --data-dir to restore a SQLite backup into a directory',
      );
    }
    const report = restoreBackup({
      archive: resolve(archive),
      dataDir,
      force: parsed.values['force'] === true,
      crlFiles: stringList(parsed, 'crl'),
      caPassphrase: config.caPassphrase,
      now: systemClock.now(),
    });
    if (parsed.values['json'] === true) {
      console.log(JSON.stringify(report));
    } else {
      console.log(`restored the backup of ${report.backupTakenAt} into ${report.dataDir}`);
      console.log(`  certificates carried over from the live ledger: ${report.carriedCertificates}`);
      console.log(`  revocations re-applied from the live ledger: ${report.revocationsFromLedger}`);
      console.log(`  revocations re-applied from CRL files: ${report.revocationsFromCrl}`);
      if (report.unknownCrlSerials > 0)
        console.log(
          `  CRL serials in no ledger (issued after the backup; keep publishing that CRL until they expire): ${report.unknownCrlSerials}`,
        );
      console.log(`  CRL number continues above ${report.crlNumber}`);
      if (report.caRestored) console.log(`  restored ${join(report.dataDir, 'ca')}`);
      if (report.previousLedger !== null) console.log(`  the replaced ledger is kept as ${report.previousLedger}`);
    }
    return 0;
  },
};
