/** Wire form of join tokens, shared by the HTTP routes and `keysmith tokens --json` (snake_case, RFC 3339 UTC times). */
import { z } from 'zod';
import { JOIN_TOKEN_STATUSES, joinTokenStatus, type JoinTokenSummary } from '../../../domain/entries.js';
import { DURATION_PATTERN, parseDuration } from '../../duration.js';
import { PageCursorSchema, PageLimitSchema, pageSchema, TimestampSchema } from '../page.js';
import { isoTime, isoTimeOrNull } from '../../../shared/iso-time.js';

const MINUTE_MS = 60_000;
const MIN_TTL_MS = MINUTE_MS;
const MAX_TTL_MS = 7 * 24 * 60 * MINUTE_MS;
const TTL_MESSAGE = 'must be a duration from 1m to 7d, such as 10m, 12h or 7d';

export const JoinTokenSchema = z
  .object({
    id: z.string().describe("The token's public name ('jt-' and 18 hex digits); never the token"),
    spiffe_id: z.string().describe('The node identity the token attests'),
    status: z.enum(JOIN_TOKEN_STATUSES),
    created_at: TimestampSchema,
    created_by: z.string().describe('Who created it: an admin SPIFFE ID, or cli:<user>'),
    expires_at: TimestampSchema,
    used_at: TimestampSchema.nullable(),
    used_by_serial: z.string().nullable().describe('Serial of the node certificate issued for it'),
    revoked_at: TimestampSchema.nullable(),
  })
  .meta({ id: 'JoinToken', description: 'A one-time join token, without the token or its hash' });
export type TokenWire = z.infer<typeof JoinTokenSchema>;

export const CreatedJoinTokenSchema = JoinTokenSchema.extend({
  token: z.string().describe('The token itself: shown this once, only its hash is stored'),
}).meta({ id: 'CreatedJoinToken', description: 'A new join token, with the token shown this once' });

export const JoinTokenPageSchema = pageSchema(JoinTokenSchema, 'JoinTokenPage');

export const JoinTokenListQuerySchema = z.strictObject({
  status: z
    .enum(JOIN_TOKEN_STATUSES, { error: `must be one of ${JOIN_TOKEN_STATUSES.join(', ')}` })
    .optional()
    .describe('Where the token stands now'),
  spiffe_id: z.string().min(1).max(2048).optional().describe('Exact node SPIFFE ID'),
  cursor: PageCursorSchema,
  limit: PageLimitSchema,
});

export const JoinTokenCreateBodySchema = z.strictObject({
  spiffe_id: z
    .string({ error: 'must be a node SPIFFE ID such as spiffe://example.org/node/web-1' })
    .min(1, 'must be a node SPIFFE ID such as spiffe://example.org/node/web-1')
    .max(2048, 'must be at most 2048 characters (SPIFFE-ID §2.3)')
    .describe('spiffe://<trust domain>/node/<name>: the node identity the token attests'),
  ttl: z
    .string({ error: TTL_MESSAGE })
    .regex(DURATION_PATTERN, { error: TTL_MESSAGE, abort: true })
    .refine((text) => {
      const ms = parseDuration(text);
      return ms !== undefined && ms >= MIN_TTL_MS && ms <= MAX_TTL_MS;
    }, TTL_MESSAGE)
    .transform((text) => parseDuration(text) ?? 0)
    .optional()
    .describe('How long the token can be used, 1m to 7d (default 10m)'),
});

export const JoinTokenIdParamsSchema = z.object({
  id: z
    .string()
    .regex(/^jt-[0-9a-f]{18}$/, "must be a join token id: 'jt-' and 18 hex digits")
    .describe('The token id as listings show it'),
});

/** A token as the API and `keysmith tokens --json` show it; `now` decides expired. */
export function tokenWire(token: JoinTokenSummary, now: number): TokenWire {
  return {
    id: token.id,
    spiffe_id: token.spiffeId,
    status: joinTokenStatus(token, now),
    created_at: isoTime(token.createdAt),
    created_by: token.createdBy,
    expires_at: isoTime(token.expiresAt),
    used_at: isoTimeOrNull(token.usedAt),
    used_by_serial: token.usedBySerial,
    revoked_at: isoTimeOrNull(token.revokedAt),
  };
}
