/**
 * Expiry alerts in the composition root: settings from the configuration,
 * the adapters (ledger outbox and leases, pino, prom-client counters; mail in
 * alert-mail.ts), the runner and its node-cron schedule for `serve`, and the
 * port the HTTP routes use. The `keysmith alerts list|run` commands are in
 * alerts-commands.ts.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pino from 'pino';
import { Counter, type Registry } from 'prom-client';
import {
  AlertRunner,
  AlertSchedule,
  DEFAULT_RETRY,
  isValidCronExpression,
  type AlertLogger,
  type AlertMetrics,
  type AlertOutbox,
  type AlertSettings,
  type LeaseStore,
  type MailTransport,
  type SkipReason,
} from '../alerts/index.js';
import { ConfigError, type Config } from '../config/index.js';
import type { AlertsPort } from '../http/index.js';
import type { LedgerBackend } from '../ledger/index.js';
import { type Clock, systemClock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import { authNeedsStartTls, createMailTransport } from './alert-mail.js';

export { createMailTransport, SmtpTlsRequiredError } from './alert-mail.js';

/** Names this process in lease and run rows: readable, and unique even for two processes with one PID namespace. */
export function alertHolder(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
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

export const SKIPPED: Readonly<Record<SkipReason, string>> = {
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
