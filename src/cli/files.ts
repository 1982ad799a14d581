import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
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
