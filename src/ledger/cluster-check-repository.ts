import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { checkTime } from './certificate-rows.js';
import { DurableWrites } from './connection.js';

/**
 * The check value of the cluster secret (`cluster_key_check`, migrations/0007):
 * what lets a node tell, at start, that its `ca/cluster.key` is the one the
 * rest of the cluster derives its nonce and ticket keys from
 * (src/cli/cluster-secret-check.ts). It is an HKDF output of the secret,
 * never the secret. The PostgreSQL repository (postgres/cluster-check-repository.ts)
 * shares the validation below and the same two statements.
 */

/** The length of a check value: one SHA-256 HKDF output. */
export const CLUSTER_CHECK_BYTES = 32;

export function checkClusterCheckValue(value: Uint8Array, recordedAt: number): void {
  if (value.length !== CLUSTER_CHECK_BYTES)
    throw new DomainError('malformed', `a cluster check value is ${CLUSTER_CHECK_BYTES} bytes, not ${value.length}`);
  checkTime(recordedAt, 'recordedAt');
}

/** The check value the ledger holds, and whether this call is what recorded it. */
export interface RecordedClusterCheck {
  readonly value: Uint8Array;
  readonly isNew: boolean;
}

export class ClusterCheckRepository {
  private readonly durable: DurableWrites;
  private recordOrGetStatement: Database.Transaction<(value: Buffer, recordedAt: number) => { value: Buffer; isNew: boolean }> | undefined;

  /** Statements are prepared on first use, so a ledger opened at an older schema version (migration tests) still constructs. */
  constructor(private readonly db: Database.Database) {
    this.durable = new DurableWrites(db);
  }

  /**
   * Records `value` when the ledger holds no check value yet, and returns the
   * one it holds then: `value` itself on the first start, else the value the
   * first node recorded (which the caller compares with its own).
   */
  recordOrGet(value: Uint8Array, recordedAt: number): RecordedClusterCheck {
    checkClusterCheckValue(value, recordedAt);
    this.recordOrGetStatement ??= this.prepare();
    const stored = this.durable.run(this.recordOrGetStatement, Buffer.from(value), recordedAt);
    return { value: new Uint8Array(stored.value), isNew: stored.isNew };
  }

  private prepare(): Database.Transaction<(value: Buffer, recordedAt: number) => { value: Buffer; isNew: boolean }> {
    const insert = this.db.prepare<[Buffer, number]>(
      "INSERT INTO cluster_key_check (scope, check_value, recorded_at) VALUES ('cluster', ?, ?) ON CONFLICT (scope) DO NOTHING",
    );
    const select = this.db.prepare<[], Buffer>("SELECT check_value FROM cluster_key_check WHERE scope = 'cluster'").pluck();
    return this.db.transaction((value: Buffer, recordedAt: number): { value: Buffer; isNew: boolean } => {
      const inserted = insert.run(value, recordedAt).changes;
      const stored = select.get();
      if (stored === undefined) throw new Error('cluster_key_check holds no row after the insert');
      return { value: stored, isNew: inserted === 1 };
    });
  }
}
