/**
 * Private key files of the CA and the JWT authority: written durably with an
 * exact mode, optionally encrypted with the one CA passphrase, read back with
 * errors that name the file and the setting to fix.
 */
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { createPrivateKey, type KeyObject } from 'node:crypto';

export const PASSPHRASE_VARIABLE = 'KEYSMITH_CA_PASSPHRASE';
const KEY_CIPHER = 'aes-256-cbc';
const ENCRYPTED_LABEL = '-----BEGIN ENCRYPTED PRIVATE KEY-----';

/** PKCS#8 PEM, encrypted when a passphrase is given. */
export function exportPrivateKey(key: KeyObject, passphrase: string | undefined): string {
  if (passphrase === undefined) return key.export({ type: 'pkcs8', format: 'pem' }).toString();
  if (passphrase.length === 0) throw new Error(`${PASSPHRASE_VARIABLE} is set but empty`);
  return key.export({ type: 'pkcs8', format: 'pem', cipher: KEY_CIPHER, passphrase }).toString();
}

/** Creates `path` (never overwrites), writes and fsyncs it, and sets `mode` exactly. */
export function writeDurably(path: string, contents: string | Uint8Array, mode: number): void {
  const fd = openSync(path, 'wx', mode);
  try {
    if (typeof contents === 'string') writeSync(fd, contents);
    else writeSync(fd, contents);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // The mode given to open is masked by the umask; set it exactly.
  chmodSync(path, mode);
}

/** Makes a rename or link in `path` durable. */
export function syncDirectory(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Tightens a file or directory that group or others can reach, and says so: the key may have been exposed. */
export function fixMode(path: string, wanted: number, warn: (message: string) => void): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) === 0) return;
  chmodSync(path, wanted);
  warn(
    `${path} had mode ${mode.toString(8).padStart(4, '0')} (readable by group or others); set to ${wanted.toString(8).padStart(4, '0')}`,
  );
}

/** Reads a PKCS#8 PEM key; `what` names it in errors ('CA key', 'JWT signing key'). */
export function readPrivateKey(path: string, passphrase: string | undefined, what: string, warn: (message: string) => void): KeyObject {
  const pem = readFileSync(path, 'utf8');
  const isEncrypted = pem.includes(ENCRYPTED_LABEL);
  if (isEncrypted && (passphrase === undefined || passphrase.length === 0)) {
    throw new Error(`the ${what} ${path} is encrypted: set ${PASSPHRASE_VARIABLE}`);
  }
  if (!isEncrypted && passphrase !== undefined) warn(`${path} is stored unencrypted although ${PASSPHRASE_VARIABLE} is set`);
  try {
    return isEncrypted
      ? createPrivateKey({ key: pem, format: 'pem', passphrase: passphrase ?? '' })
      : createPrivateKey({ key: pem, format: 'pem' });
  } catch (cause) {
    if (isEncrypted)
      throw new Error(`cannot decrypt the ${what} ${path}: is ${PASSPHRASE_VARIABLE} the passphrase it was created with?`, { cause });
    throw new Error(`the ${what} ${path} is not a PKCS#8 PEM private key`, { cause });
  }
}
