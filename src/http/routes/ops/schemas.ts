/** Wire schemas of the certificate inventory routes (snake_case JSON, ISO 8601 times). */
import { z } from 'zod';
import { PageCursorSchema, PageLimitSchema, pageSchema, TimestampSchema } from '../page.js';
import {
  EXPIRY_SCOPES,
  LISTED_STATUSES,
  listedStatus,
  PROFILE_NAMES,
  REVOCABLE_REASONS,
  type CertificateRecord,
  type RevocationReason,
} from '../../../domain/certificates.js';
import { DURATION_PATTERN, parseDuration } from '../../duration.js';
import { isoTime, isoTimeOrNull } from '../../../shared/iso-time.js';

/** A serial as operators copy it: hex, any case, optionally colon-separated octets (openssl x509 -text). */
const SERIAL_TEXT = /^(?:[0-9a-fA-F]{1,42}|(?:[0-9a-fA-F]{2}:){1,20}[0-9a-fA-F]{2})$/;

/** The ledger's form: lowercase hex without separators or leading zero octets. */
export function normalizeSerial(text: string): string {
  let hex = text.replaceAll(':', '').toLowerCase();
  while (hex.length > 2 && hex.startsWith('00')) hex = hex.slice(2);
  return hex;
}

export const SerialParamsSchema = z.object({
  serial: z
    .string()
    .regex(SERIAL_TEXT, 'must be a certificate serial number in hexadecimal (at most 20 octets)')
    .transform(normalizeSerial)
    .describe('Certificate serial number, hexadecimal'),
});

const DURATION_MESSAGE = 'must be a duration such as 30s, 15m, 12h or 7d, at most 3650d';

/** An RFC 3339 date-time with an explicit offset, as ms since the epoch. */
const ExpiryBound = z.iso
  .datetime({ offset: true, error: 'must be an RFC 3339 date-time such as 2026-12-07T00:00:00.000Z' })
  .transform((text) => Date.parse(text))
  .optional();

export const ListQuerySchema = z.strictObject({
  expiring_within: z
    .string()
    // abort: one clause per mistake, not a second one from the range check below.
    .regex(DURATION_PATTERN, { error: DURATION_MESSAGE, abort: true })
    .refine((text) => parseDuration(text) !== undefined, DURATION_MESSAGE)
    .transform((text) => parseDuration(text) ?? 0)
    .optional()
    .describe('Only valid certificates whose notAfter falls within this duration from now, e.g. 7d'),
  include: z
    .enum(EXPIRY_SCOPES, { error: `must be one of ${EXPIRY_SCOPES.join(', ')}` })
    .optional()
    .describe(
      'With expiring_within: attention (the default) lists what needs a person, i.e. every profile but svid, plus SVIDs whose ' +
        'SPIFFE ID stopped renewing (the newest certificate of that SPIFFE ID, past half its lifetime); all lists every valid certificate',
    ),
  status: z
    .enum(LISTED_STATUSES, { error: `must be one of ${LISTED_STATUSES.join(', ')}` })
    .optional()
    .describe('valid: not revoked and not past notAfter; expired: not revoked, past notAfter; revoked'),
  profile: z.enum(PROFILE_NAMES, { error: `must be one of ${PROFILE_NAMES.join(', ')}` }).optional(),
  spiffe_id: z.string().min(1).max(2048).optional().describe('Exact SPIFFE ID'),
  dns_name: z.string().min(1).max(253).optional().describe('A DNS name among the SANs'),
  expires_after: ExpiryBound.describe(
    'RFC 3339 date-time: only certificates whose notAfter is at or after it. With either bound the listing is in notAfter order',
  ),
  expires_before: ExpiryBound.describe('RFC 3339 date-time: only certificates whose notAfter is before it'),
  cursor: PageCursorSchema,
  limit: PageLimitSchema,
});

export { REVOCABLE_REASONS };

export const RevokeBodySchema = z.strictObject({
  reason: z.enum(REVOCABLE_REASONS, { error: `must be one of ${REVOCABLE_REASONS.join(', ')}` }),
});

const REASON_NAMES = [...REVOCABLE_REASONS, 'removeFromCRL'] as const satisfies readonly RevocationReason[];

export const CertificateSchema = z
  .object({
    serial: z.string().describe('Lowercase hex'),
    subject: z.string(),
    issuer: z.string(),
    spiffe_id: z.string().nullable(),
    dns_names: z.array(z.string()),
    profile: z.enum(PROFILE_NAMES),
    requester: z.string().describe("Who asked: a SPIFFE ID, 'cli:<user>', 'acme:<account>' or 'system'"),
    not_before: TimestampSchema,
    not_after: TimestampSchema,
    status: z.enum(LISTED_STATUSES).describe('expired: not revoked, and notAfter has passed'),
    revoked_at: TimestampSchema.nullable(),
    revocation_reason: z.enum(REASON_NAMES).nullable(),
    fingerprint: z.string().describe('SHA-256 of the DER, lowercase hex'),
  })
  .meta({ id: 'Certificate', description: 'A certificate in the ledger' });
export type CertificateView = z.infer<typeof CertificateSchema>;

export const CertificatePageSchema = pageSchema(CertificateSchema, 'CertificatePage');

/** The wire form; `now` decides whether a valid certificate shows as expired. */
export function certificateView(record: CertificateRecord, now: number): CertificateView {
  return {
    serial: record.serial,
    subject: record.subject,
    issuer: record.issuer,
    spiffe_id: record.spiffeId,
    dns_names: record.sans.filter((san) => san.type === 'dns').map((san) => san.value),
    profile: record.profile,
    requester: record.requester,
    not_before: isoTime(record.notBefore),
    not_after: isoTime(record.notAfter),
    status: listedStatus(record, now),
    revoked_at: isoTimeOrNull(record.revokedAt),
    revocation_reason: record.revocationReason,
    fingerprint: record.fingerprint,
  };
}
