/**
 * What the alert routes need (AppDeps.alerts). The listing is read-only
 * (the ledger's alert outbox fits it); a run goes through the alert runner.
 * cli/alerts.ts builds the adapter and checks the fit with `satisfies`.
 */
import type { AlertedCertificate, AlertStatus } from '../../../domain/alerts.js';
import type { Awaitable } from '../../../shared/awaitable.js';

export type AlertStatusName = AlertStatus;

/** The alerted certificate as the routes show it (its notBefore is not part of the alert view). */
export type AlertCertificateView = Omit<AlertedCertificate, 'notBefore'>;

export interface AlertDeliveryView {
  readonly channel: 'webhook' | 'mail';
  readonly recipient: string;
  readonly status: AlertStatusName;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly nextAttemptAt: number | null;
  readonly sentAt: number | null;
  readonly messageKey: string | null;
}

export interface AlertView {
  readonly id: number;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
  readonly enqueuedAt: number;
  readonly certificate: AlertCertificateView;
  readonly status: AlertStatusName;
  readonly attempts: number;
  readonly lastError: string | null;
  readonly deliveries: readonly AlertDeliveryView[];
}

export interface EnqueuedAlertView extends AlertCertificateView {
  readonly id: number;
  readonly thresholdMs: number;
  readonly idempotencyKey: string;
}

export interface AlertRunResult {
  readonly runId: number;
  readonly enqueued: readonly EnqueuedAlertView[];
  /** Messages the run created; they are delivered after the response. */
  readonly messages: number;
}

export interface AlertsPort {
  /** Awaitable: the ledger answers at once on SQLite, later on PostgreSQL. */
  list(query: {
    readonly status?: AlertStatusName;
    /** Only alerts about this certificate (lowercase hex). */
    readonly serial?: string;
    readonly limit?: number;
    readonly cursor?: string;
  }): Awaitable<{
    readonly items: readonly AlertView[];
    readonly nextCursor: string | null;
  }>;
  /** Detection now; DomainError('conflict') while a run is in progress here or in another process. */
  runNow(): Promise<AlertRunResult>;
}
