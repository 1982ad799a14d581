/**
 * When alert runs happen (the only importer of node-cron): the cron ticks
 * (UTC), a catch-up run at start-up when the last finished run is older than
 * one period, and a timer that wakes a delivery pass when a failed message's
 * back-off is over. Every tick goes through the runner, which serialises
 * runs in this process and holds the ledger lease across processes; a tick
 * that finds the lease held keeps trying for a while, since the holder may
 * be busy with something else than this very tick.
 */
import { createTask, validate, type ScheduledTask } from 'node-cron';
import type { Clock } from '../shared/clock.js';
import type { AlertLogger } from './ports.js';
import type { AlertRunner, RunOutcome, RunRequest } from './runner.js';

export const ALERT_TIMEZONE = 'UTC';
export const DEFAULT_ALERT_SCHEDULE = '0 9 * * *';
const TASK_NAME = 'keysmith-expiry-alerts';
const DEFAULT_LEASE_PATIENCE_MS = 10 * 60_000;
const DEFAULT_LEASE_RETRY_MS = 15_000;
const DEFAULT_POLL_MS = 5 * 60_000;
/** Never spin: a back-off that is already over still waits this long. */
const MIN_TIMER_MS = 1_000;
/** Runs looked at when estimating the period of an irregular expression. */
const PERIOD_SAMPLES = 8;

export function isValidCronExpression(expression: string): boolean {
  return validate(expression);
}

/**
 * The period of a cron expression: the shortest gap between its next few
 * runs (one day for '0 9 * * *'; for '0 9 * * 1-5' also one day, so a
 * restart after a missed Monday tick catches up even though Friday to Monday is longer).
 */
export function cronPeriodMs(expression: string): number {
  const task = createTask(expression, () => undefined, { timezone: ALERT_TIMEZONE });
  try {
    const runs = task.getNextRuns(PERIOD_SAMPLES).map((date) => date.getTime());
    let period = Number.POSITIVE_INFINITY;
    for (let i = 1; i < runs.length; i += 1) period = Math.min(period, (runs[i] ?? 0) - (runs[i - 1] ?? 0));
    if (!Number.isFinite(period) || period <= 0) throw new Error(`cron expression '${expression}' has no repeating runs`);
    return period;
  } finally {
    void task.destroy();
  }
}

export interface AlertScheduleOptions {
  /** Five fields (or six with seconds), evaluated in UTC. */
  readonly expression: string;
  readonly runner: AlertRunner;
  readonly clock: Clock;
  readonly logger: AlertLogger;
  /** How long a tick keeps trying for a lease another process holds (default 10 min). */
  readonly leasePatienceMs?: number;
  readonly leaseRetryMs?: number;
  /** Longest sleep between delivery passes (default 5 min), so messages another process left pending are picked up. */
  readonly pollMs?: number;
}

export class AlertSchedule {
  readonly periodMs: number;
  private task: ScheduledTask | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Counts armTimer calls: only the newest sets the timer. */
  private timerGeneration = 0;
  private isStopped = false;
  private readonly wakeSleepers = new Set<() => void>();

  constructor(private readonly options: AlertScheduleOptions) {
    if (!isValidCronExpression(options.expression)) throw new Error(`'${options.expression}' is not a cron expression`);
    this.periodMs = cronPeriodMs(options.expression);
  }

  /**
   * Starts the cron task, then runs the catch-up (or, when none is due, a
   * pass over pending deliveries left by a previous process). Resolves when
   * that start-up work is done; the ticks go on until stop().
   */
  async start(): Promise<void> {
    if (this.task !== undefined || this.isStopped) throw new Error('the alert schedule starts once');
    this.task = createTask(this.options.expression, (context) => this.onTick(context.date.getTime()), {
      timezone: ALERT_TIMEZONE,
      name: TASK_NAME,
      // No noOverlap: a tick that comes while a run is busy queues in the runner instead of being dropped.
    });
    await this.task.start();
    await this.guard('catch-up', async () => {
      const outcome = await this.runPatiently({ reason: 'catch-up', periodMs: this.periodMs });
      if (outcome.status === 'ran') await outcome.delivered;
      else await this.options.runner.deliverDue();
    });
    await this.armTimer();
  }

  /** The next scheduled tick, or null once stopped. */
  nextRun(): Date | null {
    return this.task?.getNextRun() ?? null;
  }

  /** One cron tick for `slot` (ms); public so tests can drive ticks without waiting for the wall clock. */
  async runSlot(slot: number): Promise<RunOutcome> {
    const outcome = await this.runPatiently({ reason: 'schedule', slot });
    if (outcome.status === 'ran') await outcome.delivered;
    await this.armTimer();
    return outcome;
  }

  /** Stops ticking and timers, and waits for the runner to finish what it is doing. */
  async stop(): Promise<void> {
    this.isStopped = true;
    clearTimeout(this.timer);
    for (const wake of this.wakeSleepers) wake();
    const task = this.task;
    if (task !== undefined) {
      await task.stop();
      await task.destroy();
    }
    await this.options.runner.stop();
  }

  private async onTick(slot: number): Promise<void> {
    if (this.isStopped) return;
    await this.guard('tick', async () => {
      const outcome = await this.runSlot(slot);
      if (outcome.status === 'skipped')
        this.options.logger.info({ slot: new Date(slot).toISOString(), reason: outcome.reason }, 'expiry alert tick skipped');
    });
  }

  /** Runs `request`; while another process holds the lease, tries again every few seconds, within the patience. */
  private async runPatiently(request: RunRequest): Promise<RunOutcome> {
    const retryMs = this.options.leaseRetryMs ?? DEFAULT_LEASE_RETRY_MS;
    const tries = Math.max(1, Math.ceil((this.options.leasePatienceMs ?? DEFAULT_LEASE_PATIENCE_MS) / retryMs));
    let outcome: RunOutcome = { status: 'skipped', reason: 'stopped' };
    for (let attempt = 1; attempt <= tries && !this.isStopped; attempt += 1) {
      outcome = await this.options.runner.run(request);
      if (outcome.status === 'ran' || outcome.reason !== 'lease-held') return outcome;
      if (attempt < tries) await this.sleep(retryMs);
    }
    return outcome;
  }

  /**
   * Sets the timer for the next delivery pass: when the earliest pending
   * message is due, or after the poll interval. Asking the ledger takes a
   * round trip on PostgreSQL, so a newer call supersedes an older one still
   * waiting for its answer, and a stop() meanwhile leaves no timer behind.
   */
  private async armTimer(): Promise<void> {
    clearTimeout(this.timer);
    if (this.isStopped) return;
    const generation = ++this.timerGeneration;
    const pollMs = this.options.pollMs ?? DEFAULT_POLL_MS;
    let next: number | null = null;
    try {
      next = await this.options.runner.nextAttemptAt();
    } catch (error) {
      // The ledger is unreachable now: poll again later instead of never.
      this.options.logger.warn(
        { error: error instanceof Error ? error.message : String(error) },
        'expiry alert schedule could not read the next delivery time',
      );
    }
    if (this.isStopped || generation !== this.timerGeneration) return;
    const delay = next === null ? pollMs : Math.min(pollMs, Math.max(MIN_TIMER_MS, next - this.options.clock.now()));
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      void this.guard('retry', async () => {
        await this.options.runner.deliverDue();
      }).finally(() => this.armTimer());
    }, delay);
    // The listener keeps the process alive; this timer alone must not.
    this.timer.unref();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.wakeSleepers.delete(wake);
        resolve();
      };
      // Kept referenced: a tick waiting for the lease is work in progress, and stop() wakes it.
      const timer = setTimeout(wake, ms);
      this.wakeSleepers.add(wake);
    });
  }

  /** Errors in scheduled work are logged, never thrown into node-cron or a timer. */
  private async guard(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.options.logger.error({ error: error instanceof Error ? error.message : String(error) }, `expiry alert ${what} failed`);
    }
  }
}
