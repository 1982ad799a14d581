import type { Awaitable } from '../shared/awaitable.js';
import type { Clock } from '../shared/clock.js';
import type { BuiltCrl, BuiltCrlSet, CrlBuildOrder } from './crl-build.js';
import { MAX_CRL_SHARDS } from './crl-shard.js';

/*
 * The CRL publisher (RFC 5280 §5). It decides *when* the issuer's CRLs are
 * rebuilt and with which dates, and takes each build's number from the
 * ledger (`CrlNumberSource`); the build itself (reading the
 * revoked rows, encoding, signing) is a `CrlBuilder`, in `serve` a worker
 * thread (src/cli/crl-worker.ts), so the event loop only ever sees a timer,
 * a message and a pointer swap. Revocations are O(1) here: `noteRevoked`
 * marks the CRL dirty and arms a debounce, so a burst of revocations costs
 * one rebuild (at most one per `debounceMs` while it lasts, and never later
 * than `maxDelayMs` after the first). The periodic `refresh` asks the ledger
 * one cheap question (count and latest revocation over the partial index)
 * and does nothing unless the answer changed or half the validity passed.
 */

/** One signed CRL and the facts HTTP caching is built from. */
export interface PublishedCrl {
  readonly der: Uint8Array;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  readonly crlNumber: number;
  readonly entries: number;
  readonly etag: string;
}

/** Which CRL: the full one (`/crl`) or shard n (`/crl/<n>`). */
export type CrlScope = 'full' | number;

/** Builds and signs a set of CRLs off the event loop. */
export interface CrlBuilder {
  build(order: CrlBuildOrder): Promise<BuiltCrlSet>;
}

export interface RevokedSetSummary {
  readonly count: number;
  readonly lastRevokedAt: number;
}

/** The ledger's cheap "did the revoked set change" answer (src/ledger revokedSummary, over migrations/0005's index). */
export interface RevokedSetProbe {
  revokedSummary(issuer: string, now: number): RevokedSetSummary | Promise<RevokedSetSummary>;
}

/**
 * Where CRL numbers come from (RFC 5280 §5.2.3: monotonically increasing):
 * the ledger (src/ledger crlNumbers: a row on SQLite, a sequence on
 * PostgreSQL), so numbers grow across restarts and across the nodes of a
 * cluster, each build taking the next. The result is above every number
 * handed out before and at least `atLeast`.
 */
export interface CrlNumberSource {
  next(atLeast: number): Awaitable<number>;
}

/** Where the last built set is kept across restarts (src/cli: files in the data directory). */
export interface CrlStore {
  save(set: BuiltCrlSet): Promise<void>;
}

/** Timers, injectable so the coalescer is tested without waiting. */
export interface CrlTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CrlPublisherDeps {
  readonly builder: CrlBuilder;
  readonly probe: RevokedSetProbe;
  readonly numbers: CrlNumberSource;
  /** The highest CRL number this issuer's CRLs carried before the ledger kept it (the state file of an earlier version): numbers continue above it. */
  readonly lastCrlNumber?: number;
  /** The issuer's Name as the ledger stores it (CertificateIssuer.nameText). */
  readonly issuerName: string;
  readonly clock: Clock;
  /** nextUpdate - thisUpdate; default 24 h. */
  readonly validityMs?: number;
  /** 1 = one CRL at /crl; more = shards as well (src/ca/crl-shard.ts). Default 1. */
  readonly shardCount?: number;
  /** Quiet time after a revocation before the rebuild; default 500 ms. */
  readonly debounceMs?: number;
  /** Longest a revocation waits for its rebuild while a burst goes on; default 5 s. */
  readonly maxDelayMs?: number;
  /** The set persisted by an earlier run, served until the first build here (if it is the same issuer and layout and still valid). */
  readonly restored?: BuiltCrlSet;
  readonly store?: CrlStore;
  readonly timers?: CrlTimers;
  /** A build or save that failed (logged by the caller); the previous CRL stays served. */
  readonly onError?: (err: unknown) => void;
}

export const DEFAULT_CRL_VALIDITY_MS = 24 * 3_600_000;
export const DEFAULT_CRL_DEBOUNCE_MS = 500;
export const DEFAULT_CRL_MAX_DELAY_MS = 5_000;

const systemTimers: CrlTimers = {
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class CrlPublisher {
  private readonly deps: CrlPublisherDeps;
  private readonly validityMs: number;
  private readonly shardTotal: number;
  private readonly debounceMs: number;
  private readonly maxDelayMs: number;
  private readonly timers: CrlTimers;
  private currentSet: BuiltCrlSet | undefined;
  /** A revocation came in that no finished or running build has read yet. */
  private isDirty = false;
  /** When the oldest unserved revocation came in (the max-delay clock). */
  private dirtySince: number | undefined;
  private debounce: unknown;
  private building: Promise<BuiltCrlSet> | undefined;
  private interval: NodeJS.Timeout | undefined;
  private buildCount = 0;
  private isStopped = false;

  constructor(deps: CrlPublisherDeps) {
    const validity = deps.validityMs ?? DEFAULT_CRL_VALIDITY_MS;
    if (!Number.isFinite(validity) || validity < 60_000) throw new Error('the CRL validity must be at least one minute');
    const shards = deps.shardCount ?? 1;
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > MAX_CRL_SHARDS)
      throw new Error(`the CRL shard count must be 1..${MAX_CRL_SHARDS}`);
    this.deps = deps;
    this.validityMs = validity;
    this.shardTotal = shards;
    this.debounceMs = deps.debounceMs ?? DEFAULT_CRL_DEBOUNCE_MS;
    this.maxDelayMs = Math.max(this.debounceMs, deps.maxDelayMs ?? DEFAULT_CRL_MAX_DELAY_MS);
    this.timers = deps.timers ?? systemTimers;
    const restored = deps.restored;
    // A persisted set is served only while valid and only when it has the layout configured now.
    if (restored !== undefined && restored.nextUpdate > deps.clock.now() && restored.shards.length === (shards > 1 ? shards : 0))
      this.currentSet = restored;
  }

  get shardCount(): number {
    return this.shardTotal;
  }

  /** Builds finished by this publisher (tests, metrics). */
  get builds(): number {
    return this.buildCount;
  }

  /**
   * The last CRL built for `scope`, or undefined while none exists yet (the
   * first build runs in the background after start) or the scope is not one
   * of ours. Never builds: answering is O(1).
   */
  current(scope: CrlScope = 'full'): PublishedCrl | undefined {
    const set = this.currentSet;
    if (set === undefined) return undefined;
    const built: BuiltCrl | undefined = scope === 'full' ? set.full : set.shards[scope];
    if (built === undefined) return undefined;
    return {
      der: built.der,
      thisUpdate: set.thisUpdate,
      nextUpdate: set.nextUpdate,
      crlNumber: set.crlNumber,
      entries: built.entries,
      etag: built.etag,
    };
  }

  /** True when `scope` names a CRL this publisher makes (whether built yet or not). */
  hasScope(scope: CrlScope): boolean {
    return scope === 'full' || (this.shardTotal > 1 && Number.isSafeInteger(scope) && scope >= 0 && scope < this.shardTotal);
  }

  /** For Authority.onRevoked: O(1). Marks the CRL dirty and (re)arms the debounce, bounded by the max delay. */
  readonly noteRevoked = (): void => {
    const now = this.deps.clock.now();
    this.isDirty = true;
    this.dirtySince ??= now;
    // A running build re-arms when it ends (it may not have read this revocation).
    if (this.building === undefined && !this.isStopped) this.arm(now);
  };

  /** Builds now (after any build in progress), cancelling a pending debounce. Resolves with the new set. */
  rebuild(): Promise<BuiltCrlSet> {
    this.disarm();
    return this.run();
  }

  /**
   * The periodic check: rebuilds only when there is no CRL yet, it is half
   * spent (re-signed before nextUpdate, so relying parties' cached copies
   * never lapse), or the ledger's revoked set differs from what the last
   * build read (a revocation by another process, e.g. the offline CLI).
   * Otherwise it does nothing beyond one indexed count.
   */
  async refresh(): Promise<'unchanged' | 'rebuilt'> {
    if (this.building !== undefined) await this.building.catch(() => undefined);
    const current = this.currentSet;
    const now = this.deps.clock.now();
    const isHalfSpent = current === undefined || now >= current.thisUpdate + (current.nextUpdate - current.thisUpdate) / 2;
    if (current !== undefined && !isHalfSpent && !this.isDirty) {
      // Asked at the instant the build judged "unexpired" at: expiries since then do not count as a change.
      const summary = await this.deps.probe.revokedSummary(this.deps.issuerName, current.now);
      if (summary.count === current.count && summary.lastRevokedAt === current.lastRevokedAt) return 'unchanged';
    }
    await this.rebuild();
    return 'rebuilt';
  }

  /** Resolves once no rebuild is pending or running, building at once what is pending (tests); rejects when that build fails. */
  async settled(): Promise<void> {
    for (;;) {
      if (this.building !== undefined) await this.building.catch(() => undefined);
      else if (this.debounce !== undefined || this.isDirty) await this.rebuild();
      else return;
    }
  }

  /**
   * Starts the schedule: a check right away in the background (the first
   * build when nothing was restored; start-up never waits for it), then
   * `refresh` every `everyMs`.
   */
  start(options: { everyMs: number; onError: (err: unknown) => void }): void {
    this.stop();
    this.isStopped = false;
    if (!(options.everyMs > 0 && options.everyMs < this.validityMs))
      throw new Error('the CRL refresh interval must be positive and below its validity');
    const tick = (): void => {
      this.refresh().catch(options.onError);
    };
    setImmediate(tick);
    this.interval = setInterval(tick, options.everyMs);
    this.interval.unref();
  }

  stop(): void {
    if (this.interval !== undefined) clearInterval(this.interval);
    this.isStopped = true;
    this.interval = undefined;
    this.disarm();
  }

  private arm(now: number): void {
    this.disarm();
    const deadline = Math.min(now + this.debounceMs, (this.dirtySince ?? now) + this.maxDelayMs);
    this.debounce = this.timers.setTimeout(
      () => {
        this.debounce = undefined;
        this.run().catch((err: unknown) => this.deps.onError?.(err));
      },
      Math.max(0, deadline - now),
    );
  }

  private disarm(): void {
    if (this.debounce !== undefined) this.timers.clearTimeout(this.debounce);
    this.debounce = undefined;
  }

  /** One build at a time; a build asked for while one runs starts after it. */
  private run(): Promise<BuiltCrlSet> {
    const previous = this.building;
    const next = previous === undefined ? this.buildOnce() : previous.catch(() => undefined).then(() => this.buildOnce());
    this.building = next;
    const clear = (): void => {
      if (this.building === next) this.building = undefined;
      // Revocations that came in while this build read the ledger get their own (debounced) build.
      if (this.isDirty && this.building === undefined && !this.isStopped) this.arm(this.deps.clock.now());
    };
    next.then(clear, clear);
    return next;
  }

  private async buildOnce(): Promise<BuiltCrlSet> {
    // Everything noted before this point is read by this build.
    this.isDirty = false;
    this.dirtySince = undefined;
    const now = this.deps.clock.now();
    const thisUpdate = Math.floor(now / 1000) * 1000;
    let set: BuiltCrlSet;
    try {
      // RFC 5280 §5.2.3: monotonically increasing. The ledger hands out the next number (taken even if the build
      // then fails: a gap is allowed, a repeat is not), never below one this publisher or an earlier version used.
      const atLeast = Math.max(this.currentSet?.crlNumber ?? 0, this.deps.restored?.crlNumber ?? 0, this.deps.lastCrlNumber ?? 0) + 1;
      const taken = this.deps.numbers.next(atLeast);
      // A synchronous source (SQLite) keeps the build starting in this turn, as the debounce timer fired it.
      const crlNumber = typeof taken === 'number' ? taken : await taken;
      set = await this.deps.builder.build({ now, thisUpdate, nextUpdate: thisUpdate + this.validityMs, crlNumber });
    } catch (err) {
      // Nothing was read: the revocations are still unserved.
      this.isDirty = true;
      this.dirtySince ??= now;
      throw err;
    }
    // Builds run one at a time, so numbers only grow; a slower earlier build never replaces a later one.
    if (this.currentSet === undefined || set.crlNumber > this.currentSet.crlNumber) this.currentSet = set;
    this.buildCount++;
    this.deps.store?.save(set).catch((err: unknown) => this.deps.onError?.(err));
    return set;
  }
}
