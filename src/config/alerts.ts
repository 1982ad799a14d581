/**
 * The expiry-alert section of the configuration (src/alerts): thresholds as
 * operators write them, the fields, and the checks across them.
 */
import { z } from 'zod';
import { CapSchema, DurationSchema, ListSchema, parseDuration } from './values.js';
import { PROFILE_NAMES, type ProfileName } from '../domain/certificates.js';

/** An expiry-alert threshold: alert when notAfter is this close; `profiles` null means every profile. */
export interface AlertThreshold {
  readonly withinMs: number;
  readonly profiles: readonly ProfileName[] | null;
}

const THRESHOLD_ENTRY = /^(\d+(?:s|m|h|d))(?::([a-z-]+(?:\+[a-z-]+)*))?$/;
const MAX_THRESHOLD_MS = 3650 * 86_400_000;

/** "7d", "30d,7d", or scoped to profiles: "7d,30d:root+intermediate"; tightest first. */
export function parseAlertThresholds(text: string): AlertThreshold[] {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => entry === '')) throw new RangeError('expected durations separated by commas, e.g. 30d,7d');
  const thresholds: AlertThreshold[] = [];
  for (const entry of entries) {
    const match = THRESHOLD_ENTRY.exec(entry);
    if (match === null || match[1] === undefined)
      throw new RangeError(`'${entry}' is not DURATION or DURATION:profile+profile, e.g. 30d:root+intermediate`);
    const withinMs = parseDuration(match[1]);
    if (withinMs <= 0 || withinMs > MAX_THRESHOLD_MS) throw new RangeError(`'${entry}': expected a duration from 1s to 3650d`);
    const names = match[2]?.split('+') ?? null;
    const unknown = names?.filter((name) => !PROFILE_NAMES.some((p) => p === name)) ?? [];
    if (unknown.length > 0)
      throw new RangeError(`'${entry}': unknown profile ${unknown.join(', ')} (expected ${PROFILE_NAMES.join(', ')})`);
    if (thresholds.some((t) => t.withinMs === withinMs)) throw new RangeError(`'${entry}': the duration ${match[1]} is given twice`);
    thresholds.push({ withinMs, profiles: names === null ? null : PROFILE_NAMES.filter((p) => names.includes(p)) });
  }
  return thresholds.sort((a, b) => a.withinMs - b.withinMs);
}

/** Expiry alert settings (src/alerts): schedule, what is expiring, where alerts go, how hard they push. */
export const ALERT_FIELDS = {
  /** Cron expression evaluated in UTC (5 fields, or 6 with seconds), or 'off' to run only on request. */
  alertsSchedule: z
    .string()
    .trim()
    .regex(/^(?:off|\S+(?:\s+\S+){4,5})$/, "expected a cron expression of 5 or 6 fields (UTC), e.g. '0 9 * * *', or 'off'")
    .default('0 9 * * *'),
  alertsThresholds: z
    .union([z.string(), z.array(z.string())])
    .transform((value, ctx) => {
      try {
        return parseAlertThresholds(Array.isArray(value) ? value.join(',') : value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    })
    .default([{ withinMs: 7 * 86_400_000, profiles: null }]),
  alertsMode: z.enum(['per-certificate', 'digest']).default('per-certificate'),
  alertsWebhookUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  /** HMAC-SHA256 key for the signature header; required with alertsWebhookUrl. */
  alertsWebhookSecret: z.string().min(16, 'expected at least 16 characters').optional(),
  /** Overall deadline of one webhook attempt (DNS, connect, request, the answer's head), not an idle timeout. */
  alertsWebhookTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(300_000, 'expected at most 5m')).default(
    10_000,
  ),
  alertsSmtpHost: z.string().min(1).optional(),
  alertsSmtpPort: z.number().int().min(1).max(65535).default(587),
  /** true: TLS from the first byte (port 465); false: STARTTLS when the server offers it. */
  alertsSmtpSecure: z.union([z.boolean(), z.stringbool()]).default(false),
  alertsSmtpUser: z.string().min(1).optional(),
  alertsSmtpPassword: z.string().min(1).optional(),
  /** Overall deadline of one SMTP exchange, from connect to QUIT (nodemailer's own timeouts are idle timeouts). */
  alertsSmtpTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(300_000, 'expected at most 5m')).default(30_000),
  /**
   * With alertsSmtpUser and not alertsSmtpSecure, STARTTLS is required before AUTH (nodemailer requireTLS):
   * credentials never cross in clear text. true sends them in clear text when the server offers no STARTTLS (logged at start).
   */
  alertsSmtpAllowPlaintextAuth: z.union([z.boolean(), z.stringbool()]).default(false),
  /** PEM file of the CA certificates that verify the SMTP server (default: Node's bundled roots); verification is always on. */
  alertsSmtpCaFile: z.string().min(1).optional(),
  alertsMailFrom: z.string().min(3).optional(),
  alertsMailTo: ListSchema.pipe(
    z.array(z.email('expected mail addresses separated by commas')).min(1, 'expected at least one address'),
  ).optional(),
  /** Messages one run may send in all, and to one recipient; the rest go out on the next run. */
  alertsMaxPerRun: CapSchema.default(100),
  alertsMaxPerRecipient: CapSchema.default(20),
  /** Attempts per message before it is marked failed. */
  alertsMaxAttempts: z.number().int().min(1, 'expected at least 1').max(50, 'expected at most 50').default(8),
  /** Overall deadline of one delivery pass (a run's sending, or a resend of what is due); what is left waits for the next pass. */
  alertsRunTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(3_600_000, 'expected at most 1h')).default(
    300_000,
  ),
};

export function checkAlertSettings(
  config: {
    alertsWebhookUrl?: string | undefined;
    alertsWebhookSecret?: string | undefined;
    alertsWebhookTimeout: number;
    alertsSmtpHost?: string | undefined;
    alertsSmtpTimeout: number;
    alertsMailFrom?: string | undefined;
    alertsMailTo?: string[] | undefined;
    alertsRunTimeout: number;
  },
  ctx: z.RefinementCtx,
): void {
  if (config.alertsRunTimeout < Math.max(config.alertsWebhookTimeout, config.alertsSmtpTimeout)) {
    ctx.addIssue({
      code: 'custom',
      path: ['alertsRunTimeout'],
      message: 'expected at least alertsWebhookTimeout and alertsSmtpTimeout: a pass must have time for one attempt',
    });
  }
  if (config.alertsWebhookUrl !== undefined && config.alertsWebhookSecret === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['alertsWebhookSecret'],
      message: 'expected with alertsWebhookUrl: webhook bodies are signed with it',
    });
  }
  const mail = { alertsSmtpHost: config.alertsSmtpHost, alertsMailFrom: config.alertsMailFrom, alertsMailTo: config.alertsMailTo };
  if (Object.values(mail).some((v) => v !== undefined)) {
    for (const [field, value] of Object.entries(mail)) {
      if (value === undefined)
        ctx.addIssue({
          code: 'custom',
          path: [field],
          message: 'expected: mail alerts need alertsSmtpHost, alertsMailFrom and alertsMailTo',
        });
    }
  }
}
