/**
 * The validation scheduler: how many challenge validations run at once, and
 * in what order the rest wait. Validations hold sockets (and DNS sockets)
 * for up to their whole deadline, so an account that starts thousands at
 * once must not hold thousands of file descriptors, nor starve the others.
 *
 * - At most `maxInFlight` run at once, and at most `maxInFlightPerAccount`
 *   for one account.
 * - The rest wait in one FIFO queue per account; a freed slot goes to the
 *   next account in round-robin order (an account with a long backlog takes
 *   one turn, then the others take theirs), never to one backlog first.
 * - The queues are bounded (`maxQueued` overall, `maxQueuedPerAccount` for
 *   one account); past them `admit` says no and the caller refuses the
 *   request. Work that was already accepted before a restart is forced in.
 *
 * Pure bookkeeping: no I/O, and time comes from `now` (injected in tests).
 */

export interface SchedulerLimits {
  readonly maxInFlight: number;
  readonly maxInFlightPerAccount: number;
  readonly maxQueued: number;
  readonly maxQueuedPerAccount: number;
}

export type Admission =
  { readonly ok: true; readonly state: 'running' | 'queued' } | { readonly ok: false; readonly reason: 'queueFull' | 'accountQueueFull' };

export type Placement =
  | { readonly state: 'running' }
  /** `ahead`: queued items of the same account before this one. */
  | { readonly state: 'queued'; readonly ahead: number };

export interface SchedulerLoad {
  readonly inFlight: number;
  readonly queued: number;
  /** Accounts with at least one validation running or waiting. */
  readonly accounts: number;
}

interface Job {
  readonly id: string;
  readonly account: string;
  readonly run: () => Promise<void>;
}

/** A FIFO with O(1) push and shift, and an index for positions. */
class JobQueue {
  private items: (Job | undefined)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(job: Job): void {
    this.items.push(job);
  }

  shift(): Job | undefined {
    if (this.length === 0) return undefined;
    const job = this.items[this.head];
    this.items[this.head] = undefined;
    this.head++;
    // Compact once the dead prefix is half the array, so memory follows the live length.
    if (this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return job;
  }

  indexOf(id: string): number {
    for (let i = this.head; i < this.items.length; i++) if (this.items[i]?.id === id) return i - this.head;
    return -1;
  }
}

interface AccountState {
  readonly queue: JobQueue;
  running: number;
}

/** Weight of the newest duration in the moving average the Retry-After hints use. */
const AVERAGE_WEIGHT = 0.2;
/** Until a validation has finished, one is assumed to take this long. */
const INITIAL_AVERAGE_MS = 1_000;

export class ValidationScheduler {
  readonly limits: SchedulerLimits;
  private readonly now: () => number;
  private readonly accounts = new Map<string, AccountState>();
  /**
   * Accounts with queued jobs, in turn order: Map keeps insertion order, and
   * an account that is served is deleted and set again (to the back).
   */
  private readonly turns = new Map<string, AccountState>();
  private readonly running = new Set<string>();
  private readonly idleWaiters = new Set<() => void>();
  private inFlight = 0;
  private queued = 0;
  private averageMs = INITIAL_AVERAGE_MS;

  constructor(limits: SchedulerLimits, now: () => number = () => performance.now()) {
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isInteger(value) || value < 1) throw new TypeError(`${name} must be a positive integer`);
    }
    if (limits.maxInFlightPerAccount > limits.maxInFlight) throw new TypeError('maxInFlightPerAccount may not exceed maxInFlight');
    if (limits.maxQueuedPerAccount > limits.maxQueued) throw new TypeError('maxQueuedPerAccount may not exceed maxQueued');
    this.limits = limits;
    this.now = now;
  }

  /** Whether `submit` for this account would be accepted now (the caller checks before it changes any state). */
  canAdmit(account: string): Admission {
    const state = this.accounts.get(account);
    if (this.canStart(state)) return { ok: true, state: 'running' };
    if (this.queued >= this.limits.maxQueued) return { ok: false, reason: 'queueFull' };
    if ((state?.queue.length ?? 0) >= this.limits.maxQueuedPerAccount) return { ok: false, reason: 'accountQueueFull' };
    return { ok: true, state: 'queued' };
  }

  /**
   * Runs `run` now or queues it. `force` skips the queue bounds (never the
   * in-flight caps): for work accepted before a restart. `run` must not reject.
   */
  submit(account: string, id: string, run: () => Promise<void>, options: { readonly force?: boolean } = {}): Admission {
    const admission = this.canAdmit(account);
    if (!admission.ok && options.force !== true) return admission;
    const state = this.account(account);
    const job: Job = { id, account, run };
    if (this.canStart(state)) {
      this.start(state, job);
      return { ok: true, state: 'running' };
    }
    state.queue.push(job);
    this.queued++;
    if (!this.turns.has(account)) this.turns.set(account, state);
    return { ok: true, state: 'queued' };
  }

  /** Where a job stands; undefined once it finished (or was never submitted). */
  placement(id: string, account: string): Placement | undefined {
    if (this.running.has(id)) return { state: 'running' };
    const index = this.accounts.get(account)?.queue.indexOf(id) ?? -1;
    return index < 0 ? undefined : { state: 'queued', ahead: index };
  }

  /**
   * Seconds until it is worth asking again (RFC 8555 §8.2 lets the server say
   * so with Retry-After): a running job, one average validation; a queued
   * one, one average per round of the account's in-flight cap ahead of it.
   */
  retryAfterSeconds(placement: Placement | undefined, maxSeconds: number): number {
    const rounds = placement?.state === 'queued' ? Math.floor(placement.ahead / this.limits.maxInFlightPerAccount) + 1 : 1;
    return Math.min(maxSeconds, Math.max(1, Math.ceil((rounds * this.averageMs) / 1000)));
  }

  /** For a refused submission: when a queue slot is likely to be free. */
  refusedRetryAfterSeconds(maxSeconds: number): number {
    return Math.min(maxSeconds, Math.max(1, Math.ceil(this.averageMs / 1000)));
  }

  get load(): SchedulerLoad {
    return { inFlight: this.inFlight, queued: this.queued, accounts: this.accounts.size };
  }

  /** Resolves once nothing runs and nothing waits. */
  idle(): Promise<void> {
    if (this.inFlight === 0 && this.queued === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  private account(account: string): AccountState {
    let state = this.accounts.get(account);
    if (state === undefined) {
      state = { queue: new JobQueue(), running: 0 };
      this.accounts.set(account, state);
    }
    return state;
  }

  /** A job may start when both caps leave room and nobody of this account is queued before it (FIFO). */
  private canStart(state: AccountState | undefined): boolean {
    if (this.inFlight >= this.limits.maxInFlight) return false;
    return state === undefined || (state.running < this.limits.maxInFlightPerAccount && state.queue.length === 0);
  }

  private start(state: AccountState, job: Job): void {
    this.inFlight++;
    state.running++;
    this.running.add(job.id);
    const started = this.now();
    let run: Promise<void>;
    try {
      run = job.run();
    } catch {
      run = Promise.resolve();
    }
    void run.catch(() => undefined).then(() => this.finish(state, job, this.now() - started));
  }

  private finish(state: AccountState, job: Job, durationMs: number): void {
    this.inFlight--;
    state.running--;
    this.running.delete(job.id);
    this.averageMs += AVERAGE_WEIGHT * (Math.max(0, durationMs) - this.averageMs);
    this.dispatch();
    if (state.running === 0 && state.queue.length === 0) this.accounts.delete(job.account);
    if (this.inFlight === 0 && this.queued === 0) {
      const waiting = [...this.idleWaiters];
      this.idleWaiters.clear();
      for (const resolve of waiting) resolve();
    }
  }

  /** Fills free slots, one job per account per turn, accounts in round-robin order. */
  private dispatch(): void {
    while (this.inFlight < this.limits.maxInFlight && this.queued > 0) {
      let served = false;
      for (const [account, state] of this.turns) {
        if (state.running >= this.limits.maxInFlightPerAccount) continue;
        const job = state.queue.shift();
        this.turns.delete(account);
        if (job === undefined) continue;
        this.queued--;
        // Served: to the back of the line, if it still has work waiting.
        if (state.queue.length > 0) this.turns.set(account, state);
        this.start(state, job);
        served = true;
        break;
      }
      // Every account with a backlog is at its own cap.
      if (!served) return;
    }
  }
}
