/**
 * The certificate reads the operator console needs beyond the inventory:
 * the expiry timeline (aggregated by the ledger, never row by row here) and
 * what the OCSP responder answers for a serial right now. Admin only.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { PROFILE_NAMES, type ExpiryTimelineCount } from '../../../domain/certificates.js';
import { DomainError } from '../../../shared/errors.js';
import { reportOcspStatus, type OcspStatusReport } from '../../../ocsp/index.js';
import type { AuthorityView, CertificateReader, ExpiryThresholdView, OcspPort, TrustBundleSource } from '../../ports.js';
import type { Clock } from '../../../shared/clock.js';
import { problemResponses } from '../../problem.js';
import { SerialParamsSchema } from './schemas.js';
import { OcspStatusSchema, TimelineQuerySchema, TimelineSchema, type OcspStatusWire, type TimelineWire } from './console-schemas.js';
import { isoTime, isoTimeOrNull } from '../../../shared/iso-time.js';

const DAY_MS = 86_400_000;

export interface ConsoleRouteDeps {
  readonly certificates: CertificateReader;
  readonly bundle: TrustBundleSource;
  readonly clock: Clock;
  readonly ocsp?: OcspPort;
  readonly expiryThresholds?: readonly ExpiryThresholdView[];
  readonly authorities?: () => readonly AuthorityView[];
}

export function registerConsoleRoutes(app: FastifyInstance, deps: ConsoleRouteDeps): void {
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.get('/v1/certificates/timeline', TIMELINE_ROUTE, async (request) => {
    const { days } = request.query;
    const now = deps.clock.now();
    const from = now - (now % DAY_MS);
    const counts = await deps.certificates.expiryTimeline({ from, now, to: from + days * DAY_MS });
    return timelineWire(counts, { from, now, days }, deps.expiryThresholds ?? [], deps.authorities?.() ?? []);
  });

  const ocsp = deps.ocsp;
  if (ocsp === undefined) return;
  routes.get('/v1/certificates/:serial/ocsp', OCSP_STATUS_ROUTE, async (request) => {
    const { serial } = request.params;
    const record = await deps.certificates.findBySerial(serial);
    if (record === undefined) throw new DomainError('notFound', `No certificate with serial ${serial}.`);
    // The current issuer first, then the bundle's issuers (an older intermediate after a rotation).
    const issuers = [ocsp.issuerCertificate(), ...deps.bundle.issuers()];
    return ocspStatusWire(serial, await reportOcspStatus(ocsp.responder, record.der, issuers));
  });
}

/** Every day of the window, zeros included; the ledger's rows only fill in the days that have certificates. */
export function timelineWire(
  counts: readonly ExpiryTimelineCount[],
  window: { readonly from: number; readonly now: number; readonly days: number },
  thresholds: readonly ExpiryThresholdView[],
  authorities: readonly AuthorityView[],
): TimelineWire {
  const buckets: TimelineWire['buckets'] = [];
  for (let day = 0; day < window.days; day++) {
    buckets.push({ date: isoTime(window.from + day * DAY_MS).slice(0, 10), total: 0, counts: {} });
  }
  let total = 0;
  for (const { day, profile, count } of counts) {
    const bucket = buckets[day];
    if (bucket === undefined) throw new Error(`the timeline query returned day ${day} outside its ${window.days}-day window`);
    bucket.counts[profile] = count;
    bucket.total += count;
    total += count;
  }
  return {
    from: isoTime(window.from),
    now: isoTime(window.now),
    days: window.days,
    profiles: [...PROFILE_NAMES],
    total,
    buckets,
    thresholds: thresholds.map((t) => ({ within_days: t.withinMs / DAY_MS, profiles: t.profiles === null ? null : [...t.profiles] })),
    authorities: authorities.map((a) => ({ kind: a.kind, subject: a.subject, serial: a.serial, not_after: isoTime(a.notAfter) })),
  };
}

function ocspStatusWire(serial: string, report: OcspStatusReport): OcspStatusWire {
  return {
    serial,
    cert_status: report.certStatus,
    revoked_at: isoTimeOrNull(report.revokedAt),
    revocation_reason: report.reason,
    produced_at: isoTime(report.producedAt),
    this_update: isoTime(report.thisUpdate),
    next_update: isoTimeOrNull(report.nextUpdate),
    responder: report.responder,
  };
}

const TIMELINE_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['ops'],
    summary: 'Expiry timeline',
    description:
      'Certificates not revoked whose notAfter is in [now, start of today UTC + days), counted per UTC day and profile by the ' +
      'database; with the configured alert thresholds and the CA certificates’ notAfter.',
    operationId: 'getExpiryTimeline',
    querystring: TimelineQuerySchema,
    response: { 200: TimelineSchema.describe('The timeline'), ...problemResponses(400, 401, 403) },
  },
};

const OCSP_STATUS_ROUTE = {
  config: { access: 'admin' as const },
  schema: {
    tags: ['ops'],
    summary: 'OCSP status of a certificate',
    description:
      'The responder signs a real response for the serial through the same path as /ocsp (its cache included: a revocation ' +
      'drops it at once), and this route decodes it.',
    operationId: 'getCertificateOcspStatus',
    params: SerialParamsSchema,
    response: { 200: OcspStatusSchema.describe('The decoded OCSP answer'), ...problemResponses(400, 401, 403, 404, 503) },
  },
};
