/**
 * What the expiry alerts need from the rest of keysmith. The ledger's alert
 * outbox and lease repositories fit these shapes structurally, as does a
 * nodemailer transport; cli/compose checks each fit with `satisfies`.
 */
import type { Awaitable } from '../shared/awaitable.js';
import type {
  AlertChannel,
  AlertRunReason,
  DeliveryTarget,
  EnqueuedAlert,
  ExpiryThreshold,
  MessageItem,
  NewAlertMessage,
  PendingMessage,
  WaitingDelivery,
} from '../domain/alerts.js';

/**
 * The durable outbox (src/ledger AlertOutboxRepository on SQLite,
 * PostgresAlertOutbox on PostgreSQL). Each method is one transaction; results
 * are Awaitable (SQLite answers at once, PostgreSQL later) and always awaited.
 */
export interface AlertOutbox {
  /** The run's id, or null when the slot was already run or (catch-up) a run finished since `unlessFinishedSince`. */
  startRun(request: {
    readonly reason: AlertRunReason;
    readonly slot?: number;
    readonly holder: string;
    readonly now: number;
    readonly unlessFinishedSince?: number;
  }): Awaitable<number | null>;
  finishRun(runId: number, now: number, enqueued: number): Awaitable<void>;
  /** Detection and enqueue in one transaction; returns only what is new. */
  enqueueExpiring(request: {
    readonly runId: number;
    readonly now: number;
    readonly thresholds: readonly ExpiryThreshold[];
    readonly targets: readonly DeliveryTarget[];
    readonly keyFor: (serial: string, thresholdMs: number) => string;
  }): Awaitable<EnqueuedAlert[]>;
  waitingDeliveries(query: { readonly perRecipient: number; readonly limit: number }): Awaitable<WaitingDelivery[]>;
  createMessages(runId: number, now: number, messages: readonly NewAlertMessage[]): Awaitable<number[]>;
  /** Pending messages due by `now`, oldest due first; only `channel`'s when given. */
  dueMessages(now: number, limit: number, channel?: AlertChannel): Awaitable<PendingMessage[]>;
  nextAttemptAt(): Awaitable<number | null>;
  messageItems(messageId: number): Awaitable<MessageItem[]>;
  markSent(messageId: number, now: number): Awaitable<void>;
  /** `nextAttemptAt` null gives the message up (failed). */
  recordFailure(messageId: number, error: string, nextAttemptAt: number | null): Awaitable<void>;
}

/**
 * Named leases in the ledger (src/ledger LeaseRepository, PostgresLeases). `holder` is the
 * fencing token: the runner mints one per acquisition, and renew and release
 * only touch the row that token made.
 */
export interface LeaseStore {
  /** True when the lease was free or expired and is now `holder`'s until now + ttlMs. */
  acquire(name: string, holder: string, now: number, ttlMs: number): Awaitable<boolean>;
  /** False when the lease ran out or another holder has it: the caller must stop. */
  renew(name: string, holder: string, now: number, ttlMs: number): Awaitable<boolean>;
  release(name: string, holder: string): Awaitable<void>;
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

/** A mail as handed to the transport: `signal` aborts the send and closes its connection. */
export type OutgoingMail = MailMessage & { readonly signal?: AbortSignal };

/** A nodemailer Transporter fits this (nodemailer's SMTP transport honours `signal`). */
export interface MailTransport {
  sendMail(message: OutgoingMail): Promise<unknown>;
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
