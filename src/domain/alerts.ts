/**
 * The expiry-alert vocabulary shared by the modules that read or write the
 * alert outbox (alerts, ledger), as certificates.ts is for certificates.
 */
import type { ProfileName } from './certificates.js';

export type AlertStatus = 'pending' | 'sent' | 'failed';
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
