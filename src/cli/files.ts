import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { fixMode } from '../ca/index.js';
import { explainFileError } from './file-errors.js';
import { dirname, join } from 'node:path';

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

export function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}
