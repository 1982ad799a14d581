/**
 * Expiry alerts in the composition root: settings from the configuration,
 * the adapters (ledger outbox and leases, nodemailer, pino, prom-client
 * counters), the runner and its node-cron schedule for `serve`, the port
 * the HTTP routes use, and the `keysmith alerts list|run` commands.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createTransport } from 'nodemailer';
import pino from 'pino';
import { Counter, type Registry } from 'prom-client';
import {
  AlertRunner,
  AlertSchedule,
  DEFAULT_RETRY,
  formatThreshold,
  identityLabel,
  isValidCronExpression,
  type AlertLogger,
  type AlertMetrics,
  type AlertOutbox,
  type AlertSettings,
  type DeliveryReport,
  type LeaseStore,
  type MailTransport,
  type SkipReason,
} from '../alerts/index.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { type AlertsPort, alertWire } from '../http/index.js';
import { openLedgerBackend, type AlertStatus, type AlertSummary, type LedgerBackend } from '../ledger/index.js';
import { type Clock, systemClock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import { printConfigWarning, stringOption, UsageError, type Command, type ParsedCommand } from './args.js';
import { ledgerLocation } from './compose.js';
import { formatTimeLeft, LISTING_OPTIONS, pagingOf, printListing, shortTime } from './listing.js';
import { ensurePrivateDir } from './files.js';

/** Names this process in lease and run rows: readable, and unique even for two processes with one PID namespace. */
export function alertHolder(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * nodemailer's idle timeouts, kept as a first line; the overall deadline per
 * send is ours (alertsSmtpTimeout, src/alerts/deadline.ts). socketCloseTimeout
 * 0: an aborted send destroys its socket at once instead of half-closing it
 * and waiting for a server that may never close its side.
 */
const MAIL_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000, socketCloseTimeout: 0 } as const;

/** True when credentials would go out over a connection that is not TLS from the first byte. */
function authNeedsStartTls(config: Config): boolean {
  return config.alertsSmtpUser !== undefined && !config.alertsSmtpSecure;
}

/**
 * STARTTLS is mandatory when credentials are set and the connection is not TLS
 * from the start (RFC 4954 §4: a client SHOULD NOT send a plaintext password
 * without a security layer; RFC 3207 §4: an active attacker can strip the
 * STARTTLS keyword, so "when offered" is not enough). nodemailer's requireTLS
 * sends STARTTLS whatever the EHLO says and fails before AUTH when it is refused.
 */
function mustRequireTls(config: Config): boolean {
  return authNeedsStartTls(config) && !config.alertsSmtpAllowPlaintextAuth;
}

function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'string' ? error.code : undefined;
}

/** nodemailer's STARTTLS refusal, said in the operator's terms. */
export class SmtpTlsRequiredError extends Error {
  constructor(host: string, cause: unknown) {
    super(
      `the SMTP server ${host} did not complete STARTTLS (${cause instanceof Error ? cause.message : String(cause)}); ` +
        'credentials are sent only over TLS, so nothing was sent (alertsSmtpSecure for TLS from the first byte, or alertsSmtpAllowPlaintextAuth to opt out)',
      { cause },
    );
    this.name = 'SmtpTlsRequiredError';
  }
}

/** A nodemailer SMTP transport when mail alerts are configured; certificate verification of the server is always on. */
export function createMailTransport(config: Config): MailTransport | undefined {
  const host = config.alertsSmtpHost;
  if (host === undefined) return undefined;
  const requireTLS = mustRequireTls(config);
  const transport = createTransport({
    host,
    port: config.alertsSmtpPort,
    secure: config.alertsSmtpSecure,
    requireTLS,
    ...(config.alertsSmtpUser === undefined ? {} : { auth: { user: config.alertsSmtpUser, pass: config.alertsSmtpPassword ?? '' } }),
    tls: {
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...(config.alertsSmtpCaFile === undefined ? {} : { ca: readSmtpCaFile(config.alertsSmtpCaFile) }),
    },
    ...MAIL_TIMEOUTS,
  });
  const mail: MailTransport = {
    sendMail: async (message) => {
      try {
        return await transport.sendMail(message);
      } catch (error) {
        throw requireTLS && errorCode(error) === 'ETLS' ? new SmtpTlsRequiredError(host, error) : error;
      }
    },
  };
  return mail;
}

function readSmtpCaFile(path: string): string {
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError([`alertsSmtpCaFile: cannot read ${path}: ${error instanceof Error ? error.message : String(error)}`]);
  }
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError([`alertsSmtpCaFile: ${path} holds no PEM certificate`]);
  return pem;
}

export function alertSettings(config: Config, mailTransport: MailTransport | undefined = createMailTransport(config)): AlertSettings {
  const { alertsWebhookUrl: url, alertsWebhookSecret: secret, alertsMailFrom: from, alertsMailTo: to } = config;
  return {
    thresholds: config.alertsThresholds,
    mode: config.alertsMode,
    caps: { perRun: config.alertsMaxPerRun, perRecipient: config.alertsMaxPerRecipient },
    retry: { ...DEFAULT_RETRY, maxAttempts: config.alertsMaxAttempts },
    runTimeoutMs: config.alertsRunTimeout,
    ...(url === undefined || secret === undefined ? {} : { webhook: { url, secret, timeoutMs: config.alertsWebhookTimeout } }),
    ...(mailTransport === undefined || from === undefined || to === undefined
      ? {}
      : { mail: { from, to, transport: mailTransport, timeoutMs: config.alertsSmtpTimeout } }),
  };
}

/** Counters on keysmith's registry: alerts enqueued, messages sent and failed, retried attempts. */
export function alertMetricsOn(registry: Registry): AlertMetrics {
  const registers = [registry];
  const enqueued = new Counter({
    name: 'keysmith_alerts_enqueued_total',
    help: 'Expiry alerts enqueued (one per certificate and threshold).',
    registers,
  });
  const sent = new Counter({
    name: 'keysmith_alert_messages_sent_total',
    help: 'Expiry alert messages delivered, by channel.',
    labelNames: ['channel'],
    registers,
  });
  const failed = new Counter({
    name: 'keysmith_alert_messages_failed_total',
    help: 'Expiry alert messages given up after their last attempt, by channel.',
    labelNames: ['channel'],
    registers,
  });
  const retried = new Counter({
    name: 'keysmith_alert_delivery_retries_total',
    help: 'Failed expiry alert delivery attempts that will be retried, by channel.',
    labelNames: ['channel'],
    registers,
  });
  return {
    enqueued: (count) => enqueued.inc(count),
    messageSent: (channel) => sent.inc({ channel }),
    messageFailed: (channel) => failed.inc({ channel }),
    attemptFailed: (channel) => retried.inc({ channel }),
  };
}

/** pino, like the service's request logs; `stderr` for commands whose stdout is a table. */
export function alertLogger(level: Config['logLevel'], destination: 'stdout' | 'stderr' = 'stdout'): AlertLogger {
  return pino({ level }, pino.destination(destination === 'stdout' ? 1 : 2)).child({ component: 'alerts' });
}

const SKIPPED: Readonly<Record<SkipReason, string>> = {
  busy: 'an alert run is already in progress in this process',
  'lease-held': 'another keysmith process is running alerts on this ledger right now',
  'already-ran': 'this run was already done',
  stopped: 'keysmith is shutting down',
};

export interface AlertComposition {
  readonly runner: AlertRunner;
  /** undefined when alertsSchedule is 'off'. */
  readonly schedule: AlertSchedule | undefined;
  readonly port: AlertsPort;
  /** Starts the schedule: resolves when its catch-up (or the pass over pending deliveries) is done. */
  start(): Promise<void>;
  /** Stops ticking; waits for an in-flight delivery at most `withinMs` (it is resent on the next start if cut off). */
  stop(withinMs?: number): Promise<void>;
}

/** What the alerts need of the ledger, on either backend: the outbox and the leases. */
export type AlertLedger = Pick<LedgerBackend, 'alerts' | 'leases'>;

export interface AlertCompositionOptions {
  readonly config: Config;
  readonly ledger: AlertLedger;
  readonly clock?: Clock;
  readonly logger: AlertLogger;
  readonly metrics?: AlertMetrics;
  readonly holder?: string;
  readonly random?: () => number;
  readonly mailTransport?: MailTransport;
  /** Schedule tuning for tests. */
  readonly schedule?: { readonly leasePatienceMs?: number; readonly leaseRetryMs?: number; readonly pollMs?: number };
}

/** The runner, schedule and HTTP port over one ledger; refuses a cron expression node-cron cannot read (ConfigError). */
export function composeAlerts(options: AlertCompositionOptions): AlertComposition {
  const { config, ledger, logger } = options;
  const clock = options.clock ?? systemClock;
  if (config.alertsSmtpHost !== undefined && authNeedsStartTls(config) && config.alertsSmtpAllowPlaintextAuth) {
    logger.warn(
      { smtpHost: config.alertsSmtpHost, smtpPort: config.alertsSmtpPort },
      'alertsSmtpAllowPlaintextAuth is set: SMTP credentials go out in clear text when the server offers no STARTTLS (or an attacker strips it)',
    );
  }
  const outbox = ledger.alerts satisfies AlertOutbox;
  const leases = ledger.leases satisfies LeaseStore;
  const runner = new AlertRunner(
    {
      outbox,
      leases,
      clock,
      logger,
      holder: options.holder ?? alertHolder(),
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
      ...(options.random === undefined ? {} : { random: options.random }),
    },
    alertSettings(config, options.mailTransport ?? createMailTransport(config)),
  );
  const expression = config.alertsSchedule;
  if (expression !== 'off' && !isValidCronExpression(expression)) {
    throw new ConfigError([
      `alertsSchedule: '${expression}' is not a cron expression node-cron accepts (fields: [second] minute hour day-of-month month day-of-week)`,
    ]);
  }
  const schedule = expression === 'off' ? undefined : new AlertSchedule({ expression, runner, clock, logger, ...options.schedule });
  const port = {
    list: (query) => ledger.alerts.list(query),
    runNow: async () => {
      const outcome = await runner.run({ reason: 'manual' }, { wait: false });
      if (outcome.status === 'skipped') throw new DomainError('conflict', `No run was started: ${SKIPPED[outcome.reason]}.`);
      return { runId: outcome.runId, enqueued: outcome.enqueued, messages: outcome.messages };
    },
  } satisfies AlertsPort;
  return {
    runner,
    schedule,
    port,
    start: async () => {
      if (schedule === undefined) {
        // Without a schedule nothing else resends what an earlier process left pending.
        await runner.deliverDue();
        return;
      }
      await schedule.start();
    },
    stop: async (withinMs) => {
      const stopped = schedule === undefined ? runner.stop() : schedule.stop();
      if (withinMs === undefined) return stopped;
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, withinMs);
      });
      await Promise.race([stopped, deadline]).finally(() => clearTimeout(timer));
    },
  };
}

function configOf(parsed: ParsedCommand): Config {
  const file = stringOption(parsed, 'config');
  return loadConfig({ env: process.env, onWarning: printConfigWarning, ...(file === undefined ? {} : { file }) });
}

async function withLedger<T>(config: Config, use: (ledger: AlertLedger) => Promise<T>): Promise<T> {
  const location = ledgerLocation(config);
  if (location.kind === 'sqlite') ensurePrivateDir(config.dataDir);
  const { ledger } = await openLedgerBackend(location);
  try {
    return await use(ledger);
  } finally {
    await ledger.close();
  }
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** The outbox as an operator scans it: one row per alert, the worst delivery's error last. */
export const ALERT_HEADER = [
  'ID',
  'STATUS',
  'SERIAL',
  'THRESHOLD',
  'NOT AFTER',
  'LEFT',
  'ATTEMPTS',
  'DELIVERIES',
  'IDENTITY',
  'LAST ERROR',
] as const;

export function alertRow(a: AlertSummary, now: number): string[] {
  return [
    String(a.id),
    a.status,
    a.certificate.serial,
    formatThreshold(a.thresholdMs),
    shortTime(a.certificate.notAfter),
    formatTimeLeft(a.certificate.notAfter, now),
    String(a.attempts),
    a.deliveries.length === 0 ? 'log' : a.deliveries.map((d) => `${d.channel}:${d.status}`).join(','),
    identityLabel(a.certificate),
    a.lastError ?? '',
  ];
}

export function formatAlertTable(items: readonly AlertSummary[], now: number): string {
  return (
    table(
      ALERT_HEADER,
      items.map((a) => alertRow(a, now)),
    ) + (items.length === 0 ? '\n(no alerts)' : '')
  );
}

const ALERT_STATUSES: readonly AlertStatus[] = ['pending', 'sent', 'failed'];

export const alertsListCommand: Command = {
  name: 'alerts list',
  summary: 'list expiry alerts with their delivery status, attempts and last error',
  usage: 'keysmith alerts list [--status pending|sent|failed] [--limit N] [--cursor C | --all] [--json]',
  options: {
    status: { type: 'string', value: ALERT_STATUSES.join('|'), help: 'only alerts whose overall status is this' },
    ...LISTING_OPTIONS,
  },
  example: 'keysmith alerts list --status failed --json',
  async run(parsed) {
    const statusText = stringOption(parsed, 'status');
    const status = ALERT_STATUSES.find((s) => s === statusText);
    if (statusText !== undefined && status === undefined) {
      throw new UsageError(`--status: expected pending, sent or failed, got '${statusText}'`);
    }
    const paging = pagingOf(parsed);
    const config = configOf(parsed);
    await withLedger(config, async (ledger) => {
      const now = systemClock.now();
      await printListing(
        {
          key: 'alerts',
          fetch: async (cursor, limit) =>
            ledger.alerts.list({ limit, ...(status === undefined ? {} : { status }), ...(cursor === undefined ? {} : { cursor }) }),
          toJson: (alert) => alertWire(alert, now),
          header: ALERT_HEADER,
          toRow: (alert) => alertRow(alert, now),
          empty: '(no alerts)',
        },
        paging,
        parsed.values['json'] === true,
      );
    });
    return 0;
  },
};

export const alertsRunCommand: Command = {
  name: 'alerts run',
  summary: 'run expiry detection now, print what was enqueued, and deliver it (safe while serve runs)',
  usage: 'keysmith alerts run',
  options: {},
  example: 'keysmith alerts run --config /etc/keysmith/keysmith.yaml',
  async run(parsed) {
    const config = configOf(parsed);
    return withLedger(config, async (ledger) => {
      const logger = alertLogger(config.logLevel, 'stderr');
      const { runner } = composeAlerts({ config: { ...config, alertsSchedule: 'off' }, ledger, logger });
      const outcome = await runner.run({ reason: 'manual' });
      if (outcome.status === 'skipped') {
        console.error(`keysmith alerts run: ${SKIPPED[outcome.reason]}; try again shortly`);
        return 1;
      }
      const now = systemClock.now();
      console.log(
        table(
          ['SERIAL', 'THRESHOLD', 'NOT AFTER', 'LEFT', 'PROFILE', 'IDENTITY'],
          outcome.enqueued.map((a) => [
            a.serial,
            formatThreshold(a.thresholdMs),
            shortTime(a.notAfter),
            formatTimeLeft(a.notAfter, now),
            a.profile,
            identityLabel(a),
          ]),
        ),
      );
      console.log(
        `run ${outcome.runId}: ${outcome.enqueued.length} alert${outcome.enqueued.length === 1 ? '' : 's'} enqueued, ${outcome.messages} message${outcome.messages === 1 ? '' : 's'} queued`,
      );
      const report: DeliveryReport = await outcome.delivered;
      console.log(`delivery: ${report.sent} sent, ${report.retrying} to retry, ${report.failed} failed`);
      if (report.retrying > 0)
        console.log('messages to retry are resent by `keysmith serve` once their back-off is over, or by the next run');
      await runner.stop();
      return 0;
    });
  },
};
