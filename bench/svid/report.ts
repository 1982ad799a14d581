/** bench/svid's summaries and tables: per configuration and load, medians of rounds. */
import type { IssueStep } from '../../src/ca/index.js';
import { CONFIGURATION_LABELS, type ConfigurationName } from './configurations.js';
import { ISSUE_STEPS, perStep, type StepTotal } from './protocol.js';

export type LoadName = 'trivial' | 'svid-1' | 'svid-8' | 'svid-64' | 'batch' | 'svid-64-fleet' | 'batch-fleet';

/** One measured window of one load on one configuration. */
export interface Window {
  readonly calls: number;
  readonly items: number;
  readonly wallSeconds: number;
  /** CPU inside the window: the node processes, the PostgreSQL processes, HAProxy, this load generator. */
  readonly nodeCpuSeconds: number;
  /** The busiest node's main thread (event loop) over the window. */
  readonly eventLoopCpuSeconds: number;
  readonly postgresCpuSeconds: number;
  readonly haproxyCpuSeconds: number;
  readonly loadCpuSeconds: number;
  /** The whole machine's busy CPU (all tenants, ours included). */
  readonly machineCpuSeconds: number;
  /** PostgreSQL only: connections to the configuration's database when the window ended. */
  readonly connections: number | undefined;
  readonly latenciesUs: readonly number[];
  readonly errors: number;
  readonly lastError: string;
  readonly steps: Readonly<Record<IssueStep, StepTotal>>;
  /** Ledger writes each node made in the window (the cluster: how evenly HAProxy spread the load). */
  readonly recordsPerNode: readonly number[];
  readonly reusedCsrs: number;
  /** PostgreSQL only: WAL bytes between the window's ends, and COMMIT records among them (undefined: WAL not readable here). */
  readonly walBytes: number | undefined;
  readonly commitRecords: number | undefined;
  /** The 1-minute load average when the window ended. */
  readonly loadAverage: number;
}

export interface LoadResult {
  readonly configuration: ConfigurationName;
  readonly load: LoadName;
  readonly label: string;
  readonly perSecond: number;
  /** Items per CPU-second of everything serving them: nodes + PostgreSQL + HAProxy. */
  readonly perCpuSecond: number;
  readonly cpuUsPerItem: number;
  readonly nodeCpuUsPerItem: number;
  readonly postgresCpuUsPerItem: number;
  readonly haproxyCpuUsPerItem: number;
  /** Share of the two cores (200 % = both) used by the server side and by the load generator. */
  readonly serverCpuPercent: number;
  /** The busiest node's event loop, % of one core. */
  readonly eventLoopPercent: number;
  readonly loadCpuPercent: number;
  /** The rest of the machine's busy CPU (other tenants), % of one core. */
  readonly otherCpuPercent: number;
  readonly maxConnections: number | undefined;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly walBytesPerItem: number | undefined;
  readonly rowsPerCommit: number | undefined;
  readonly errors: number;
  readonly reusedCsrs: number;
  readonly loadAverages: readonly number[];
  readonly stepUs: Readonly<Record<IssueStep, number>>;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const serverCpu = (w: Window): number => w.nodeCpuSeconds + w.postgresCpuSeconds + w.haproxyCpuSeconds;

function maxOrUndefined(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

function medianOrUndefined(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v));
  return known.length === 0 ? undefined : median(known);
}

export function summarize(
  configuration: ConfigurationName,
  load: LoadName,
  label: string,
  windows: readonly Window[],
  isPostgres: boolean,
): LoadResult {
  const latencies = windows.flatMap((w) => w.latenciesUs);
  const stepUs = perStep((step) => {
    const count = windows.reduce((sum, w) => sum + w.steps[step].count, 0);
    const totalMs = windows.reduce((sum, w) => sum + w.steps[step].totalMs, 0);
    return count === 0 ? 0 : (totalMs / count) * 1000;
  });
  const perItem = (seconds: (w: Window) => number): number => median(windows.map((w) => (seconds(w) * 1e6) / Math.max(1, w.items)));
  return {
    configuration,
    load,
    label,
    perSecond: median(windows.map((w) => w.items / w.wallSeconds)),
    perCpuSecond: median(windows.map((w) => w.items / Math.max(serverCpu(w), 1e-9))),
    cpuUsPerItem: perItem(serverCpu),
    nodeCpuUsPerItem: perItem((w) => w.nodeCpuSeconds),
    postgresCpuUsPerItem: perItem((w) => w.postgresCpuSeconds),
    haproxyCpuUsPerItem: perItem((w) => w.haproxyCpuSeconds),
    serverCpuPercent: median(windows.map((w) => (100 * serverCpu(w)) / w.wallSeconds)),
    eventLoopPercent: median(windows.map((w) => (100 * w.eventLoopCpuSeconds) / w.wallSeconds)),
    loadCpuPercent: median(windows.map((w) => (100 * w.loadCpuSeconds) / w.wallSeconds)),
    otherCpuPercent: median(windows.map((w) => (100 * Math.max(0, w.machineCpuSeconds - serverCpu(w) - w.loadCpuSeconds)) / w.wallSeconds)),
    maxConnections: maxOrUndefined(windows.map((w) => w.connections)),
    p50Ms: percentile(latencies, 50) / 1000,
    p99Ms: percentile(latencies, 99) / 1000,
    walBytesPerItem:
      isPostgres && load !== 'trivial'
        ? medianOrUndefined(windows.map((w) => (w.walBytes === undefined ? undefined : w.walBytes / Math.max(1, w.items))))
        : undefined,
    rowsPerCommit:
      isPostgres && load !== 'trivial'
        ? medianOrUndefined(
            windows.map((w) => (w.commitRecords === undefined || w.commitRecords === 0 ? undefined : w.items / w.commitRecords)),
          )
        : undefined,
    errors: windows.reduce((sum, w) => sum + w.errors, 0),
    reusedCsrs: windows.reduce((sum, w) => sum + w.reusedCsrs, 0),
    loadAverages: windows.map((w) => w.loadAverage),
    stepUs,
  };
}

const fixed = (value: number | undefined, digits = 0): string => (value === undefined ? '-' : value.toFixed(digits));

/** The side-by-side table: every configuration, every load. */
export function printComparison(results: readonly LoadResult[]): void {
  console.log(
    '\n| configuration | load | per second | per server-CPU-s | server CPU per item: node / postgres / haproxy | server CPU (of 200 %) | busiest event loop | load gen CPU | other tenants CPU | p50 | p99 | WAL per SVID | SVIDs per COMMIT | load avg (1 min) |',
  );
  console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of results) {
    const split = `${fixed(r.nodeCpuUsPerItem)} / ${fixed(r.postgresCpuUsPerItem)} / ${fixed(r.haproxyCpuUsPerItem)} µs`;
    const wal = r.walBytesPerItem === undefined ? '-' : `${(r.walBytesPerItem / 1024).toFixed(1)} KiB`;
    const loads = `${Math.min(...r.loadAverages).toFixed(2)}-${Math.max(...r.loadAverages).toFixed(2)}`;
    console.log(
      `| ${CONFIGURATION_LABELS[r.configuration]} | ${r.load} | ${fixed(r.perSecond)} | ${fixed(r.perCpuSecond)} | ${split} | ${fixed(r.serverCpuPercent)} % | ${fixed(r.eventLoopPercent)} % | ${fixed(r.loadCpuPercent)} % | ${fixed(r.otherCpuPercent)} % | ` +
        `${r.p50Ms.toFixed(1)} ms | ${r.p99Ms.toFixed(1)} ms | ${wal} | ${fixed(r.rowsPerCommit, 1)} | ${loads} |`,
    );
  }
}

const STEP_LABELS: Readonly<Record<IssueStep, string>> = {
  validate: 'Authority: validate',
  serial: 'Authority: serial',
  build: 'Authority: build (DER template)',
  sign: 'Authority: sign',
  check: 'Authority: check',
  record: 'Authority: ledger write',
};

/** Where one SVID's time goes on one configuration (the Authority's steps are wall time). */
export function printSteps(configuration: ConfigurationName, results: readonly LoadResult[], parseCsrCpuUs: number): void {
  const trivial = results.find((r) => r.load === 'trivial');
  const svidLoads = results.filter((r) => r.load !== 'trivial');
  if (svidLoads.length === 0) return;
  console.log(
    `\n${CONFIGURATION_LABELS[configuration]}: where one SVID's time goes (µs; Authority steps are wall time: with many in flight they include waiting)`,
  );
  console.log(`| part | ${svidLoads.map((r) => r.load).join(' | ')} |\n|---|${svidLoads.map(() => '--:').join('|')}|`);
  const row = (label: string, value: (r: LoadResult) => number | undefined): void => {
    console.log(`| ${label} | ${svidLoads.map((r) => value(r)?.toFixed(0) ?? '-').join(' | ')} |`);
  };
  row('node CPU per SVID (all threads)', (r) => r.nodeCpuUsPerItem);
  row('TLS + HTTP floor (trivial route, node CPU per response)', () => trivial?.nodeCpuUsPerItem);
  row('CSR check (parseCsr CPU, calibrated)', () => parseCsrCpuUs);
  for (const step of ISSUE_STEPS) row(STEP_LABELS[step], (r) => r.stepUs[step]);
}
