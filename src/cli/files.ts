import {
  accessSync,
  chmodSync,
  closeSync,
  constants,
  existsSync,
  fchmodSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { fixMode } from '../ca/index.js';
import { explainFileError } from './file-errors.js';
import { basename, dirname, join } from 'node:path';

/** Where keysmith keeps what it makes, under the data directory. */
export function dataPaths(dataDir: string) {
  return {
    database: join(dataDir, 'keysmith.db'),
    bundle: join(dataDir, 'bundle.pem'),
    serverCert: join(dataDir, 'server', 'cert.pem'),
    serverKey: join(dataDir, 'server', 'key.pem'),
    adminCert: join(dataDir, 'admin', 'cert.pem'),
    adminKey: join(dataDir, 'admin', 'key.pem'),
  } as const;
}

/** A directory only its owner can enter (0700), made if missing. */
export function ensurePrivateDir(path: string): void {
  mkdirSync(path, { recursive: true, mode: 0o700 });
  chmodSync(path, 0o700);
}

/**
 * The data directory: made 0700 when missing; one that group or others can
 * reach is tightened to 0700 with a warning (as the CA key files are), since
 * the ledger and the listener's key may have been readable. Permission errors
 * become a sentence naming the path and what to do.
 */
export function ensureDataDir(path: string, warn: (message: string) => void): void {
  try {
    if (!existsSync(path)) {
      mkdirSync(path, { recursive: true, mode: 0o700 });
      chmodSync(path, 0o700);
      return;
    }
    if (!statSync(path).isDirectory())
      throw new Error(
        `the data directory ${path} is not a directory: set KEYSMITH_DATA_DIR (dataDir) to a directory keysmith may create or own`,
      );
    fixMode(path, 0o700, warn);
    // A directory of ours that we may not write (0500) would fail later, half-way through making the CA.
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw explainFileError(err, 'the data directory', path);
  }
}

/**
 * Writes through a temporary file and a rename, so a crash never leaves half
 * a key or certificate; private keys are 0600 from the first byte.
 */
export function writeFileAtomic(path: string, contents: string, mode: 0o600 | 0o644): void {
  ensurePrivateDir(dirname(path));
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, contents, { mode });
  chmodSync(temporary, mode);
  renameSync(temporary, path);
}

/**
 * A secret file for the operator (a PKCS#12 bundle) at a path they chose: a
 * missing directory is made 0700, an existing one is left as it is (it may
 * be their home or working directory). The bytes go to a new temporary file
 * beside the target, created exclusively with mode 0600 (never an existing
 * file or a planted symlink, and never readable by others at any moment),
 * flushed, then renamed over the target: a crash leaves the old file or the
 * new one, never half of one.
 */
export function writeSecretFileAtomic(path: string, contents: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${process.hrtime.bigint()}.tmp`);
  const fd = openSync(temporary, 'wx', 0o600);
  try {
    try {
      fchmodSync(fd, 0o600); // exactly 0600 whatever the umask took away
      for (let offset = 0; offset < contents.byteLength;) offset += writeSync(fd, contents, offset);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}

export function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
