/**
 * What receivers get: the webhook's JSON body (snake_case, ISO 8601 times)
 * and the plain-text mail. One shape for both modes: `certificates` holds
 * one entry per certificate, or many in a digest.
 */
import type { MessageItem, PendingMessage } from '../domain/alerts.js';
import type { MailMessage } from './ports.js';
import { daysLeft, formatThreshold } from './select-expiring.js';
import { isoTime } from '../shared/iso-time.js';

export const WEBHOOK_EVENT_TYPE = 'keysmith.certificates.expiring';

export interface WebhookCertificate {
  readonly serial: string;
  readonly subject: string;
  readonly spiffe_id: string | null;
  readonly dns_names: readonly string[];
  readonly ip_addresses: readonly string[];
  readonly not_after: string;
  readonly days_left: number;
  readonly profile: string;
  readonly requester: string;
  /** The threshold that fired, e.g. "7d". */
  readonly threshold: string;
  /** This certificate's alert key; in a digest it lets a receiver drop entries it already has. */
  readonly idempotency_key: string;
}

export interface WebhookPayload {
  readonly type: typeof WEBHOOK_EVENT_TYPE;
  readonly kind: 'single' | 'digest';
  /** Same on every resend of this message (also sent as the Idempotency-Key header). */
  readonly idempotency_key: string;
  readonly sent_at: string;
  readonly certificates: readonly WebhookCertificate[];
}

export function webhookCertificate(item: MessageItem, now: number): WebhookCertificate {
  return {
    serial: item.serial,
    subject: item.subject,
    spiffe_id: item.spiffeId,
    dns_names: item.dnsNames,
    ip_addresses: item.ipAddresses,
    not_after: isoTime(item.notAfter),
    days_left: daysLeft(item.notAfter, now),
    profile: item.profile,
    requester: item.requester,
    threshold: formatThreshold(item.thresholdMs),
    idempotency_key: item.idempotencyKey,
  };
}

export function webhookPayload(message: PendingMessage, items: readonly MessageItem[], now: number): WebhookPayload {
  return {
    type: WEBHOOK_EVENT_TYPE,
    kind: message.kind,
    idempotency_key: message.idempotencyKey,
    sent_at: isoTime(now),
    certificates: items.map((item) => webhookCertificate(item, now)),
  };
}

/** How an operator recognises the certificate: SPIFFE ID, else its names, else its subject. */
export function identityLabel(item: {
  readonly spiffeId: string | null;
  readonly dnsNames: readonly string[];
  readonly ipAddresses: readonly string[];
  readonly subject: string;
}): string {
  if (item.spiffeId !== null) return item.spiffeId;
  const names = [...item.dnsNames, ...item.ipAddresses];
  return names.length > 0 ? names.join(', ') : item.subject;
}

function describeDays(days: number): string {
  if (days < 0) return 'has expired';
  if (days === 0) return 'expires within a day';
  return `expires in ${days} day${days === 1 ? '' : 's'}`;
}

function itemLines(item: MessageItem, now: number): string[] {
  return [
    `${identityLabel(item)} ${describeDays(daysLeft(item.notAfter, now))}`,
    `  serial:    ${item.serial}`,
    `  subject:   ${item.subject}`,
    ...(item.spiffeId === null ? [] : [`  SPIFFE ID: ${item.spiffeId}`]),
    ...(item.dnsNames.length === 0 ? [] : [`  DNS names: ${item.dnsNames.join(', ')}`]),
    ...(item.ipAddresses.length === 0 ? [] : [`  IPs:       ${item.ipAddresses.join(', ')}`]),
    `  not after: ${isoTime(item.notAfter)}`,
    `  profile:   ${item.profile}`,
    `  requester: ${item.requester}`,
    `  threshold: ${formatThreshold(item.thresholdMs)}`,
  ];
}

/** Message-ID domain part; the local part is the idempotency key, so duplicates share a Message-ID. */
const MESSAGE_ID_DOMAIN = 'alerts.keysmith';

export function mailMessage(message: PendingMessage, items: readonly MessageItem[], now: number, from: string): MailMessage {
  const first = items[0];
  const subject =
    message.kind === 'single' && first !== undefined
      ? `[keysmith] certificate ${identityLabel(first)} ${describeDays(daysLeft(first.notAfter, now))}`
      : `[keysmith] ${items.length} certificate${items.length === 1 ? '' : 's'} expiring soon`;
  const text = [
    message.kind === 'single'
      ? 'A certificate issued by keysmith is about to expire and has not been renewed:'
      : `${items.length} certificates issued by keysmith are about to expire and have not been renewed:`,
    '',
    ...items.flatMap((item) => [...itemLines(item, now), '']),
    'Renew them, or revoke them if they are no longer needed.',
    '',
  ].join('\n');
  return {
    from,
    to: message.recipient,
    subject,
    text,
    messageId: `<${message.idempotencyKey}@${MESSAGE_ID_DOMAIN}>`,
    headers: { 'X-Keysmith-Idempotency-Key': message.idempotencyKey },
  };
}
