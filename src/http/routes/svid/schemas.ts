/**
 * Wire schemas of the SVID, attestation and registration-entry routes
 * (/work/briefs/wire-svid.md): snake_case JSON, ISO 8601 UTC times, TTLs in
 * whole seconds. Domain values (ms, camelCase) are converted here and only here.
 */
import { z } from 'zod';
import type { EntryPage, RegistrationEntry } from '../../../domain/entries.js';
import type { BatchResult, JwtSvid, X509Svid } from '../../../svid/index.js';
import { PageLimitSchema, pageSchema, TimestampSchema } from '../page.js';
import { PROBLEM_TYPES, problemOf, ProblemSchema, type ProblemDocument, type ProblemKind } from '../../problem.js';
import { isoTime, isoTimeOrNull } from '../../../shared/iso-time.js';

/** The SVID profile's ceiling (24 h); the service applies the configured maximum below it. */
export const MAX_TTL_SECONDS = 86_400;
export const MAX_BATCH = 100;
export const MAX_AUDIENCES = 16;
/** A PEM of the largest CSR parseCsr accepts (16 KiB DER) is about 22 KB. */
const MAX_CSR_CHARS = 32_768;

const SpiffeIdText = z
  .string({ error: 'must be a SPIFFE ID such as spiffe://example.org/service' })
  .min(1, 'must be a SPIFFE ID such as spiffe://example.org/service')
  .max(2048, 'must be at most 2048 characters (SPIFFE-ID §2.3)');

const CsrText = z
  .string({ error: 'must be a PKCS#10 CSR as PEM or base64 DER' })
  .min(1, 'must be a PKCS#10 CSR as PEM or base64 DER')
  .max(MAX_CSR_CHARS, `must be at most ${MAX_CSR_CHARS} characters`)
  .describe('PKCS#10 certificate signing request: PEM, or base64 / base64url DER. Only its key is used');

function ttlSeconds(what: string) {
  const message = `must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS} (24 h)`;
  return z.number({ error: message }).int(message).min(1, message).max(MAX_TTL_SECONDS, message).describe(`${what} in seconds`);
}

/** ISO 8601 with a zone (Z or an offset), to ms since the epoch. */
const ExpiresAtText = z.iso
  .datetime({ offset: true, error: 'must be an ISO 8601 date-time with a zone, e.g. 2030-01-01T00:00:00Z' })
  .transform((text) => Date.parse(text));

const DNS_NAMES_MESSAGE = 'must be at most 100 DNS names of at most 253 characters';
const DnsNames = z
  .array(z.string({ error: 'must be a DNS name' }).min(1, 'must not be empty').max(253, DNS_NAMES_MESSAGE), {
    error: 'must be an array of DNS names',
  })
  .max(100, DNS_NAMES_MESSAGE)
  .describe('DNS names added as SANs after the SPIFFE ID');

// ---------------------------------------------------------------- entries

export const EntryIdParamsSchema = z.object({
  id: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an entry id (letters, digits, "-" and "_", at most 64)')
    .describe('Registration entry id'),
});

export const EntryCreateBodySchema = z.strictObject({
  spiffe_id: SpiffeIdText.describe('The SPIFFE ID this entry grants (not under /node/)'),
  parent_id: SpiffeIdText.describe('The SPIFFE ID that may obtain SVIDs for it (a node, or another workload)'),
  x509_ttl: ttlSeconds('X.509-SVID lifetime (default 3600)').optional(),
  jwt_ttl: ttlSeconds('JWT-SVID lifetime (default 300)').optional(),
  dns_names: DnsNames.optional(),
  admin: z
    .boolean({ error: 'must be true or false' })
    .optional()
    .describe('Holders may call the admin routes; true exactly for IDs under /admin/'),
  expires_at: ExpiresAtText.nullable().optional().describe('After this instant the entry grants nothing; null or absent: never'),
});

export const EntryPatchBodySchema = z
  .strictObject({
    parent_id: SpiffeIdText.optional(),
    x509_ttl: ttlSeconds('X.509-SVID lifetime').optional(),
    jwt_ttl: ttlSeconds('JWT-SVID lifetime').optional(),
    dns_names: DnsNames.optional(),
    admin: z.boolean({ error: 'must be true or false' }).optional(),
    expires_at: ExpiresAtText.nullable().optional().describe('null clears the expiry'),
  })
  .refine(
    (patch) => Object.keys(patch).length > 0,
    'must change at least one of parent_id, x509_ttl, jwt_ttl, dns_names, admin, expires_at',
  );

export const EntryListQuerySchema = z.strictObject({
  spiffe_id: SpiffeIdText.optional().describe('Exact SPIFFE ID'),
  parent_id: SpiffeIdText.optional().describe('Exact parent SPIFFE ID'),
  cursor: z.string().min(1).max(512, 'must be the next_cursor of a previous page').optional().describe('next_cursor of the previous page'),
  limit: PageLimitSchema,
});

export const EntrySchema = z
  .object({
    id: z.string(),
    spiffe_id: z.string(),
    parent_id: z.string(),
    x509_ttl: z.number().int().describe('Seconds'),
    jwt_ttl: z.number().int().describe('Seconds'),
    dns_names: z.array(z.string()),
    admin: z.boolean(),
    expires_at: TimestampSchema.nullable(),
    created_at: TimestampSchema,
    updated_at: TimestampSchema,
    created_by: z.string().describe("'cli:<user>' or the admin's SPIFFE ID"),
  })
  .meta({ id: 'RegistrationEntry', description: 'Which parent may obtain which SPIFFE ID, with what lifetimes and DNS names' });
export type EntryWire = z.infer<typeof EntrySchema>;

export const EntryPageSchema = pageSchema(EntrySchema, 'RegistrationEntryPage');

// ---------------------------------------------------------------- SVIDs

export const X509SvidRequestSchema = z.strictObject({
  csr: CsrText,
  spiffe_id: SpiffeIdText.describe('The SPIFFE ID asked for'),
  ttl: ttlSeconds('Requested lifetime, at most the entry’s x509_ttl').optional(),
});

export const X509BatchBodySchema = z.strictObject({
  requests: z
    .array(X509SvidRequestSchema, { error: `must be an array of 1 to ${MAX_BATCH} requests` })
    .min(1, `must hold 1 to ${MAX_BATCH} requests`)
    .max(MAX_BATCH, `must hold 1 to ${MAX_BATCH} requests`),
});

export const JoinTokenBodySchema = z.strictObject({
  token: z.string({ error: 'must be the join token' }).min(1, 'must be the join token').max(256, 'must be at most 256 characters'),
  csr: CsrText,
});

export const JwtSvidBodySchema = z.strictObject({
  audience: z
    .array(z.string({ error: 'must be a string' }).min(1, 'must not be empty').max(256, 'must be at most 256 characters'), {
      error: `must be an array of 1 to ${MAX_AUDIENCES} audiences`,
    })
    .min(1, `must hold 1 to ${MAX_AUDIENCES} audiences`)
    .max(MAX_AUDIENCES, `must hold 1 to ${MAX_AUDIENCES} audiences`)
    .describe('The aud claim'),
  spiffe_id: SpiffeIdText.optional().describe('Default: the caller’s own SPIFFE ID'),
});

export const X509SvidSchema = z
  .object({
    spiffe_id: z.string(),
    serial: z.string().describe('Lowercase hex'),
    entry_id: z.string().nullable().describe('The entry that granted it; null for join-token attestation'),
    cert_chain: z.string().describe('PEM: the leaf, then the intermediate'),
    bundle: z.string().describe('PEM: the trust bundle (root certificates)'),
    expires_at: TimestampSchema,
    renew_after: TimestampSchema.describe('Half the lifetime, with ±10% jitter'),
  })
  .meta({ id: 'X509Svid', description: 'An X.509-SVID with its chain and the trust bundle' });
export type X509SvidWire = z.infer<typeof X509SvidSchema>;

export const X509BatchResultSchema = z
  .object({
    results: z.array(z.union([z.object({ svid: X509SvidSchema }), z.object({ error: ProblemSchema })])).describe('In request order'),
  })
  .meta({ id: 'X509SvidBatch', description: 'One result per request: an SVID or a problem document' });
export type X509BatchResultWire = z.infer<typeof X509BatchResultSchema>;

export const JwtSvidSchema = z
  .object({
    token: z.string().describe('Compact JWS, ES256, kid of a JWT authority in the SPIFFE bundle'),
    spiffe_id: z.string(),
    issued_at: TimestampSchema,
    expires_at: TimestampSchema,
  })
  .meta({ id: 'JwtSvid', description: 'A JWT-SVID' });
export type JwtSvidWire = z.infer<typeof JwtSvidSchema>;

// ---------------------------------------------------------------- conversions

/** Whole seconds; entries made through this API hold whole seconds already. */
function seconds(ms: number): number {
  return Math.floor(ms / 1000);
}

export function entryWire(entry: RegistrationEntry): EntryWire {
  return {
    id: entry.id,
    spiffe_id: entry.spiffeId,
    parent_id: entry.parentId,
    x509_ttl: seconds(entry.x509TtlMs),
    jwt_ttl: seconds(entry.jwtTtlMs),
    dns_names: [...entry.dnsNames],
    admin: entry.admin,
    expires_at: isoTimeOrNull(entry.expiresAt),
    created_at: isoTime(entry.createdAt),
    updated_at: isoTime(entry.updatedAt),
    created_by: entry.createdBy,
  };
}

export function entryPageWire(page: EntryPage): { items: EntryWire[]; next_cursor: string | null } {
  return { items: page.items.map(entryWire), next_cursor: page.nextCursor };
}

export function x509SvidWire(svid: X509Svid): X509SvidWire {
  return {
    spiffe_id: svid.spiffeId,
    serial: svid.serial,
    entry_id: svid.entryId,
    cert_chain: svid.certChainPem,
    bundle: svid.bundlePem,
    expires_at: isoTime(svid.expiresAt),
    renew_after: isoTime(svid.renewAfter),
  };
}

function isProblemKind(kind: string): kind is ProblemKind {
  return Object.hasOwn(PROBLEM_TYPES, kind);
}

/** A failed batch item as the problem document a single request would have got (an unknown kind is internal). */
export function batchProblem(error: { readonly kind: string; readonly detail: string }, instance: string): ProblemDocument {
  // Internal detail never leaves the process (STYLE §4), whatever the service put in it.
  if (!isProblemKind(error.kind) || error.kind === 'internal') return problemOf('internal', 'An internal error occurred.', instance);
  return problemOf(error.kind, error.detail, instance);
}

export function batchWire(results: readonly BatchResult[], instance: string): X509BatchResultWire {
  return {
    results: results.map((result) => (result.ok ? { svid: x509SvidWire(result.svid) } : { error: batchProblem(result.error, instance) })),
  };
}

export function jwtSvidWire(svid: JwtSvid): JwtSvidWire {
  return { token: svid.token, spiffe_id: svid.spiffeId, issued_at: isoTime(svid.issuedAt), expires_at: isoTime(svid.expiresAt) };
}
