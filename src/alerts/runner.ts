/**
 * One alert run, in order: take the ledger lease (one process at a time),
 * claim the run (a scheduled slot once; a catch-up only when due), detect and
 * enqueue in one transaction, log each new alert, group waiting deliveries
 * into messages under the caps, then deliver what is due. Runs and delivery
 * passes in this process never overlap: they queue behind each other.
 *
 * Time is bounded at three levels: each delivery attempt has an overall
 * deadline (notifier, webhook); a channel whose attempt missed its deadline
 * is not tried again in the same pass (its other messages wait for the next
 * one), and each channel has its own lane, so a hanging SMTP server does not
 * hold the webhook back; the pass as a whole has a deadline. The lease is
 * renewed by a heartbeat while the run holds it; if a renewal fails (another
 * process took it), the attempt in flight is aborted and nothing more is done.
 * stop() aborts the attempt in flight too, so a hanging receiver never holds
 * a shutdown up.
 */
import type { Clock } from '../shared/clock.js';
import { RunDeadlineError, ShutdownError } from './deadline.js';
import { HeldLease } from './held-lease.js';
import {
  Notifier,
  planMessages,
  waitingQueryFor,
  type AlertMode,
  type MailSettings,
  type MessageCaps,
  type RetryPolicy,
} from './notifier.js';
import type { AlertChannel, AlertRunReason, DeliveryTarget, EnqueuedAlert, ExpiryThreshold, PendingMessage } from '../domain/alerts.js';
import type { AlertLogger, AlertMetrics, AlertOutbox, LeaseStore } from './ports.js';
import { alertKey, daysLeft, formatThreshold } from './select-expiring.js';
import { webhookDisplayName, type WebhookSettings } from './webhook.js';
import { identityLabel } from './wire.js';

/** The ledger lease every alert run and delivery pass holds. */
export const ALERT_LEASE = 'alerts';
/** A dead holder blocks other processes this long at most; a live one renews it every quarter of that. */
export const DEFAULT_LEASE_MS = 120_000;
/** Renewals per lease lifetime: three may fail to land in time (a blocked loop) before the lease runs out. */
const HEARTBEATS_PER_LEASE = 4;
/** Due messages read per query in a delivery pass. */
const DUE_BATCH = 50;
/** Default overall time of one delivery pass. */
export const DEFAULT_RUN_TIMEOUT_MS = 5 * 60_000;
const CHANNELS: readonly AlertChannel[] = ['webhook', 'mail'];
/**
 * Numbers this process's lease acquisitions, across runner instances: each
 * holds the lease under its own token even when two runners share a holder
 * name, so one can never renew or release the other's.
 */
let acquisitions = 0;

export interface AlertSettings {
  readonly thresholds: readonly ExpiryThreshold[];
  readonly mode: AlertMode;
  readonly caps: MessageCaps;
  readonly retry: RetryPolicy;
  readonly webhook?: WebhookSettings;
  readonly mail?: MailSettings & { readonly to: readonly string[] };
  /** Overall time of one delivery pass (default DEFAULT_RUN_TIMEOUT_MS); what is left waits for the next pass. */
  readonly runTimeoutMs?: number;
}

export interface AlertRunnerDeps {
  readonly outbox: AlertOutbox;
  readonly leases: LeaseStore;
  readonly clock: Clock;
  readonly logger: AlertLogger;
  readonly metrics?: AlertMetrics;
  /** Names this process in the lease and run rows, e.g. host:pid:random. */
  readonly holder: string;
  /** Jitter source in [0, 1); tests pin it. */
  readonly random?: () => number;
  /** Lease lifetime (default DEFAULT_LEASE_MS); the heartbeat renews it every quarter of it. */
  readonly leaseMs?: number;
}

export type RunRequest =
  | { readonly reason: 'schedule'; readonly slot: number }
  | { readonly reason: 'catch-up'; readonly periodMs: number }
  | { readonly reason: 'manual' };

export interface DeliveryReport {
  readonly sent: number;
  readonly retrying: number;
  readonly failed: number;
  /** The pass ended before the outbox was drained: stopping, the lease was lost, a deadline passed, or an error. */
  readonly isPartial: boolean;
}

export type SkipReason = 'busy' | 'lease-held' | 'already-ran' | 'stopped';

export type RunOutcome =
  | {
      readonly status: 'ran';
      readonly runId: number;
      readonly reason: AlertRunReason;
      readonly enqueued: readonly EnqueuedAlert[];
      /** Messages this run created (held-back deliveries included). */
      readonly messages: number;
      /** Settles when this run's delivery pass is over; never rejects. */
      readonly delivered: Promise<DeliveryReport>;
    }
  | { readonly status: 'skipped'; readonly reason: SkipReason };

interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class AlertRunner {
  readonly targets: readonly DeliveryTarget[];
  private readonly notifier: Notifier;
  private readonly leaseMs: number;
  private readonly runTimeoutMs: number;
  /** The delivery pass in flight, if any: stop() aborts it. */
  private readonly passes = new Set<AbortController>();
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  private isStopping = false;

  constructor(
    private readonly deps: AlertRunnerDeps,
    private readonly settings: AlertSettings,
  ) {
    this.targets = [
      ...(settings.webhook === undefined ? [] : [{ channel: 'webhook' as const, recipient: webhookDisplayName(settings.webhook.url) }]),
      ...(settings.mail === undefined ? [] : settings.mail.to.map((to) => ({ channel: 'mail' as const, recipient: to }))),
    ];
    this.notifier = new Notifier({
      outbox: deps.outbox,
      logger: deps.logger,
      retry: settings.retry,
      random: deps.random ?? Math.random,
      ...(deps.metrics === undefined ? {} : { metrics: deps.metrics }),
      ...(settings.webhook === undefined ? {} : { webhook: settings.webhook }),
      ...(settings.mail === undefined ? {} : { mail: settings.mail }),
    });
    this.leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
    this.runTimeoutMs = settings.runTimeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
  }

  /** True while a run or delivery pass is running or queued in this process. */
  get isBusy(): boolean {
    return this.queued > 0;
  }

  /**
   * Runs detection now. Resolves once detection and message forming have
   * committed (the outcome lists what was enqueued); delivery continues
   * behind `delivered`. With `wait: false` a busy process skips instead of queueing.
   */
  run(request: RunRequest, options: { readonly wait?: boolean } = {}): Promise<RunOutcome> {
    if (this.isStopping) return Promise.resolve({ status: 'skipped', reason: 'stopped' });
    if (options.wait === false && this.isBusy) return Promise.resolve({ status: 'skipped', reason: 'busy' });
    const detection = deferred<RunOutcome>();
    void this.exclusive(() => this.runExclusively(request, detection));
    return detection.promise;
  }

  /** Resends whatever is due (after a crash, or a failed attempt's back-off); null when skipped. */
  deliverDue(): Promise<DeliveryReport | null> {
    if (this.isStopping) return Promise.resolve(null);
    return this.exclusive(async () => {
      if (this.isStopping) return null;
      const lease = await this.acquireLease();
      if (lease === null) return null;
      try {
        return await this.deliverHeld(lease);
      } finally {
        await lease.release();
      }
    });
  }

  /** When the next pending message is due, or null when nothing is pending. */
  async nextAttemptAt(): Promise<number | null> {
    return this.deps.outbox.nextAttemptAt();
  }

  /**
   * Starts nothing new, cuts off the delivery attempts in flight (recorded as
   * nothing: they are resent on the next start, with the same key) and waits
   * for what is running to wind down.
   */
  async stop(): Promise<void> {
    this.isStopping = true;
    for (const pass of this.passes) pass.abort(new ShutdownError());
    await this.tail;
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    this.queued += 1;
    const result = this.tail.then(work).finally(() => {
      this.queued -= 1;
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  private async runExclusively(request: RunRequest, detection: Deferred<RunOutcome>): Promise<void> {
    const { outbox, clock, logger, holder } = this.deps;
    let lease: HeldLease | null = null;
    try {
      if (this.isStopping) return detection.resolve({ status: 'skipped', reason: 'stopped' });
      lease = await this.acquireLease();
      if (lease === null) return detection.resolve({ status: 'skipped', reason: 'lease-held' });
      const now = clock.now();
      const runId = await outbox.startRun({
        reason: request.reason,
        holder,
        now,
        ...(request.reason === 'schedule' ? { slot: request.slot } : {}),
        ...(request.reason === 'catch-up' ? { unlessFinishedSince: now - request.periodMs } : {}),
      });
      if (runId === null) return detection.resolve({ status: 'skipped', reason: 'already-ran' });

      const enqueued = await outbox.enqueueExpiring({
        runId,
        now,
        thresholds: this.settings.thresholds,
        targets: this.targets,
        keyFor: alertKey,
      });
      this.deps.metrics?.enqueued(enqueued.length);
      this.logEnqueued(enqueued, now);
      const messages = await this.formMessages(runId);
      await outbox.finishRun(runId, clock.now(), enqueued.length);
      logger.info({ runId, reason: request.reason, enqueued: enqueued.length, messages }, 'expiry alert run');

      const delivered = this.deliverHeld(lease);
      detection.resolve({ status: 'ran', runId, reason: request.reason, enqueued, messages, delivered });
      await delivered;
    } catch (error) {
      // Rejects the caller when detection failed; after that the outcome is already out and this only logs.
      detection.reject(error);
      logger.error({ error: describeError(error), reason: request.reason }, 'expiry alert run failed');
    } finally {
      await lease?.release();
    }
  }

  /** The lease under a token of its own (fencing: see HeldLease), or null when another process holds it. */
  private acquireLease(): Promise<HeldLease | null> {
    acquisitions += 1;
    return HeldLease.acquire({
      store: this.deps.leases,
      name: ALERT_LEASE,
      token: `${this.deps.holder}#${acquisitions}`,
      clock: this.deps.clock,
      ttlMs: this.leaseMs,
      heartbeatMs: Math.max(1, Math.floor(this.leaseMs / HEARTBEATS_PER_LEASE)),
      logger: this.deps.logger,
    });
  }

  private async formMessages(runId: number): Promise<number> {
    const { outbox, clock } = this.deps;
    const waiting = await outbox.waitingDeliveries(waitingQueryFor(this.settings.mode, this.settings.caps));
    const planned = planMessages(waiting, this.settings.mode, this.settings.caps);
    await outbox.createMessages(runId, clock.now(), planned);
    return planned.length;
  }

  /**
   * Sends due messages until none is left, one lane per channel side by side,
   * within the pass's deadline and while the lease holds; never rejects.
   */
  private async deliverHeld(lease: HeldLease): Promise<DeliveryReport> {
    const { logger } = this.deps;
    const counts = { sent: 0, retry: 0, failed: 0 };
    const pass = new AbortController();
    const stopPass = (): void => pass.abort(lease.signal.reason);
    lease.signal.addEventListener('abort', stopPass, { once: true });
    const deadline = setTimeout(() => pass.abort(new RunDeadlineError(this.runTimeoutMs)), this.runTimeoutMs);
    this.passes.add(pass);
    try {
      const lanes = await Promise.all(CHANNELS.map((channel) => this.deliverLane(channel, lease, pass.signal, counts)));
      if (pass.signal.reason instanceof RunDeadlineError)
        logger.warn({ deadlineMs: this.runTimeoutMs }, 'expiry alert delivery pass reached its deadline; the rest waits for the next pass');
      return { sent: counts.sent, retrying: counts.retry, failed: counts.failed, isPartial: lanes.some((isPartial) => isPartial) };
    } catch (error) {
      logger.error({ error: describeError(error) }, 'expiry alert delivery pass failed');
      return { sent: counts.sent, retrying: counts.retry, failed: counts.failed, isPartial: true };
    } finally {
      clearTimeout(deadline);
      this.passes.delete(pass);
      lease.signal.removeEventListener('abort', stopPass);
    }
  }

  /** One channel's due messages in order; true when some were left behind. */
  private async deliverLane(
    channel: AlertChannel,
    lease: HeldLease,
    signal: AbortSignal,
    counts: Record<'sent' | 'retry' | 'failed', number>,
  ): Promise<boolean> {
    const { outbox, clock, logger } = this.deps;
    // A message that failed again is due later; `attempted` keeps one pass from retrying it at once.
    const attempted = new Set<number>();
    const dueNow = async (): Promise<PendingMessage[]> =>
      (await outbox.dueMessages(clock.now(), DUE_BATCH, channel)).filter((m) => !attempted.has(m.id));
    for (;;) {
      const due = await dueNow();
      if (due.length === 0) return false;
      for (const message of due) {
        if (this.isStopping || signal.aborted || !(await lease.renew())) return true;
        attempted.add(message.id);
        const result = await this.notifier.deliver(message, () => clock.now(), signal);
        if (result.outcome === 'abandoned') return true;
        counts[result.outcome] += 1;
        if (result.missedDeadline) {
          // The receiver hangs or drips: the channel's other messages wait for the next pass instead of each taking a deadline now.
          const left = signal.aborted ? 1 : (await dueNow()).length;
          if (left > 0)
            logger.warn(
              { channel },
              `expiry alert ${channel} delivery missed its deadline; the channel's other due messages wait for the next pass`,
            );
          return left > 0;
        }
      }
    }
  }

  /** The log channel: one line per new alert, up to the per-run cap, then one summary line. */
  private logEnqueued(enqueued: readonly EnqueuedAlert[], now: number): void {
    const shown = enqueued.slice(0, this.settings.caps.perRun);
    for (const alert of shown) {
      this.deps.logger.warn(
        {
          serial: alert.serial,
          identity: identityLabel(alert),
          subject: alert.subject,
          profile: alert.profile,
          requester: alert.requester,
          notAfter: new Date(alert.notAfter).toISOString(),
          daysLeft: daysLeft(alert.notAfter, now),
          threshold: formatThreshold(alert.thresholdMs),
          idempotencyKey: alert.idempotencyKey,
        },
        'certificate expires soon and has no successor',
      );
    }
    if (enqueued.length > shown.length) {
      this.deps.logger.warn(
        { more: enqueued.length - shown.length },
        `${enqueued.length - shown.length} more certificates expire soon (see GET /v1/alerts)`,
      );
    }
  }
}
