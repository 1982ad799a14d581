/**
 * The JWT-SVID keys a running node holds: every key of the schedule that is
 * still published, the one active now signing. Which key is active, and which
 * are published, follows from the schedule's times and the clock at each call,
 * so activation and dropping need no reload; a reload (`refresh`, run on an
 * interval by `start`) only picks up a changed schedule file, i.e. a key that
 * `keysmith ca rotate-jwt` prepared.
 */
import { statSync } from 'node:fs';
import type { Clock } from '../shared/clock.js';
import { JwtAuthority, type JwtAuthorityPublicJwk, type JwtSvidClaims } from './jwt-authority.js';
import { currentJwtSchedule, jwtKeyPath, jwtSchedulePath } from './jwt-rotation.js';
import {
  activeJwtKey,
  jwtKeyStates,
  jwtPublishedSetChangedAt,
  publishedJwtKeys,
  type JwtKeySchedule,
  type JwtKeyState,
} from './jwt-schedule.js';

export interface JwtKeyRingOptions {
  readonly dataDir: string;
  /** Encrypts key files, like the CA keys (KEYSMITH_CA_PASSPHRASE). */
  readonly passphrase?: string;
  readonly clock: Clock;
  /** How long a retired key stays published after it stopped signing: the longest JWT-SVID lifetime. */
  readonly retainMs: number;
  readonly onWarning?: (message: string) => void;
}

interface Loaded {
  readonly schedule: JwtKeySchedule;
  readonly keys: ReadonlyMap<string, JwtAuthority>;
  /** Identity of the schedule file this was read from (inode, mtime, size), or 'none'. */
  readonly fingerprint: string;
}

export class JwtKeyRing {
  private readonly options: JwtKeyRingOptions;
  private loaded: Loaded;
  private isRefreshing = false;
  private timer: NodeJS.Timeout | undefined;

  private constructor(options: JwtKeyRingOptions, loaded: Loaded) {
    this.options = options;
    this.loaded = loaded;
  }

  /** Loads the schedule and its keys; with neither schedule nor key, creates the first key (as JwtAuthority.loadOrCreate). */
  static async open(options: JwtKeyRingOptions): Promise<JwtKeyRing> {
    if (scheduleFingerprint(options.dataDir) === 'none') {
      await JwtAuthority.loadOrCreate({
        dataDir: options.dataDir,
        ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
        ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
      });
    }
    return new JwtKeyRing(options, await load(options, new Map()));
  }

  /**
   * Re-reads the schedule when its file changed since the last read; true
   * when it did. A schedule whose keys cannot all be loaded is refused (the
   * error is thrown) and the keys held so far stay in use.
   */
  async refresh(): Promise<boolean> {
    if (this.isRefreshing || scheduleFingerprint(this.options.dataDir) === this.loaded.fingerprint) return false;
    this.isRefreshing = true;
    try {
      this.loaded = await load(this.options, this.loaded.keys);
      return true;
    } finally {
      this.isRefreshing = false;
    }
  }

  /** Checks the schedule file every `everyMs` (serve: jwtKeyCheckInterval); the timer does not hold the process open. */
  start(options: { readonly everyMs: number; readonly onError: (err: unknown) => void; readonly onChange?: () => void }): void {
    this.stop();
    this.timer = setInterval(() => {
      this.refresh().then((changed) => {
        if (changed) options.onChange?.();
      }, options.onError);
    }, options.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every key of the schedule and its phase at `now`. */
  states(now: number = this.options.clock.now()): readonly JwtKeyState[] {
    return jwtKeyStates(this.loaded.schedule, now, this.options.retainMs);
  }

  /** The key that signs now. */
  get kid(): string {
    return this.activeKey().kid;
  }

  /** Signs with the key active now: header { alg: 'ES256', kid, typ: 'JWT' }. */
  sign(claims: JwtSvidClaims): Promise<string> {
    return this.activeKey().sign(claims);
  }

  /** The active key's public half. */
  publicJwk(): JwtAuthorityPublicJwk {
    return this.activeKey().publicJwk();
  }

  /** What the SPIFFE bundle carries now: prepared, active and retired keys, in order of activation. */
  publishedJwks(): readonly JwtAuthorityPublicJwk[] {
    return publishedJwtKeys(this.states()).flatMap((state) => {
      const key = this.loaded.keys.get(state.kid);
      return key === undefined ? [] : [key.publicJwk()];
    });
  }

  /** When the published set last changed (ms), for the bundle's spiffe_sequence (bundle-sequence.ts). */
  lastChangedAt(now: number): number {
    return jwtPublishedSetChangedAt(this.states(now), now);
  }

  private activeKey(): JwtAuthority {
    const active = activeJwtKey(this.states());
    const key = active === undefined ? undefined : this.loaded.keys.get(active.kid);
    if (key === undefined) throw new Error('no JWT-SVID key is active: check ca/jwt-keys.json');
    return key;
  }
}

/** Reads the schedule and every key not yet dropped, reusing keys already held (by kid). */
async function load(options: JwtKeyRingOptions, held: ReadonlyMap<string, JwtAuthority>): Promise<Loaded> {
  const warn = options.onWarning ?? ((): void => undefined);
  const fingerprint = scheduleFingerprint(options.dataDir);
  const schedule = await currentJwtSchedule(options.dataDir, options.passphrase, warn);
  const now = options.clock.now();
  const keys = new Map<string, JwtAuthority>();
  for (const state of jwtKeyStates(schedule, now, options.retainMs)) {
    if (state.phase === 'dropped') continue;
    const path = jwtKeyPath(options.dataDir, state);
    const key = held.get(state.kid) ?? (await JwtAuthority.load(path, options.passphrase, warn));
    // The schedule names a key by its thumbprint: a file holding another key is refused, not published.
    if (key.kid !== state.kid)
      throw new Error(`${path} holds the key ${key.kid}, but ${jwtSchedulePath(options.dataDir)} names ${state.kid}`);
    keys.set(state.kid, key);
  }
  if (activeJwtKey(jwtKeyStates(schedule, now, options.retainMs)) === undefined) {
    throw new Error(`${jwtSchedulePath(options.dataDir)}: no key is active yet (every activateAt is in the future)`);
  }
  return { schedule, keys, fingerprint };
}

function scheduleFingerprint(dataDir: string): string {
  try {
    const stat = statSync(jwtSchedulePath(dataDir), { bigint: true });
    return `${stat.ino}:${stat.mtimeNs}:${stat.size}`;
  } catch (err) {
    if (err instanceof Error && 'code' in err && err.code === 'ENOENT') return 'none';
    throw err;
  }
}
