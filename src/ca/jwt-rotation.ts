/**
 * JWT-SVID key files and the rotation schedule on disk, in `<dataDir>/ca/`:
 * `jwt-signing-key.pem` (the first key), `jwt-<kid>.pem` (each rotated-in
 * key) and `jwt-keys.json` (the schedule; absent until the first rotation,
 * when the first key alone signs).
 *
 * Crash safety, step by step (`prepareJwtKey`): the new key is written to a
 * staging file, fsynced and linked to its final name; only then is the
 * schedule replaced (staging file, fsync, rename, directory fsync). A crash
 * before the rename leaves a key file no schedule names: never published,
 * never signing, removed by the next rotation. Files of dropped keys are
 * removed only after the schedule that no longer names them is in place.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DomainError } from '../shared/errors.js';
import { generateJwtKey, JwtAuthority, jwtSigningKeyPath, linkKeyFile } from './jwt-authority.js';
import {
  decodeJwtSchedule,
  encodeJwtSchedule,
  FIRST_JWT_KEY_FILE,
  JWT_SCHEDULE_FILE,
  jwtKeyFileName,
  jwtKeyStates,
  type JwtKeyEntry,
  type JwtKeySchedule,
  type JwtKeyState,
} from './jwt-schedule.js';
import { exportPrivateKey, syncDirectory, writeDurably } from './key-files.js';

const LOCK_FILE = '.jwt-rotation.lock';
/** Key files a rotation made: `jwt-<43 base64url characters>.pem`. */
const ROTATED_KEY_FILE = /^jwt-[A-Za-z0-9_-]{43}\.pem$/;

export function jwtSchedulePath(dataDir: string): string {
  return join(dataDir, 'ca', JWT_SCHEDULE_FILE);
}

export function jwtKeyPath(dataDir: string, entry: Pick<JwtKeyEntry, 'file'>): string {
  return join(dataDir, 'ca', entry.file);
}

/** The schedule file as written, or undefined when there is none yet (the first key alone signs). */
export function readJwtScheduleFile(dataDir: string): JwtKeySchedule | undefined {
  const path = jwtSchedulePath(dataDir);
  if (!existsSync(path)) return undefined;
  return decodeJwtSchedule(readFileSync(path, 'utf8'), path);
}

/** The schedule of a data directory whose first key already exists: the file, or that key alone, active since ever. */
export async function currentJwtSchedule(
  dataDir: string,
  passphrase: string | undefined,
  warn: (message: string) => void,
): Promise<JwtKeySchedule> {
  const written = readJwtScheduleFile(dataDir);
  if (written !== undefined) return written;
  const firstPath = jwtSigningKeyPath(dataDir);
  if (!existsSync(firstPath)) throw new Error(`no JWT-SVID signing key in ${join(dataDir, 'ca')}: run keysmith init (or serve) first`);
  const first = await JwtAuthority.load(firstPath, passphrase, warn);
  return { keys: [{ kid: first.kid, file: FIRST_JWT_KEY_FILE, preparedAt: 0, activateAt: 0 }] };
}

export interface PrepareJwtKeyOptions {
  readonly dataDir: string;
  readonly passphrase?: string;
  /** The time of the rotation (ms): the new key is published from now on. */
  readonly now: number;
  /** How long the new key is published before it signs. */
  readonly activateAfterMs: number;
  /** How long a retired key stays published after it stopped signing (the longest JWT-SVID lifetime). */
  readonly retainMs: number;
  readonly onWarning?: (message: string) => void;
}

export interface PreparedJwtKey {
  readonly prepared: JwtKeyState;
  /** Every key of the new schedule, at `now`. */
  readonly states: readonly JwtKeyState[];
  /** Files removed: dropped keys and keys of rotations that crashed before their schedule was written. */
  readonly removedFiles: readonly string[];
}

/**
 * Makes a new key and schedules it: published at once, signing after
 * `activateAfterMs`. One rotation at a time (a lock file in ca/); refused with
 * DomainError('conflict') while another key is still waiting to activate.
 */
export async function prepareJwtKey(options: PrepareJwtKeyOptions): Promise<PreparedJwtKey> {
  const { dataDir, now, activateAfterMs, retainMs } = options;
  if (!Number.isSafeInteger(activateAfterMs) || activateAfterMs < 0)
    throw new RangeError('activateAfterMs must be a whole number of ms, at least 0');
  const warn = options.onWarning ?? ((): void => undefined);
  const caDir = join(dataDir, 'ca');
  const release = takeRotationLock(caDir);
  try {
    const current = await currentJwtSchedule(dataDir, options.passphrase, warn);
    const states = jwtKeyStates(current, now, retainMs);
    const waiting = states.find((state) => state.phase === 'prepared');
    if (waiting !== undefined) {
      throw new DomainError(
        'conflict',
        `the JWT-SVID key ${waiting.kid} is already prepared and starts signing at ${new Date(waiting.activateAt).toISOString()}; rotate again after that`,
      );
    }
    const privateKey = await generateJwtKey();
    const key = await JwtAuthority.fromPrivateKey(privateKey);
    const entry: JwtKeyEntry = { kid: key.kid, file: jwtKeyFileName(key.kid), preparedAt: now, activateAt: now + activateAfterMs };
    // 1. The key file, whole, under its final name.
    linkKeyFile(jwtKeyPath(dataDir, entry), exportPrivateKey(privateKey, options.passphrase));
    // 2. The schedule that names it (dropped keys left out), replaced in one rename.
    const kept = states
      .filter((state) => state.phase !== 'dropped')
      .map(({ kid, file, preparedAt, activateAt }) => ({ kid, file, preparedAt, activateAt }));
    const next: JwtKeySchedule = { keys: [...kept, entry] };
    writeScheduleFile(dataDir, next);
    // 3. Only now the files no schedule names.
    const removedFiles = removeUnscheduledKeyFiles(caDir, next);
    const nextStates = jwtKeyStates(next, now, retainMs);
    const prepared = nextStates.find((state) => state.kid === entry.kid);
    if (prepared === undefined) throw new Error('the prepared JWT-SVID key is missing from its own schedule');
    return { prepared, states: nextStates, removedFiles };
  } finally {
    release();
  }
}

/** Replaces the schedule file atomically: staging file, fsync, rename, directory fsync. */
function writeScheduleFile(dataDir: string, schedule: JwtKeySchedule): void {
  const path = jwtSchedulePath(dataDir);
  const staging = `${path}.${process.pid}.tmp`;
  rmSync(staging, { force: true });
  try {
    writeDurably(staging, encodeJwtSchedule(schedule), 0o600);
    renameSync(staging, path);
  } finally {
    rmSync(staging, { force: true });
  }
  syncDirectory(join(dataDir, 'ca'));
}

function removeUnscheduledKeyFiles(caDir: string, schedule: JwtKeySchedule): string[] {
  const named = new Set(schedule.keys.map((key) => key.file));
  const removed: string[] = [];
  for (const name of readdirSync(caDir)) {
    if (named.has(name)) continue;
    if (name !== FIRST_JWT_KEY_FILE && !ROTATED_KEY_FILE.test(name)) continue;
    rmSync(join(caDir, name), { force: true });
    removed.push(name);
  }
  if (removed.length > 0) syncDirectory(caDir);
  return removed;
}

/** An exclusive lock file; a crash leaves it behind, and the message says what to do then. */
function takeRotationLock(caDir: string): () => void {
  if (!existsSync(caDir)) throw new Error(`no CA in ${caDir}: run keysmith init (or serve) first`);
  const path = join(caDir, LOCK_FILE);
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'EEXIST') {
      throw new DomainError(
        'conflict',
        `another JWT-SVID key rotation holds ${path}; if none is running (it crashed), remove that file and run the rotation again`,
      );
    }
    throw err;
  }
  closeSync(fd);
  return () => rmSync(path, { force: true });
}
