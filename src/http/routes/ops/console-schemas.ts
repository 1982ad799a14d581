/** Wire schemas of the console's certificate reads: the expiry timeline and a serial's OCSP status (snake_case, RFC 3339 UTC). */
import { z } from 'zod';
import { PROFILE_NAMES, REVOCABLE_REASONS, type RevocationReason } from '../../../domain/certificates.js';
import { TimestampSchema } from '../page.js';

export const MAX_TIMELINE_DAYS = 366;
export const DEFAULT_TIMELINE_DAYS = 90;

export const TimelineQuerySchema = z.strictObject({
  days: z.coerce
    .number({ error: `must be a whole number of days from 1 to ${MAX_TIMELINE_DAYS}` })
    .int(`must be a whole number of days from 1 to ${MAX_TIMELINE_DAYS}`)
    .min(1, `must be a whole number of days from 1 to ${MAX_TIMELINE_DAYS}`)
    .max(MAX_TIMELINE_DAYS, `must be a whole number of days from 1 to ${MAX_TIMELINE_DAYS}`)
    .default(DEFAULT_TIMELINE_DAYS)
    .describe('How many UTC days, starting with today'),
});

const ProfileCounts = z.partialRecord(z.enum(PROFILE_NAMES), z.number().int());

export const TimelineSchema = z
  .object({
    from: TimestampSchema.describe('The start of today, UTC: the first bucket begins here'),
    now: TimestampSchema.describe('Certificates are counted from this instant (already expired ones are not)'),
    days: z.number().int(),
    profiles: z.array(z.enum(PROFILE_NAMES)).describe('Every profile, in a fixed order'),
    total: z.number().int().describe('Certificates not revoked whose notAfter is in [now, from + days)'),
    buckets: z
      .array(
        z.object({
          date: z.string().describe('YYYY-MM-DD (UTC)'),
          total: z.number().int(),
          counts: ProfileCounts.describe('Per profile; profiles with none are left out'),
        }),
      )
      .describe('Exactly `days` buckets, one per UTC day, zeros included'),
    thresholds: z
      .array(
        z.object({
          within_days: z.number().describe('May be fractional (a threshold of 36h is 1.5)'),
          profiles: z.array(z.enum(PROFILE_NAMES)).nullable().describe('null: every profile'),
        }),
      )
      .describe('The configured expiry-alert thresholds'),
    authorities: z
      .array(
        z.object({
          kind: z.enum(['root', 'intermediate']),
          subject: z.string(),
          serial: z.string().describe('Lowercase hex'),
          not_after: TimestampSchema,
        }),
      )
      .describe('Every CA certificate of the trust bundle and the issuing chain, inside the window or not'),
  })
  .meta({ id: 'ExpiryTimeline', description: 'Certificates expiring per UTC day and profile, counted by the database' });
export type TimelineWire = z.infer<typeof TimelineSchema>;

const REASON_NAMES = [...REVOCABLE_REASONS, 'removeFromCRL'] as const satisfies readonly RevocationReason[];

export const OcspStatusSchema = z
  .object({
    serial: z.string().describe('Lowercase hex'),
    cert_status: z.enum(['good', 'revoked', 'unknown']),
    revoked_at: TimestampSchema.nullable(),
    revocation_reason: z.enum(REASON_NAMES).nullable(),
    produced_at: TimestampSchema,
    this_update: TimestampSchema,
    next_update: TimestampSchema.nullable(),
    responder: z.string().describe('Subject of the certificate that signed the response'),
  })
  .meta({ id: 'OcspStatus', description: 'What the OCSP responder answers for a certificate right now, decoded from a signed response' });
export type OcspStatusWire = z.infer<typeof OcspStatusSchema>;
