/** Wire schemas of the alert routes (snake_case JSON, ISO 8601 times, thresholds as durations). */
import { z } from 'zod';
import { PageLimitSchema, pageSchema, TimestampSchema } from '../page.js';
import { PROFILE_NAMES } from '../../../domain/certificates.js';
import { SerialParamsSchema } from '../ops/schemas.js';
import type { AlertCertificateView, AlertRunResult, AlertView } from './port.js';
import { durationText } from '../../../shared/duration.js';
import { isoTime, isoTimeOrNull } from '../../../shared/iso-time.js';

const DAY_MS = 86_400_000;
const STATUSES = ['pending', 'sent', 'failed'] as const;

export const AlertListQuerySchema = z.strictObject({
  status: z.enum(STATUSES, { error: 'must be pending, sent or failed' }).optional().describe("The alert's overall status"),
  serial: SerialParamsSchema.shape.serial.optional().describe('Only alerts about this certificate (hexadecimal serial)'),
  cursor: z
    .string()
    .regex(/^[1-9][0-9]{0,15}$/, 'must be the next_cursor of a previous page')
    .optional()
    .describe('next_cursor of the previous page'),
  limit: PageLimitSchema,
});

const CertificateFields = {
  serial: z.string().describe('Lowercase hex'),
  subject: z.string(),
  spiffe_id: z.string().nullable(),
  dns_names: z.array(z.string()),
  ip_addresses: z.array(z.string()),
  not_after: TimestampSchema,
  days_left: z.number().int().describe('Whole days from now to notAfter, rounded down'),
  profile: z.enum(PROFILE_NAMES),
  requester: z.string(),
};

const DeliverySchema = z.object({
  channel: z.enum(['webhook', 'mail']),
  recipient: z.string().describe('The webhook URL without credentials or query, or a mail address'),
  status: z.enum(STATUSES).describe('pending also while held back by a per-run cap'),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  next_attempt_at: TimestampSchema.nullable(),
  sent_at: TimestampSchema.nullable(),
  idempotency_key: z.string().nullable().describe("The message's key (the alert's own, or a digest's); null while held back"),
});

export const AlertSchema = z
  .object({
    id: z.number().int(),
    threshold: z.string().describe('The threshold that fired, e.g. 7d'),
    idempotency_key: z.string().describe('Carried by every delivery of this alert (Idempotency-Key header, mail Message-ID)'),
    enqueued_at: TimestampSchema,
    status: z.enum(STATUSES).describe('failed if a delivery failed, pending if one is still to go, else sent'),
    attempts: z.number().int().describe('Most attempts of any delivery'),
    last_error: z.string().nullable(),
    certificate: z.object(CertificateFields),
    deliveries: z.array(DeliverySchema),
  })
  .meta({ id: 'ExpiryAlert', description: 'One alert: a certificate that crossed a threshold, and where the alert went' });
export type AlertWire = z.infer<typeof AlertSchema>;

export const AlertPageSchema = pageSchema(AlertSchema, 'ExpiryAlertPage');

export const AlertRunSchema = z
  .object({
    run_id: z.number().int(),
    enqueued: z.array(z.object({ id: z.number().int(), threshold: z.string(), idempotency_key: z.string(), ...CertificateFields })),
    messages_queued: z.number().int().describe('Messages created by this run; they are delivered after this response'),
  })
  .meta({ id: 'ExpiryAlertRun', description: 'What a run enqueued' });
export type AlertRunWire = z.infer<typeof AlertRunSchema>;

function certificateWire(c: AlertCertificateView, now: number) {
  return {
    serial: c.serial,
    subject: c.subject,
    spiffe_id: c.spiffeId,
    dns_names: [...c.dnsNames],
    ip_addresses: [...c.ipAddresses],
    not_after: isoTime(c.notAfter),
    days_left: Math.floor((c.notAfter - now) / DAY_MS),
    profile: c.profile,
    requester: c.requester,
  };
}

export function alertWire(alert: AlertView, now: number): AlertWire {
  return {
    id: alert.id,
    threshold: durationText(alert.thresholdMs),
    idempotency_key: alert.idempotencyKey,
    enqueued_at: isoTime(alert.enqueuedAt),
    status: alert.status,
    attempts: alert.attempts,
    last_error: alert.lastError,
    certificate: certificateWire(alert.certificate, now),
    deliveries: alert.deliveries.map((d) => ({
      channel: d.channel,
      recipient: d.recipient,
      status: d.status,
      attempts: d.attempts,
      last_error: d.lastError,
      next_attempt_at: isoTimeOrNull(d.nextAttemptAt),
      sent_at: isoTimeOrNull(d.sentAt),
      idempotency_key: d.messageKey,
    })),
  };
}

export function runWire(result: AlertRunResult, now: number): AlertRunWire {
  return {
    run_id: result.runId,
    enqueued: result.enqueued.map((a) => ({
      id: a.id,
      threshold: durationText(a.thresholdMs),
      idempotency_key: a.idempotencyKey,
      ...certificateWire(a, now),
    })),
    messages_queued: result.messages,
  };
}
