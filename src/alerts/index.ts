/** src/alerts: expiry alerts behind their ports (STYLE.md §2.2); the composition root wires them in src/cli. */
export { DeadlineError, DeliveryAbandonedError, LeaseLostError, RunDeadlineError, ShutdownError, withDeadline } from './deadline.js';
export { HeldLease, type LeaseRequest } from './held-lease.js';
export {
  DEFAULT_RETRY,
  DEFAULT_SMTP_TIMEOUT_MS,
  DIGEST_MAX_ITEMS,
  digestKey,
  Notifier,
  planMessages,
  retryDelayMs,
  type AlertMode,
  type DeliveryOutcome,
  type DeliveryResult,
  type MailSettings,
  type MessageCaps,
  type RetryPolicy,
} from './notifier.js';
export type { ExpiryThreshold, MessageItem, PendingMessage, WaitingDelivery } from '../domain/alerts.js';
export type { AlertLogger, AlertMetrics, AlertOutbox, LeaseStore, MailMessage, MailTransport, OutgoingMail } from './ports.js';
export {
  ALERT_LEASE,
  AlertRunner,
  DEFAULT_LEASE_MS,
  DEFAULT_RUN_TIMEOUT_MS,
  type AlertRunnerDeps,
  type AlertSettings,
  type DeliveryReport,
  type RunOutcome,
  type RunRequest,
  type SkipReason,
} from './runner.js';
export {
  ALERT_TIMEZONE,
  AlertSchedule,
  cronPeriodMs,
  DEFAULT_ALERT_SCHEDULE,
  isValidCronExpression,
  type AlertScheduleOptions,
} from './schedule.js';
export {
  alertKey,
  daysLeft,
  formatThreshold,
  hasStoppedRenewing,
  identityOf,
  isInScope,
  renewalDueAt,
  selectExpiring,
  type ExpiringSelection,
} from './select-expiring.js';
export {
  ATTEMPT_HEADER,
  ERROR_BODY_BYTES,
  IDEMPOTENCY_HEADER,
  postWebhook,
  SIGNATURE_HEADER,
  signBody,
  WebhookError,
  webhookDisplayName,
  type WebhookSettings,
} from './webhook.js';
export { identityLabel, mailMessage, WEBHOOK_EVENT_TYPE, webhookPayload, type WebhookCertificate, type WebhookPayload } from './wire.js';
