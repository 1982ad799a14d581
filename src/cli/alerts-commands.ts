/** `keysmith alerts list|run`: the outbox as an operator scans it, and a run on demand (safe while serve runs). */
import { formatThreshold, identityLabel, type DeliveryReport } from '../alerts/index.js';
import { loadConfig, type Config } from '../config/index.js';
import { alertWire } from '../http/index.js';
import { openLedgerBackend, type AlertStatus, type AlertSummary } from '../ledger/index.js';
import { systemClock } from '../shared/clock.js';
import { printConfigWarning, stringOption, UsageError, type Command, type ParsedCommand } from './args.js';
import { alertLogger, composeAlerts, SKIPPED, type AlertLedger } from './alerts.js';
import { ledgerLocation } from './compose.js';
import { ensurePrivateDir } from './files.js';
import { formatTimeLeft, LISTING_OPTIONS, pagingOf, printListing, shortTime } from './listing.js';

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
