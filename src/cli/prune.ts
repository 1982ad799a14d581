/**
 * Retention from the command line (`keysmith prune`) and on a schedule in
 * `serve`. Both take the `retention` lease first, so one process of a cluster
 * prunes at a time; the pass itself is src/ledger/retention.ts (bounded
 * batches, the event loop served between them).
 */
import { randomUUID, X509Certificate } from 'node:crypto';
import { hostname } from 'node:os';
import { Counter, type Registry } from 'prom-client';
import type { Config } from '../config/index.js';
import {
  countPrunable,
  openLedgerBackend,
  pruneLedger,
  type LedgerBackend,
  type RetentionPolicy,
  type RetentionReport,
} from '../ledger/index.js';
import { type Clock, systemClock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import type { Command } from './args.js';
import { ledgerLocation } from './compose.js';
import { configOf } from './offline.js';
import { dataPaths, readIfExists } from './files.js';

export const RETENTION_LEASE = 'retention';
/** A crashed pruner blocks the others this long at most; the pass renews it between steps. */
export const RETENTION_LEASE_TTL_MS = 15 * 60_000;

/** The current listener and admin certificates never go, whatever their age (their files name them). */
export function currentIdentitySerials(dataDir: string): string[] {
  const paths = dataPaths(dataDir);
  const serials: string[] = [];
  for (const path of [paths.serverCert, paths.adminCert]) {
    const pem = readIfExists(path);
    if (pem === undefined) continue;
    try {
      serials.push(new X509Certificate(pem).serialNumber.toLowerCase().replace(/^(00)+(?=.)/, ''));
    } catch {
      // An unreadable file protects nothing; the certificate is then kept only by its age.
    }
  }
  return serials;
}

export function retentionPolicy(config: Config): RetentionPolicy {
  return { periodMs: config.retentionPeriod, keepSerials: currentIdentitySerials(config.dataDir) };
}

export interface RetentionRun {
  /** null: another process holds the lease. */
  readonly report: RetentionReport | null;
}

/** One pass under the `retention` lease; the lease is renewed between steps and released at the end. */
export async function pruneUnderLease(
  ledger: Pick<LedgerBackend, 'leases' | 'retention'>,
  policy: RetentionPolicy,
  clock: Clock,
  onBatch?: (table: string, rows: number) => void,
): Promise<RetentionRun> {
  const token = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  if (!(await ledger.leases.acquire(RETENTION_LEASE, token, clock.now(), RETENTION_LEASE_TTL_MS))) return { report: null };
  try {
    const report = await pruneLedger(ledger.retention, policy, clock.now(), {
      ...(onBatch === undefined ? {} : { onBatch }),
      shouldContinue: () => ledger.leases.renew(RETENTION_LEASE, token, clock.now(), RETENTION_LEASE_TTL_MS),
    });
    return { report };
  } finally {
    await ledger.leases.release(RETENTION_LEASE, token);
  }
}

export interface RetentionSchedule {
  /** Stops the timer and waits for a pass under way. */
  stop(): Promise<void>;
}

/** `keysmith_retention_pruned_rows_total{table}`: rows retention deleted. */
export function retentionMetricsOn(registry: Registry): (table: string, rows: number) => void {
  const pruned = new Counter({
    name: 'keysmith_retention_pruned_rows_total',
    help: 'Ledger rows deleted by retention, by table.',
    labelNames: ['table'],
    registers: [registry],
  });
  return (table, rows) => pruned.inc({ table }, rows);
}

/**
 * Runs a pass every `everyMs` (the first a minute after start, or sooner),
 * never two at once. A failed pass is reported and the next tries again:
 * nothing is lost by waiting, the tables only hold a few more rows.
 */
export function startRetention(
  ledger: Pick<LedgerBackend, 'leases' | 'retention'>,
  options: {
    readonly config: Config;
    readonly clock: Clock;
    readonly onBatch: (table: string, rows: number) => void;
    readonly onError: (error: unknown) => void;
    readonly onPass?: (report: RetentionReport) => void;
  },
): RetentionSchedule {
  const everyMs = options.config.retentionInterval;
  let running: Promise<void> | undefined;
  const pass = (): void => {
    if (running !== undefined) return;
    running = pruneUnderLease(ledger, retentionPolicy(options.config), options.clock, options.onBatch)
      .then((run) => {
        if (run.report !== null) options.onPass?.(run.report);
      }, options.onError)
      .finally(() => {
        running = undefined;
      });
  };
  if (everyMs === 0) return { stop: async () => undefined };
  const first = setTimeout(pass, Math.min(everyMs, 60_000));
  const timer = setInterval(pass, everyMs);
  // Retention never keeps the process alive on its own.
  first.unref();
  timer.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(timer);
      await running;
    },
  };
}

function formatReport(report: RetentionReport, verb: string): string {
  const width = Math.max(...Object.keys(report).map((t) => t.length));
  return Object.entries(report)
    .map(([table, rows]) => `${table.padEnd(width)}  ${rows} ${verb}`)
    .join('\n');
}

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'delete ledger rows past the retention period (expired certificates, ACME orders, used tokens, sent alerts)',
  usage: 'keysmith prune [--dry-run] [--json] [--config FILE]',
  example: 'keysmith prune --dry-run --json',
  options: {
    'dry-run': { type: 'boolean', help: 'count what would be deleted now; delete nothing', default: 'false' },
    json: {
      type: 'boolean',
      help: 'print one JSON document: {"dry_run", "retention_period_ms", "tables": {table: rows}}',
      default: 'false',
    },
  },
  async run(parsed) {
    const config = configOf(parsed);
    const isDryRun = parsed.values['dry-run'] === true;
    const opened = await openLedgerBackend(ledgerLocation(config));
    try {
      const ledger: LedgerBackend = opened.ledger;
      const policy = retentionPolicy(config);
      let report: RetentionReport;
      if (isDryRun) {
        report = await countPrunable(ledger.retention, policy, systemClock.now());
      } else {
        const run = await pruneUnderLease(ledger, policy, systemClock);
        if (run.report === null)
          throw new DomainError(
            'conflict',
            'another keysmith process is pruning this ledger right now (the retention lease is held); try again later',
          );
        report = run.report;
      }
      if (parsed.values['json'] === true) {
        console.log(JSON.stringify({ dry_run: isDryRun, retention_period_ms: config.retentionPeriod, tables: report }));
      } else {
        console.log(formatReport(report, isDryRun ? 'eligible' : 'deleted'));
      }
    } finally {
      await opened.ledger.close();
    }
    return 0;
  },
};
