/**
 * What the expiry alerts need from the rest of keysmith. The ledger's alert
 * outbox and lease repositories fit these shapes structurally, as does a
 * nodemailer transport; cli/compose checks each fit with `satisfies`.
 */
import type { ProfileName } from '../shared/records.js';

export type AlertChannel = 'webhook' | 'mail';
export type AlertRunReason = 'schedule' | 'catch-up' | 'manual';
export type AlertMessageKind = 'single' | 'digest';

/** Alert when notAfter is within `withinMs` of now; `profiles` null means every profile. */
export interface ExpiryThreshold {
  readonly withinMs: number;
  readonly profiles: readonly ProfileName[] | null;
}

export interface DeliveryTarget {
  readonly channel: AlertChannel;
  /** A webhook's display form (no credentials or query) or a mail address. */
  readonly recipient: string;
}

/** What an alert says about its certificate. */
export interface AlertedCertificate {
  readonly serial: string;
  readonly subject: string;
  readonly spiffeId: string | null;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly profile: ProfileName;
  readonly requester: string;
  readonly notBefore: number;
  readonly notAfter: number;
}

export interface EnqueuedAlert extends AlertedCertificate {
  readonly id: number;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
  readonly enqueuedAt: number;
}

export interface WaitingDelivery {
  readonly alertId: number;
  readonly channel: AlertChannel;
  readonly recipient: string;
  readonly idempotencyKey: string;
  readonly notAfter: number;
}

export interface NewAlertMessage {
  readonly channel: AlertChannel;
  readonly recipient: string;
  readonly kind: AlertMessageKind;
  readonly idempotencyKey: string;
  readonly alertIds: readonly number[];
}

export interface PendingMessage {
  readonly id: number;
  readonly channel: AlertChannel;
  readonly recipient: string;
  readonly kind: AlertMessageKind;
  readonly idempotencyKey: string;
  readonly attempts: number;
}

export interface MessageItem extends AlertedCertificate {
  readonly alertId: number;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
}

/**
 * The durable outbox (src/ledger AlertOutboxRepository). Synchronous, like
 * better-sqlite3; each method is one transaction.
 */
export interface AlertOutbox {
  /** The run's id, or null when the slot was already run or (catch-up) a run finished since `unlessFinishedSince`. */
  startRun(request: {
    readonly reason: AlertRunReason;
    readonly slot?: number;
    readonly holder: string;
    readonly now: number;
    readonly unlessFinishedSince?: number;
  }): number | null;
  finishRun(runId: number, now: number, enqueued: number): void;
  /** Detection and enqueue in one transaction; returns only what is new. */
  enqueueExpiring(request: {
    readonly runId: number;
    readonly now: number;
    readonly thresholds: readonly ExpiryThreshold[];
    readonly targets: readonly DeliveryTarget[];
    readonly keyFor: (serial: string, thresholdMs: number) => string;
  }): EnqueuedAlert[];
  waitingDeliveries(query: { readonly perRecipient: number; readonly limit: number }): WaitingDelivery[];
  createMessages(runId: number, now: number, messages: readonly NewAlertMessage[]): number[];
  dueMessages(now: number, limit: number): PendingMessage[];
  nextAttemptAt(): number | null;
  messageItems(messageId: number): MessageItem[];
  markSent(messageId: number, now: number): void;
  /** `nextAttemptAt` null gives the message up (failed). */
  recordFailure(messageId: number, error: string, nextAttemptAt: number | null): void;
}

/** Named leases in the ledger (src/ledger LeaseRepository). */
export interface LeaseStore {
  acquire(name: string, holder: string, now: number, ttlMs: number): boolean;
  renew(name: string, holder: string, now: number, ttlMs: number): boolean;
  release(name: string, holder: string): void;
}

/** One mail, in nodemailer's option names. */
export interface MailMessage {
  readonly from: string;
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  /** RFC 5322 Message-ID, made from the idempotency key so a resend can be recognised. */
  readonly messageId: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** A nodemailer Transporter fits this. */
export interface MailTransport {
  sendMail(message: MailMessage): Promise<unknown>;
}

/** pino's call shape: a merge object, then the message. */
export interface AlertLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AlertMetrics {
  enqueued(count: number): void;
  messageSent(channel: AlertChannel): void;
  /** A message given up after its last attempt. */
  messageFailed(channel: AlertChannel): void;
  /** One failed attempt that will be retried. */
  attemptFailed(channel: AlertChannel): void;
}
