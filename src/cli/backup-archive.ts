/**
 * The backup file: a plain POSIX ustar archive, written and read here with no
 * dependency, so an operator can list or unpack it with `tar -tvf` / `tar -xf`.
 * Entries: `manifest.json` first (what restore reasons about), then the ledger
 * (`keysmith.db`, or `ledger.pgdump` from pg_dump), then `ca/...` when asked.
 * One file rather than a directory: it is written under a temporary name and
 * renamed, so a backup either exists whole or not at all, and it is one thing
 * to copy off the machine, at mode 0600.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { DomainError } from '../shared/errors.js';

export const BACKUP_FORMAT = 'keysmith-backup';
export const BACKUP_FORMAT_VERSION = 1;
const BLOCK = 512;
const CHUNK = 1 << 20;

export interface BackupFileEntry {
  readonly path: string;
  readonly size: number;
  readonly sha256: string;
}

export interface BackupManifest {
  readonly format: typeof BACKUP_FORMAT;
  readonly format_version: number;
  readonly backend: 'sqlite' | 'postgres';
  readonly schema_version: number;
  readonly taken_at: string;
  readonly taken_at_ms: number;
  /** The last CRL number handed out (RFC 5280 §5.2.3): a restore never lets it go back. */
  readonly highest_crl_number: number;
  /** The latest issued_at in the ledger (0 when empty). */
  readonly latest_issued_at_ms: number;
  readonly row_counts: Readonly<Record<string, number>>;
  readonly includes_ca: boolean;
  readonly files: readonly BackupFileEntry[];
}

/**
 * Names an archive may hold: anything else (an absolute path, `..`, a hidden
 * file) is refused before a byte is written. Under ca/ up to three levels
 * (`ca/intermediates/<serial>/key.pem` after a rotation); the whole name fits
 * the 100 bytes of a tar header.
 */
const ENTRY_NAME = /^(?=.{1,100}$)(manifest\.json|keysmith\.db|ledger\.pgdump|ca(\/[A-Za-z0-9][A-Za-z0-9._-]{0,90}){1,3})$/;

export function checkEntryName(name: string): void {
  if (!ENTRY_NAME.test(name))
    throw new DomainError('malformed', `the backup holds an unexpected entry '${name.slice(0, 120)}': not a keysmith backup`);
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number, mtimeMs: number): Buffer {
  checkEntryName(name);
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(0o600, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(Math.floor(mtimeMs / 1000), 12), 136, 'ascii');
  block.write('        ', 148, 'ascii');
  block.write('0', 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'ascii');
  return block;
}

/** Streams entries into an open file descriptor. */
export class TarWriter {
  constructor(
    private readonly fd: number,
    private readonly mtimeMs: number,
  ) {}

  addBytes(name: string, bytes: Uint8Array): void {
    writeSync(this.fd, header(name, bytes.length, this.mtimeMs));
    writeSync(this.fd, bytes);
    this.pad(bytes.length);
  }

  /** Copies a file in 1 MiB chunks; its size is taken once, so the source must not change meanwhile (a private copy). */
  addFile(name: string, path: string): void {
    const source = openSync(path, 'r');
    try {
      const size = fstatSync(source).size;
      writeSync(this.fd, header(name, size, this.mtimeMs));
      const buffer = Buffer.alloc(CHUNK);
      let copied = 0;
      while (copied < size) {
        const read = readSync(source, buffer, 0, Math.min(CHUNK, size - copied), copied);
        if (read === 0) throw new Error(`${path} shrank while it was archived`);
        writeSync(this.fd, buffer, 0, read);
        copied += read;
      }
      this.pad(size);
    } finally {
      closeSync(source);
    }
  }

  /** Two zero blocks end a tar archive. */
  finish(): void {
    writeSync(this.fd, Buffer.alloc(BLOCK * 2));
  }

  private pad(size: number): void {
    const rest = size % BLOCK;
    if (rest !== 0) writeSync(this.fd, Buffer.alloc(BLOCK - rest));
  }
}

export function sha256File(path: string): { size: number; sha256: string } {
  const fd = openSync(path, 'r');
  try {
    const hash = createHash('sha256');
    const buffer = Buffer.alloc(CHUNK);
    let size = 0;
    for (;;) {
      const read = readSync(fd, buffer, 0, CHUNK, size);
      if (read === 0) break;
      hash.update(buffer.subarray(0, read));
      size += read;
    }
    return { size, sha256: hash.digest('hex') };
  } finally {
    closeSync(fd);
  }
}

export interface TarEntryHandler {
  /** Called per entry with its name and size; returns the sink its bytes go to. */
  (name: string, size: number): { write(chunk: Uint8Array): void; end(): void };
}

/** Reads a ustar archive from `path`, handing each regular file's bytes to `open`. Refuses anything but plain files with expected names. */
export function readTar(path: string, open: TarEntryHandler): void {
  const fd = openSync(path, 'r');
  try {
    const total = fstatSync(fd).size;
    let offset = 0;
    const block = Buffer.alloc(BLOCK);
    const buffer = Buffer.alloc(CHUNK);
    while (offset + BLOCK <= total) {
      readSync(fd, block, 0, BLOCK, offset);
      offset += BLOCK;
      if (block.every((byte) => byte === 0)) return;
      const name = block.toString('utf8', 0, 100).replace(/\0.*$/s, '');
      const size = parseInt(block.toString('ascii', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
      const type = block.toString('ascii', 156, 157);
      if (block.toString('ascii', 257, 262) !== 'ustar' || !Number.isSafeInteger(size) || size < 0) {
        throw new DomainError('malformed', `${path} is not a keysmith backup (not a tar archive)`);
      }
      if (type !== '0' && type !== '\0') throw new DomainError('malformed', `${path}: entry '${name}' is not a plain file`);
      checkEntryName(name);
      if (offset + size > total) throw new DomainError('malformed', `${path} is cut short (entry '${name}')`);
      const sink = open(name, size);
      let copied = 0;
      while (copied < size) {
        const read = readSync(fd, buffer, 0, Math.min(CHUNK, size - copied), offset + copied);
        if (read === 0) throw new DomainError('malformed', `${path} is cut short`);
        sink.write(buffer.subarray(0, read));
        copied += read;
      }
      sink.end();
      offset += Math.ceil(size / BLOCK) * BLOCK;
    }
    throw new DomainError('malformed', `${path} is cut short (no end-of-archive blocks)`);
  } finally {
    closeSync(fd);
  }
}

/**
 * `ca/cluster.key` is 32 raw secret bytes, not a PEM key that can carry its own
 * encryption: in a backup it travels as `ca/cluster.key.enc`, AES-256-GCM under
 * a key scrypt derives from KEYSMITH_CA_PASSPHRASE, so the archive holds no
 * secret in the clear (the CA's PEM keys are already encrypted with the same passphrase).
 */
const SCRYPT = { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 } as const;

export function sealSecret(secret: Uint8Array, passphrase: string): Buffer {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = scryptSync(passphrase, salt, 32, SCRYPT);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const sealed = Buffer.concat([cipher.update(secret), cipher.final()]);
  const document = {
    kind: 'keysmith-sealed-secret',
    kdf: 'scrypt',
    N: SCRYPT.N,
    r: SCRYPT.r,
    p: SCRYPT.p,
    salt: salt.toString('base64'),
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: sealed.toString('base64'),
  };
  return Buffer.from(JSON.stringify(document));
}

export function openSealedSecret(sealed: Uint8Array, passphrase: string): Buffer {
  const document: unknown = JSON.parse(Buffer.from(sealed).toString('utf8'));
  if (typeof document !== 'object' || document === null) throw new DomainError('malformed', 'the sealed cluster key is not readable');
  const field = (name: string): Buffer => {
    const value: unknown = (document as Record<string, unknown>)[name];
    if (typeof value !== 'string') throw new DomainError('malformed', `the sealed cluster key lacks '${name}'`);
    return Buffer.from(value, 'base64');
  };
  const key = scryptSync(passphrase, field('salt'), 32, SCRYPT);
  const decipher = createDecipheriv('aes-256-gcm', key, field('iv'));
  decipher.setAuthTag(field('tag'));
  try {
    return Buffer.concat([decipher.update(field('data')), decipher.final()]);
  } catch {
    throw new DomainError(
      'unauthorized',
      'KEYSMITH_CA_PASSPHRASE does not open the cluster key in this backup (not the passphrase it was taken with)',
    );
  }
}
