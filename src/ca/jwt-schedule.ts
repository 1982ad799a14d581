/**
 * The JWT-SVID key rotation schedule (`<dataDir>/ca/jwt-keys.json`) and what
 * it means at a given time. Pure: no files, no clock. Every node computes the
 * phase of each key from the same recorded times, so nodes holding the same
 * copy of ca/ agree on which key signs and which keys are published, whenever
 * they loaded the file.
 *
 * A key's life (after SPIRE's prepared / active / old authorities):
 * - prepared: from `preparedAt`, published in the SPIFFE bundle, not signing;
 * - active: from `activateAt`, signs every new JWT-SVID (the latest key whose
 *   activateAt has passed); the key before it stops signing at that moment;
 * - retired: published, not signing, until the last token it signed has
 *   expired (`retainMs`, the longest JWT-SVID lifetime, after it stopped);
 * - dropped: no longer published; its file may be removed.
 */

/** Name of the key every keysmith since the first release created; it keeps that name in the schedule. */
export const FIRST_JWT_KEY_FILE = 'jwt-signing-key.pem';
export const JWT_SCHEDULE_FILE = 'jwt-keys.json';
const SCHEDULE_VERSION = 1;

/** A kid is an RFC 7638 SHA-256 thumbprint, base64url: 43 characters. */
const KID = /^[A-Za-z0-9_-]{43}$/;

export interface JwtKeyEntry {
  readonly kid: string;
  /** File name inside ca/: FIRST_JWT_KEY_FILE or jwtKeyFileName(kid). */
  readonly file: string;
  /** When it was made and published (ms since the epoch); 0 for a key older than the schedule. */
  readonly preparedAt: number;
  /** When it starts signing (ms); 0 for a key older than the schedule. */
  readonly activateAt: number;
}

export interface JwtKeySchedule {
  /** Ordered by activateAt, then preparedAt. */
  readonly keys: readonly JwtKeyEntry[];
}

export type JwtKeyPhase = 'prepared' | 'active' | 'retired' | 'dropped';

export interface JwtKeyState extends JwtKeyEntry {
  readonly phase: JwtKeyPhase;
  /** When its successor activated (it stopped signing); absent while it has none that is active. */
  readonly retiredAt?: number;
  /** retiredAt + retainMs: from then on it is not published. */
  readonly dropAt?: number;
}

export function jwtKeyFileName(kid: string): string {
  return `jwt-${kid}.pem`;
}

/** The phase of every key at `now`; a retired key stays published for `retainMs` after it stopped signing. */
export function jwtKeyStates(schedule: JwtKeySchedule, now: number, retainMs: number): readonly JwtKeyState[] {
  const keys = orderKeys(schedule.keys);
  const activeIndex = lastIndexWhere(keys, (key) => key.activateAt <= now);
  return keys.map((key, index): JwtKeyState => {
    if (index > activeIndex) return { ...key, phase: 'prepared' };
    if (index === activeIndex) return { ...key, phase: 'active' };
    // A later key has activated: this one stopped signing when the next one started.
    const retiredAt = keys[index + 1]?.activateAt ?? now;
    const dropAt = retiredAt + retainMs;
    return { ...key, phase: now < dropAt ? 'retired' : 'dropped', retiredAt, dropAt };
  });
}

/** The key that signs at `now`, if any has activated. */
export function activeJwtKey(states: readonly JwtKeyState[]): JwtKeyState | undefined {
  return states.find((state) => state.phase === 'active');
}

/** Keys whose public half the SPIFFE bundle carries at `now`: prepared, active and retired. */
export function publishedJwtKeys(states: readonly JwtKeyState[]): readonly JwtKeyState[] {
  return states.filter((state) => state.phase !== 'dropped');
}

/**
 * When the published set last changed, as of `now` (ms): a key is added at its
 * preparedAt (counted even when a node's clock is a little behind the one that
 * prepared it, since the node publishes it as soon as it has read it) and
 * removed at its dropAt. Never decreases as `now` grows or keys are added; see
 * bundle-sequence.ts for how it becomes `spiffe_sequence`.
 */
export function jwtPublishedSetChangedAt(states: readonly JwtKeyState[], now: number): number {
  let latest = 0;
  for (const state of states) {
    latest = Math.max(latest, state.preparedAt);
    if (state.dropAt !== undefined && state.dropAt <= now) latest = Math.max(latest, state.dropAt);
  }
  return latest;
}

/** The schedule file's text: one entry per key, times in ms. */
export function encodeJwtSchedule(schedule: JwtKeySchedule): string {
  const keys = orderKeys(schedule.keys).map(({ kid, file, preparedAt, activateAt }) => ({ kid, file, preparedAt, activateAt }));
  return `${JSON.stringify({ version: SCHEDULE_VERSION, keys }, null, 2)}\n`;
}

/** Parses and checks the schedule file; a plain Error names `where` and what is wrong. */
export function decodeJwtSchedule(text: string, where: string): JwtKeySchedule {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new Error(`${where}: not JSON`, { cause });
  }
  if (!isRecord(parsed) || parsed['version'] !== SCHEDULE_VERSION || !Array.isArray(parsed['keys'])) {
    throw new Error(`${where}: expected { "version": ${SCHEDULE_VERSION}, "keys": [...] }`);
  }
  const keys = parsed['keys'].map((item, index) => decodeEntry(item, `${where}: keys[${index}]`));
  if (keys.length === 0) throw new Error(`${where}: no keys`);
  const kids = new Set(keys.map((key) => key.kid));
  if (kids.size !== keys.length) throw new Error(`${where}: a kid is listed twice`);
  return { keys: orderKeys(keys) };
}

function decodeEntry(item: unknown, where: string): JwtKeyEntry {
  if (!isRecord(item)) throw new Error(`${where}: expected an object`);
  const { kid, file, preparedAt, activateAt } = item;
  if (typeof kid !== 'string' || !KID.test(kid)) throw new Error(`${where}: kid is not an RFC 7638 SHA-256 thumbprint`);
  // Only the two names keysmith writes: a schedule never points outside ca/.
  if (file !== FIRST_JWT_KEY_FILE && file !== jwtKeyFileName(kid))
    throw new Error(`${where}: file must be ${FIRST_JWT_KEY_FILE} or ${jwtKeyFileName(kid)}`);
  if (!isTime(preparedAt) || !isTime(activateAt) || activateAt < preparedAt) {
    throw new Error(`${where}: preparedAt and activateAt must be times in ms, activateAt not before preparedAt`);
  }
  return { kid, file, preparedAt, activateAt };
}

function orderKeys(keys: readonly JwtKeyEntry[]): JwtKeyEntry[] {
  return [...keys].sort((a, b) => a.activateAt - b.activateAt || a.preparedAt - b.preparedAt);
}

function lastIndexWhere<T>(items: readonly T[], test: (item: T) => boolean): number {
  for (let index = items.length - 1; index >= 0; index--) {
    const item = items[index];
    if (item !== undefined && test(item)) return index;
  }
  return -1;
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
