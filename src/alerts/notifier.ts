/**
 * From outbox to receivers: which waiting deliveries become messages in a
 * run (caps, per-certificate or digest), and the sending of one message with
 * its retry bookkeeping (exponential back-off with jitter, then failed).
 */
import { createHash } from 'node:crypto';
import { DeadlineError, DeliveryAbandonedError, withDeadline } from './deadline.js';
import type { AlertChannel, MessageItem, NewAlertMessage, PendingMessage, WaitingDelivery } from '../domain/alerts.js';
import type { AlertLogger, AlertMetrics, AlertOutbox, MailTransport } from './ports.js';
import { postWebhook, webhookLogName, type WebhookSettings } from './webhook.js';
import { mailMessage, webhookPayload } from './wire.js';

export type AlertMode = 'per-certificate' | 'digest';

export interface MessageCaps {
  /** Messages a run may create, all channels and recipients together. */
  readonly perRun: number;
  /** Messages a run may create for one recipient (a webhook URL, a mail address). */
  readonly perRecipient: number;
}

/** A digest lists at most this many certificates; the rest wait for the next run. */
export const DIGEST_MAX_ITEMS = 500;

/** How many waiting deliveries a run reads to fill its messages. */
export function waitingQueryFor(mode: AlertMode, caps: MessageCaps): { perRecipient: number; limit: number } {
  return mode === 'digest'
    ? { perRecipient: DIGEST_MAX_ITEMS, limit: caps.perRun * DIGEST_MAX_ITEMS }
    : { perRecipient: caps.perRecipient, limit: caps.perRun };
}

function recipientKey(delivery: { readonly channel: AlertChannel; readonly recipient: string }): string {
  return `${delivery.channel}\u0000${delivery.recipient}`;
}

/** A digest's key names its contents, so a resend of the same digest carries the same key. */
export function digestKey(alertKeys: readonly string[]): string {
  const hash = createHash('sha256');
  for (const key of [...alertKeys].sort()) hash.update(key).update('\u0000');
  return `keysmith-digest-${hash.digest('hex').slice(0, 32)}`;
}

/**
 * The messages one run creates from waiting deliveries (most urgent first).
 * Per certificate: one message per delivery, keyed by its alert. Digest: one
 * message per recipient. Caps bound both; what does not fit stays waiting.
 */
export function planMessages(waiting: readonly WaitingDelivery[], mode: AlertMode, caps: MessageCaps): NewAlertMessage[] {
  const perRecipientCap = Math.min(caps.perRecipient, caps.perRun);
  if (mode === 'per-certificate') {
    const counts = new Map<string, number>();
    const messages: NewAlertMessage[] = [];
    for (const delivery of waiting) {
      if (messages.length >= caps.perRun) break;
      const key = recipientKey(delivery);
      const count = counts.get(key) ?? 0;
      if (count >= perRecipientCap) continue;
      counts.set(key, count + 1);
      messages.push({
        channel: delivery.channel,
        recipient: delivery.recipient,
        kind: 'single',
        idempotencyKey: delivery.idempotencyKey,
        alertIds: [delivery.alertId],
      });
    }
    return messages;
  }
  const groups = new Map<string, WaitingDelivery[]>();
  for (const delivery of waiting) {
    const key = recipientKey(delivery);
    const group = groups.get(key);
    if (group !== undefined) {
      if (group.length < DIGEST_MAX_ITEMS) group.push(delivery);
    } else if (groups.size < caps.perRun) {
      groups.set(key, [delivery]);
    }
  }
  return [...groups.values()].flatMap((group): NewAlertMessage[] => {
    const first = group[0];
    if (first === undefined) return [];
    return [
      {
        channel: first.channel,
        recipient: first.recipient,
        kind: 'digest',
        idempotencyKey: digestKey(group.map((d) => d.idempotencyKey)),
        alertIds: group.map((d) => d.alertId),
      },
    ];
  });
}

export interface RetryPolicy {
  /** Attempts in all, the first included; after the last failure the message is failed. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 8, baseDelayMs: 30_000, maxDelayMs: 3_600_000 };

/**
 * Delay before attempt `failedAttempts + 1`: base * 2^(failedAttempts - 1),
 * capped, with "equal jitter" (half fixed, half random) so receivers coming
 * back are not hit by every sender at once, yet the back-off still grows.
 */
export function retryDelayMs(failedAttempts: number, policy: RetryPolicy, random: () => number): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failedAttempts - 1));
  const half = exponential / 2;
  return Math.round(half + half * Math.min(1, Math.max(0, random())));
}

/** Overall time for one SMTP exchange (connect, greeting, EHLO, STARTTLS, AUTH, the message, QUIT) when none is set. */
export const DEFAULT_SMTP_TIMEOUT_MS = 30_000;

export interface MailSettings {
  readonly from: string;
  readonly transport: MailTransport;
  /** Overall deadline of one send (default DEFAULT_SMTP_TIMEOUT_MS). */
  readonly timeoutMs?: number;
}

export interface NotifierDeps {
  readonly outbox: AlertOutbox;
  readonly logger: AlertLogger;
  readonly metrics?: AlertMetrics;
  readonly retry: RetryPolicy;
  readonly random: () => number;
  readonly webhook?: WebhookSettings;
  readonly mail?: MailSettings;
}

export type DeliveryOutcome = 'sent' | 'retry' | 'failed';

export interface DeliveryResult {
  /** 'abandoned': the lease was lost or keysmith stopped mid-send; nothing was recorded, so the message stays due as it was. */
  readonly outcome: DeliveryOutcome | 'abandoned';
  /** The attempt ran out of its own deadline (a hanging or dripping receiver). */
  readonly missedDeadline: boolean;
}

/** Sends one message on its channel and records the outcome in the outbox. */
export class Notifier {
  constructor(private readonly deps: NotifierDeps) {}

  /**
   * Sends, then records the outcome. An attempt is counted when its outcome
   * is recorded: a process killed mid-send leaves the message due as it was,
   * so the next pass resends it (same key) without using up an attempt.
   */
  async deliver(message: PendingMessage, now: () => number, signal?: AbortSignal): Promise<DeliveryResult> {
    const { outbox, logger, metrics } = this.deps;
    const items = await outbox.messageItems(message.id);
    const attempt = message.attempts + 1;
    const context = {
      channel: message.channel,
      recipient: message.channel === 'webhook' ? webhookLogName(message.recipient) : message.recipient,
      idempotencyKey: message.idempotencyKey,
      attempt,
      certificates: items.length,
    };
    let failure: string;
    let isPermanent = false;
    let missedDeadline = false;
    try {
      if (items.length === 0) {
        isPermanent = true;
        throw new Error('its certificates are no longer in the ledger');
      }
      await this.send(message, items, now(), attempt, signal);
      await outbox.markSent(message.id, now());
      metrics?.messageSent(message.channel);
      logger.info({ ...context, serials: items.map((i) => i.serial) }, `expiry alert sent by ${message.channel}`);
      return { outcome: 'sent', missedDeadline: false };
    } catch (error) {
      if (error instanceof DeliveryAbandonedError || signal?.reason instanceof DeliveryAbandonedError) {
        // The lease was lost (another process may be sending this very message) or keysmith is stopping: record nothing.
        logger.warn({ ...context }, `expiry alert ${message.channel} delivery abandoned: ${describe(error)}`);
        return { outcome: 'abandoned', missedDeadline: false };
      }
      failure = describe(error);
      missedDeadline = error instanceof DeadlineError;
      if (error instanceof ChannelUnavailableError) isPermanent = true;
    }
    const giveUp = isPermanent || attempt >= this.deps.retry.maxAttempts;
    const next = giveUp ? null : now() + retryDelayMs(attempt, this.deps.retry, this.deps.random);
    await outbox.recordFailure(message.id, failure, next);
    if (giveUp) {
      metrics?.messageFailed(message.channel);
      logger.error(
        { ...context, error: failure },
        `expiry alert ${message.channel} delivery failed for good after ${attempt} attempt${attempt === 1 ? '' : 's'}`,
      );
      return { outcome: 'failed', missedDeadline };
    }
    metrics?.attemptFailed(message.channel);
    logger.warn(
      { ...context, error: failure, nextAttemptAt: next === null ? null : new Date(next).toISOString() },
      `expiry alert ${message.channel} delivery failed; will retry`,
    );
    return { outcome: 'retry', missedDeadline };
  }

  private async send(
    message: PendingMessage,
    items: readonly MessageItem[],
    now: number,
    attempt: number,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    switch (message.channel) {
      case 'webhook': {
        const settings = this.deps.webhook;
        if (settings === undefined) throw new ChannelUnavailableError('no webhook is configured any more');
        const body = JSON.stringify(webhookPayload(message, items, now));
        await postWebhook(settings, { body, idempotencyKey: message.idempotencyKey, attempt }, signal);
        return;
      }
      case 'mail': {
        const settings = this.deps.mail;
        if (settings === undefined) throw new ChannelUnavailableError('no SMTP server is configured any more');
        const mail = mailMessage(message, items, now, settings.from);
        const timeoutMs = settings.timeoutMs ?? DEFAULT_SMTP_TIMEOUT_MS;
        // Our own timer, not nodemailer's idle timeouts: its abort closes the SMTP connection (nodemailer honours `signal`).
        await withDeadline(
          timeoutMs,
          `the SMTP exchange did not finish within ${timeoutMs} ms`,
          (deadline) => settings.transport.sendMail({ ...mail, signal: deadline }),
          signal,
        );
        return;
      }
      default: {
        const unknown: never = message.channel;
        throw new ChannelUnavailableError(`unknown channel ${String(unknown)}`);
      }
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The channel a message was queued for is not configured now: retrying cannot help. */
class ChannelUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChannelUnavailableError';
  }
}
