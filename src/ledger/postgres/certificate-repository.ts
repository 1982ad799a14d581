import { REVOCATION_CHANNEL } from './revocation-feed.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import type {
  CertificatePage,
  CertificateQuery,
  CertificateRecord,
  ExpiryTimelineCount,
  ExpiryTimelineQuery,
  NewCertificateRecord,
  RevocationReason,
} from '../../domain/certificates.js';
import { EXPIRY_TIMELINE_SQL, timelineParams, toTimelineCounts, type TimelineRow } from '../certificate-timeline.js';
import type { AwaitableMethods } from '../../shared/awaitable.js';
import type { CertificateRepository } from '../certificate-repository.js';
import { cursorAfter, planList } from '../certificate-list.js';
import {
  alreadyRevokedError,
  CERTIFICATE_COLUMNS,
  checkNewRecord,
  checkRevocation,
  checkSerial,
  STATUS_COLUMNS,
  toCertificateRecord,
  toSerialStatus,
  unknownSerialError,
  type CertificateRow,
  type SerialStatus,
  type StatusRow,
} from '../certificate-rows.js';
import {
  REVOKED_SUMMARY_SQL,
  REVOKED_UNEXPIRED_SQL,
  toRevokedRow,
  type RevokedRow,
  type RevokedSummary,
  type StoredRevokedRow,
} from '../revoked-listing.js';
import { numberNamedParameters, numberPositionalParameters } from '../sql-placeholders.js';
import { insertCertificates, recordConflict, revokeConflict } from './certificate-writes.js';
import type { PostgresDatabase, SqlValue } from './database.js';

const SELECT_TAKEN = 'SELECT 1 AS one FROM certificates WHERE serial = $1';
const SELECT_BY_SERIAL = `SELECT ${CERTIFICATE_COLUMNS} FROM certificates WHERE serial = $1`;
const SELECT_STATUS = `SELECT ${STATUS_COLUMNS} FROM certificates WHERE serial = $1`;
// FOR UPDATE: a second revoke of the serial waits here for the first to commit, then reads 'revoked' (READ COMMITTED re-reads a locked row).
const SELECT_STATUS_FOR_UPDATE = `${SELECT_STATUS} FOR UPDATE`;
const UPDATE_REVOKED = `
  UPDATE certificates SET status = 'revoked', revoked_at = $1, revocation_reason = $2
   WHERE serial = $3 AND status = 'valid'
  RETURNING ${CERTIFICATE_COLUMNS}`;
const NOTIFY_REVOKED = `SELECT pg_notify('${REVOCATION_CHANNEL}', $1)`;
const SELECT_REVOKED_UNEXPIRED = numberPositionalParameters(REVOKED_UNEXPIRED_SQL);
const SELECT_REVOKED_SUMMARY = numberPositionalParameters(REVOKED_SUMMARY_SQL);

/**
 * The `certificates` aggregate on PostgreSQL: the methods, semantics and
 * errors of the SQLite CertificateRepository (the contract tests in
 * test/unit/ledger/contract run one suite on both), asynchronous.
 *
 * Durability: a write resolves after PostgreSQL acknowledged its COMMIT.
 * keysmith assumes the operator keeps `synchronous_commit = on` (the
 * default: the commit is flushed to the primary's WAL first), or
 * `remote_write`/`remote_apply` with synchronous standbys so that a failover
 * cannot lose a certificate that already left the process. `off` or `local`
 * with asynchronous replicas would let a crash or a failover forget
 * certificates a client holds (README, "The ledger on PostgreSQL").
 *
 * Serial order: keyset paging compares serials with the column's collation,
 * in ORDER BY and in the cursor term alike, so pages stay consistent under
 * any collation; for lowercase hex every usual collation (C, en_US.UTF-8)
 * orders as bytes do, as SQLite does.
 */
export class PostgresCertificateRepository implements AwaitableMethods<CertificateRepository> {
  constructor(
    private readonly db: PostgresDatabase,
    private readonly clock: Clock = systemClock,
  ) {}

  async isSerialTaken(serial: string): Promise<boolean> {
    checkSerial(serial);
    return (await this.db.row(SELECT_TAKEN, [serial])) !== undefined;
  }

  /**
   * Records a freshly signed certificate in one transaction, committed before
   * the promise resolves. DomainError 'conflict' on a duplicate serial or
   * fingerprint; also fills certificate_names and spiffe_latest.
   */
  async recordIssued(record: NewCertificateRecord): Promise<void> {
    checkNewRecord(record);
    await this.record([record]);
  }

  /**
   * Several certificates in ONE transaction of one multi-row INSERT per table
   * (group commit: one commit, one WAL flush for the batch). All or nothing:
   * a row that breaks a constraint rolls the batch back with 'conflict' naming it.
   */
  async recordIssuedMany(records: readonly NewCertificateRecord[]): Promise<void> {
    for (const record of records) checkNewRecord(record);
    if (records.length === 0) return;
    await this.record(records);
  }

  async findBySerial(serial: string): Promise<CertificateRecord | undefined> {
    checkSerial(serial);
    const row = await this.db.row<CertificateRow>(SELECT_BY_SERIAL, [serial]);
    return row === undefined ? undefined : toCertificateRecord(row);
  }

  /** Status of a serial for mTLS and OCSP: undefined when never issued. */
  async statusOf(serial: string): Promise<SerialStatus | undefined> {
    checkSerial(serial);
    const row = await this.db.row<StatusRow>(SELECT_STATUS, [serial]);
    return row === undefined ? undefined : toSerialStatus(serial, row);
  }

  /** As CertificateRepository.list: the same plan (certificate-list.ts), its parameters numbered for PostgreSQL. */
  async list(query: CertificateQuery): Promise<CertificatePage> {
    const plan = planList(query, this.clock, 'postgres');
    if (plan === null) return { items: [], nextCursor: null };
    const { text, values } = numberNamedParameters<SqlValue>(plan.sql, plan.params);
    const rows = await this.db.rows<CertificateRow>(text, values);
    const items = rows.slice(0, plan.limit).map(toCertificateRecord);
    const last = items[items.length - 1];
    const nextCursor = rows.length > plan.limit && last !== undefined ? cursorAfter(plan.order, last) : null;
    return { items, nextCursor };
  }

  /** As CertificateRepository.expiryTimeline: the same SQL, aggregated by PostgreSQL. */
  async expiryTimeline(query: ExpiryTimelineQuery): Promise<ExpiryTimelineCount[]> {
    const { text, values } = numberNamedParameters<SqlValue>(EXPIRY_TIMELINE_SQL, timelineParams(query), {
      from: 'bigint',
      now: 'bigint',
      to: 'bigint',
    });
    return toTimelineCounts(await this.db.rows<TimelineRow>(text, values));
  }

  /**
   * Marks a certificate revoked in one transaction: lock the row, check, update
   * (returning the updated row), and pg_notify on `keysmith_revocations`,
   * which PostgreSQL delivers to every listening node only when this commits.
   * 'notFound' when unknown, 'conflict' when already revoked (of two
   * concurrent revokes, the second waits for the first and gets 'conflict').
   */
  async revoke(serial: string, reason: RevocationReason, revokedAt: number): Promise<CertificateRecord> {
    checkRevocation(serial, reason, revokedAt);
    try {
      return await this.db.transaction(async (tx) => {
        const current = await tx.row<StatusRow>(SELECT_STATUS_FOR_UPDATE, [serial]);
        if (current === undefined) throw unknownSerialError(serial);
        if (current.status === 'revoked') throw alreadyRevokedError(serial);
        const updated = await tx.row<CertificateRow>(UPDATE_REVOKED, [revokedAt, reason, serial]);
        if (updated === undefined) throw new Error(`certificate ${serial} vanished while being revoked`);
        await tx.run(NOTIFY_REVOKED, [serial]);
        return toCertificateRecord(updated);
      });
    } catch (error) {
      throw revokeConflict(error, serial);
    }
  }

  async count(): Promise<number> {
    const row = await this.db.row<{ count: number }>('SELECT count(*) AS count FROM certificates');
    return row?.count ?? 0;
  }

  /** The CRL's entries: certificates of `issuer` revoked and not expired at `now` (over migrations/0005's partial index). */
  async revokedUnexpired(issuer: string, now: number): Promise<RevokedRow[]> {
    const rows = await this.db.rows<StoredRevokedRow>(SELECT_REVOKED_UNEXPIRED, [issuer, now]);
    return rows.map(toRevokedRow);
  }

  /** Count and latest revoked_at of that set: the CRL publisher's cheap "did anything change" check. */
  async revokedSummary(issuer: string, now: number): Promise<RevokedSummary> {
    return (await this.db.row<RevokedSummary>(SELECT_REVOKED_SUMMARY, [issuer, now])) ?? { count: 0, lastRevokedAt: 0 };
  }

  private async record(records: readonly NewCertificateRecord[]): Promise<void> {
    try {
      // Resolves after COMMIT returned: with synchronous_commit on, the WAL is flushed (see the class comment).
      await this.db.transaction((tx) => insertCertificates(tx, records));
    } catch (error) {
      throw recordConflict(error, records);
    }
  }
}
