import type Database from 'better-sqlite3';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Awaitable } from '../shared/awaitable.js';
import {
  countEligibleSql,
  deleteBatchSql,
  forgetLatestSql,
  isCertificateStep,
  RETENTION_STEPS,
  retentionValues,
  STEP_TABLE,
  type RetentionParams,
  type RetentionStep,
} from './retention-sql.js';

/**
 * Retention: the ledger keeps what it must and forgets what nobody can use.
 * A pass runs each step of retention-sql.ts in bounded batches (one short
 * transaction each, yielding to the event loop between them), so `serve`
 * stays responsive and a cluster node holding the `retention` lease never
 * holds the write lock for long. Both backends implement `RetentionStore`.
 */
export interface RetentionStore {
  /** Deletes one batch of `step` and returns how many rows went. */
  pruneBatch(step: RetentionStep, params: RetentionParams): Awaitable<number>;
  /** Rows `step` would delete now. */
  countEligible(step: RetentionStep, params: Omit<RetentionParams, 'limit'>): Awaitable<number>;
}

export interface RetentionPolicy {
  readonly periodMs: number;
  /** Rows per transaction; default 500. */
  readonly batchSize?: number;
  /** Batches per step in one pass; default 200 (100,000 rows at 500): a backlog drains over several passes. */
  readonly maxBatchesPerStep?: number;
  /** Certificates kept whatever their age (the listener's and the admin's current ones). */
  readonly keepSerials?: readonly string[];
}

export interface RetentionHooks {
  /** After each batch that deleted rows: table label and count (metrics, logs). */
  readonly onBatch?: (table: string, rows: number) => void;
  /** Between steps: false stops the pass (the lease was lost). */
  readonly shouldContinue?: () => Awaitable<boolean>;
}

/** Rows deleted (or, in a dry run, eligible) per table. */
export type RetentionReport = Record<string, number>;

export const DEFAULT_RETENTION_BATCH = 500;
export const DEFAULT_MAX_BATCHES_PER_STEP = 200;

function emptyReport(): RetentionReport {
  const report: RetentionReport = {};
  for (const step of RETENTION_STEPS) report[STEP_TABLE[step]] = 0;
  return report;
}

/** One retention pass at `now`: every step, oldest rows first, in bounded batches. */
export async function pruneLedger(
  store: RetentionStore,
  policy: RetentionPolicy,
  now: number,
  hooks: RetentionHooks = {},
): Promise<RetentionReport> {
  const limit = policy.batchSize ?? DEFAULT_RETENTION_BATCH;
  const maxBatches = policy.maxBatchesPerStep ?? DEFAULT_MAX_BATCHES_PER_STEP;
  const params: RetentionParams = { now, periodMs: policy.periodMs, limit, keepSerials: policy.keepSerials ?? [] };
  const report = emptyReport();
  for (const step of RETENTION_STEPS) {
    if (hooks.shouldContinue !== undefined && !(await hooks.shouldContinue())) break;
    for (let batch = 0; batch < maxBatches; batch++) {
      const deleted = await store.pruneBatch(step, params);
      const table = STEP_TABLE[step];
      report[table] = (report[table] ?? 0) + deleted;
      if (deleted > 0) hooks.onBatch?.(table, deleted);
      if (deleted < limit) break;
      // Requests queued meanwhile run before the next batch takes the write lock again.
      await yieldToEventLoop();
    }
  }
  return report;
}

/** What a pass at `now` would delete, step by step (a dry run; rows an earlier step would free show up on the next run). */
export async function countPrunable(store: RetentionStore, policy: RetentionPolicy, now: number): Promise<RetentionReport> {
  const report = emptyReport();
  for (const step of RETENTION_STEPS) {
    const table = STEP_TABLE[step];
    report[table] =
      (report[table] ?? 0) + (await store.countEligible(step, { now, periodMs: policy.periodMs, keepSerials: policy.keepSerials ?? [] }));
  }
  return report;
}

/**
 * Retention on the SQLite ledger: each batch is one IMMEDIATE transaction (the
 * cascades and spiffe_latest go with it). Not a durable (synchronous=FULL)
 * write: a batch lost to a power cut only leaves rows for the next pass.
 */
export class SqliteRetention implements RetentionStore {
  private readonly statements = new Map<string, Database.Statement<[Record<string, number | string>], { key: string | number }>>();

  constructor(private readonly db: Database.Database) {}

  /** One prepared statement per step and number of kept serials, made on first use. */
  private deleteStatement(
    step: RetentionStep,
    keepCount: number,
  ): Database.Statement<[Record<string, number | string>], { key: string | number }> {
    const name = `${step}:${keepCount}`;
    let statement = this.statements.get(name);
    if (statement === undefined) {
      statement = this.db.prepare<[Record<string, number | string>], { key: string | number }>(deleteBatchSql(step, keepCount));
      this.statements.set(name, statement);
    }
    return statement;
  }

  pruneBatch(step: RetentionStep, params: RetentionParams): number {
    const values = retentionValues(params);
    const run = this.db.transaction(() => {
      const keys = this.deleteStatement(step, params.keepSerials.length)
        .all(values)
        .map((row) => String(row.key));
      if (isCertificateStep(step) && keys.length > 0) {
        this.db.prepare(forgetLatestSql(keys.length)).run(Object.fromEntries(keys.map((serial, i) => [`s${i}`, serial])));
      }
      return keys.length;
    });
    return run.immediate();
  }

  countEligible(step: RetentionStep, params: Omit<RetentionParams, 'limit'>): number {
    const values = retentionValues({ ...params, limit: 1 });
    delete values['limit'];
    const row = this.db
      .prepare<[Record<string, number | string>], { n: number }>(countEligibleSql(step, params.keepSerials.length))
      .get(values);
    return row?.n ?? 0;
  }
}
