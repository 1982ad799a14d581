/**
 * Raw file-system errors (`EACCES: permission denied, mkdir '/srv/keysmith'`)
 * turned into sentences an operator can act on: which path, what keysmith
 * was doing with it, and what to do. Used where the data directory, the
 * ledger file and the CA files are opened (compose.ts).
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname } from 'node:path';

/** The error codes explained here; anything else passes through unchanged. */
const EXPLAINED = ['EACCES', 'EPERM', 'EEXIST', 'ENOENT', 'ENOTDIR', 'EROFS'] as const;
type ExplainedCode = (typeof EXPLAINED)[number];

/** A file-system refusal, with the path and what to do; its cause is the raw error. */
export class FileAccessError extends Error {
  constructor(
    message: string,
    readonly code: ExplainedCode,
    readonly path: string,
    options: { readonly cause: unknown },
  ) {
    super(message, options);
    this.name = 'FileAccessError';
  }
}

interface NodeFileError extends Error {
  readonly code: ExplainedCode;
  readonly syscall?: string;
  readonly path?: string;
}

/** What keysmith was doing, from the failed system call. */
const DOING: Readonly<Record<string, string>> = {
  open: 'open',
  access: 'open',
  mkdir: 'create',
  chmod: 'change the mode of',
  rename: 'replace',
  link: 'create',
  unlink: 'remove',
  scandir: 'list',
  stat: 'read',
  lstat: 'read',
};

/**
 * `err` as a FileAccessError naming the path (the error's own, else `fallbackPath`)
 * and `what` it is ('the data directory', 'the ledger', 'the CA directory');
 * any other error is returned unchanged.
 */
export function explainFileError(err: unknown, what: string, fallbackPath: string): unknown {
  if (!isExplained(err)) return err;
  const path = err.path ?? fallbackPath;
  const doing = DOING[err.syscall ?? ''] ?? 'use';
  return new FileAccessError(sentence(err.code, path, what, doing), err.code, path, { cause: err });
}

function sentence(code: ExplainedCode, path: string, what: string, doing: string): string {
  switch (code) {
    case 'EACCES':
      return `cannot ${doing} ${path} (${what}): permission denied. Run keysmith as the user that owns it, or give that user access (the data directory should be mode 0700 and owned by that user).`;
    case 'EPERM':
      return `cannot ${doing} ${path} (${what}): operation not permitted; it belongs to another user or is protected. Run keysmith as its owner, or chown the data directory to the user keysmith runs as.`;
    case 'ENOENT':
      return `cannot ${doing} ${path} (${what}): it does not exist. Create its parent directory, or set dataDir (KEYSMITH_DATA_DIR) to an existing location; a missing CA file must be restored from a copy of ca/.`;
    case 'EEXIST':
      return `cannot ${doing} ${path} (${what}): it already exists. If it was left by an interrupted start or command, move it aside and try again.`;
    case 'ENOTDIR':
      return `cannot ${doing} ${path} (${what}): a part of that path is a file, not a directory. Set dataDir (KEYSMITH_DATA_DIR) to a directory.`;
    case 'EROFS':
      return `cannot ${doing} ${path} (${what}): the file system is read-only. Set dataDir (KEYSMITH_DATA_DIR) to a writable location.`;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}

/** Runs `action`; a file-system refusal becomes a FileAccessError about `path` (`what`). */
export function withFileErrors<T>(what: string, path: string, action: () => T): T {
  try {
    return action();
  } catch (err) {
    throw explainFileError(err, what, path);
  }
}

/**
 * SQLite reports a file it cannot open as SQLITE_CANTOPEN without saying
 * why: ask the file system first, so a refusal names the path (the ledger file,
 * or its directory, where SQLite also writes the -wal and -shm files).
 */
export function checkLedgerFileAccess(path: string): void {
  withFileErrors('the ledger', dirname(path), () => accessSync(dirname(path), constants.W_OK | constants.X_OK));
  if (existsSync(path)) withFileErrors('the ledger', path, () => accessSync(path, constants.R_OK | constants.W_OK));
}

function isExplained(err: unknown): err is NodeFileError {
  return err instanceof Error && 'code' in err && EXPLAINED.some((code) => code === err.code);
}
