/**
 * One alert run, in order: take the ledger lease (one process at a time),
 * claim the run (a scheduled slot once; a catch-up only when due), detect and
 * enqueue in one transaction, log each new alert, group waiting deliveries
 * into messages under the caps, then deliver what is due. Runs and delivery
 * passes in this process never overlap: they queue behind each other.
 */
import type { Clock } from '../shared/clock.js';
import { Notifier, planMessages, waitingQueryFor, type AlertMode, type MailSettings, type MessageCaps, type RetryPolicy } from './notifier.js';
import type { AlertLogger, AlertMetrics, AlertOutbox, AlertRunReason, DeliveryTarget, EnqueuedAlert, ExpiryThreshold, LeaseStore } from './ports.js';
import { alertKey, daysLeft, formatThreshold } from './select-expiring.js';
import { webhookDisplayName, type WebhookSettings } from './webhook.js';
import { identityLabel } from './wire.js';

/** The ledger lease every alert run and delivery pass holds. */
export const ALERT_LEASE = 'alerts';
/** Outlasts one slow SMTP exchange (connect, greeting and idle timeouts of 10, 10 and 30 s); a dead holder blocks others this long at most. */
const MIN_LEASE_MS = 120_000;
/** Due messages read per query in a delivery pass. */
const DUE_BATCH = 50;

export interface AlertSettings {
  readonly thresholds: readonly ExpiryThreshold[];
  readonly mode: AlertMode;
  readonly caps: MessageCaps;
  readonly retry: RetryPolicy;
  readonly webhook?: WebhookSettings;
  readonly mail?: MailSettings & { readonly to: readonly string[] };
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
}

export type RunRequest =
  | { readonly reason: 'schedule'; readonly slot: number }
  | { readonly reason: 'catch-up'; readonly periodMs: number }
  | { readonly reason: 'manual' };

export interface DeliveryReport {
  readonly sent: number;
  readonly retrying: number;
  readonly failed: number;
  /** The pass ended before the outbox was drained: stopping, the lease was lost, or an error. */
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
      ...(settings.mail === undefined ? {} : { mail: { from: settings.mail.from, transport: settings.mail.transport } }),
    });
    // Renewed before each message, so it must outlast the slowest single delivery.
    this.leaseMs = Math.max(MIN_LEASE_MS, 3 * (settings.webhook?.timeoutMs ?? 0));
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
      if (this.isStopping || !this.deps.leases.acquire(ALERT_LEASE, this.deps.holder, this.deps.clock.now(), this.leaseMs)) return null;
      try {
        return await this.deliverHeld();
      } finally {
        this.releaseLease();
      }
    });
  }

  /** When the next pending message is due, or null when nothing is pending. */
  nextAttemptAt(): number | null {
    return this.deps.outbox.nextAttemptAt();
  }

  /** Starts nothing new and waits for what is running (a delivery pass stops after its current message). */
  async stop(): Promise<void> {
    this.isStopping = true;
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
    const { outbox, leases, clock, logger, holder } = this.deps;
    let holdsLease = false;
    try {
      if (this.isStopping) return detection.resolve({ status: 'skipped', reason: 'stopped' });
      const now = clock.now();
      holdsLease = leases.acquire(ALERT_LEASE, holder, now, this.leaseMs);
      if (!holdsLease) return detection.resolve({ status: 'skipped', reason: 'lease-held' });
      const runId = outbox.startRun({
        reason: request.reason,
        holder,
        now,
        ...(request.reason === 'schedule' ? { slot: request.slot } : {}),
        ...(request.reason === 'catch-up' ? { unlessFinishedSince: now - request.periodMs } : {}),
      });
      if (runId === null) return detection.resolve({ status: 'skipped', reason: 'already-ran' });

      const enqueued = outbox.enqueueExpiring({ runId, now, thresholds: this.settings.thresholds, targets: this.targets, keyFor: alertKey });
      this.deps.metrics?.enqueued(enqueued.length);
      this.logEnqueued(enqueued, now);
      const messages = this.formMessages(runId);
      outbox.finishRun(runId, clock.now(), enqueued.length);
      logger.info({ runId, reason: request.reason, enqueued: enqueued.length, messages }, 'expiry alert run');

      const delivered = this.deliverHeld();
      detection.resolve({ status: 'ran', runId, reason: request.reason, enqueued, messages, delivered });
      await delivered;
    } catch (error) {
      // Rejects the caller when detection failed; after that the outcome is already out and this only logs.
      detection.reject(error);
      logger.error({ error: describeError(error), reason: request.reason }, 'expiry alert run failed');
    } finally {
      if (holdsLease) this.releaseLease();
    }
  }

  private formMessages(runId: number): number {
    const { outbox, clock } = this.deps;
    const waiting = outbox.waitingDeliveries(waitingQueryFor(this.settings.mode, this.settings.caps));
    const planned = planMessages(waiting, this.settings.mode, this.settings.caps);
    outbox.createMessages(runId, clock.now(), planned);
    return planned.length;
  }

  /** Sends due messages until none is left, renewing the lease before each; never rejects. */
  private async deliverHeld(): Promise<DeliveryReport> {
    const { outbox, leases, clock, holder, logger } = this.deps;
    const counts = { sent: 0, retry: 0, failed: 0 };
    const attempted = new Set<number>();
    const report = (isPartial: boolean): DeliveryReport => ({ sent: counts.sent, retrying: counts.retry, failed: counts.failed, isPartial });
    try {
      for (;;) {
        // A message that failed again is due later; `attempted` keeps one pass from retrying it at once.
        const due = outbox.dueMessages(clock.now(), DUE_BATCH).filter((m) => !attempted.has(m.id));
        if (due.length === 0) return report(false);
        for (const message of due) {
          if (this.isStopping) return report(true);
          if (!leases.renew(ALERT_LEASE, holder, clock.now(), this.leaseMs)) {
            logger.warn({ holder }, 'expiry alert lease lost to another process; delivery stops here');
            return report(true);
          }
          attempted.add(message.id);
          counts[await this.notifier.deliver(message, () => clock.now())] += 1;
        }
      }
    } catch (error) {
      logger.error({ error: describeError(error) }, 'expiry alert delivery pass failed');
      return report(true);
    }
  }

  private releaseLease(): void {
    try {
      this.deps.leases.release(ALERT_LEASE, this.deps.holder);
    } catch (error) {
      // The lease then simply expires; nothing else depends on this.
      this.deps.logger.warn({ error: describeError(error) }, 'could not release the expiry alert lease');
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
      this.deps.logger.warn({ more: enqueued.length - shown.length }, `${enqueued.length - shown.length} more certificates expire soon (see GET /v1/alerts)`);
    }
  }
}
