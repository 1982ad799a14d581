import type Database from 'better-sqlite3';
import { systemClock, type Clock } from '../shared/clock.js';
import type {
  CertificatePage,
  CertificateQuery,
  CertificateRecord,
  ExpiryTimelineCount,
  ExpiryTimelineQuery,
  NewCertificateRecord,
  RevocationReason,
} from '../domain/certificates.js';
import { EXPIRY_TIMELINE_SQL, timelineParams, toTimelineCounts, type TimelineParams, type TimelineRow } from './certificate-timeline.js';
import { cursorAfter, planList, type ListParams } from './certificate-list.js';
import {
  alreadyRevokedError,
  CERTIFICATE_COLUMNS,
  checkNewRecord,
  checkRevocation,
  checkSerial,
  namesOf,
  recordConflictDetail,
  STATUS_COLUMNS,
  toCertificateRecord,
  toInsertRow,
  toSerialStatus,
  unknownSerialError,
  type CertificateRow,
  type InsertRow,
  type SerialStatus,
  type StatusRow,
} from './certificate-rows.js';
import { latestParams, RECORD_LATEST_PER_SPIFFE_ID, type LatestParams } from './attention.js';
import { DurableWrites, toConflict } from './connection.js';
import { RevokedListing, type RevokedRow, type RevokedSummary } from './revoked-listing.js';

export type { SerialStatus };

/** The `certificates` aggregate: the ledger of every certificate keysmith signed. */
export class CertificateRepository {
  private readonly durable: DurableWrites;
  private readonly selectTaken: Database.Statement<[string], number>;
  private readonly selectBySerial: Database.Statement<[string], CertificateRow>;
  private readonly selectStatus: Database.Statement<[string], StatusRow>;
  private readonly selectCount: Database.Statement<[], number>;
  private readonly insertCertificate: Database.Statement<[InsertRow]>;
  private readonly insertName: Database.Statement<[string, string, string]>;
  /** Lazy: a ledger opened at a schema before migrations/0006 (migration tests) still constructs. */
  private upsertLatest: Database.Statement<[LatestParams]> | undefined;
  private readonly updateRevoked: Database.Statement<[number, string, string]>;
  private readonly recordTransaction: Database.Transaction<(record: NewCertificateRecord) => void>;
  private readonly recordManyTransaction: Database.Transaction<(records: readonly NewCertificateRecord[]) => void>;
  private readonly revokeTransaction: Database.Transaction<
    (serial: string, reason: RevocationReason, revokedAt: number) => CertificateRecord
  >;
  /** The CRL's reads: revoked and unexpired by issuer, over migrations/0005's partial index. */
  private readonly revokedListing: RevokedListing;
  /** Made on first use, so a ledger at an older schema still constructs. */
  private selectTimeline: Database.Statement<[TimelineParams], TimelineRow> | undefined;
  /** One prepared statement per list shape (at most a few dozen), made on first use. */
  private readonly listStatements = new Map<string, Database.Statement<[ListParams], CertificateRow>>();

  /**
   * `tracksLatest`: the schema has spiffe_latest (migrations/0006); false only for a ledger
   * opened at an older version (the migration tests), whose rows the migration's fill covers.
   */
  constructor(
    private readonly db: Database.Database,
    private readonly clock: Clock = systemClock,
    private readonly tracksLatest = true,
  ) {
    this.durable = new DurableWrites(db);
    this.selectTaken = db.prepare<[string], number>('SELECT 1 FROM certificates WHERE serial = ?').pluck();
    this.selectBySerial = db.prepare<[string], CertificateRow>(`SELECT ${CERTIFICATE_COLUMNS} FROM certificates WHERE serial = ?`);
    this.selectStatus = db.prepare<[string], StatusRow>(`SELECT ${STATUS_COLUMNS} FROM certificates WHERE serial = ?`);
    this.selectCount = db.prepare<[], number>('SELECT count(*) FROM certificates').pluck();
    this.revokedListing = new RevokedListing(db);
    this.insertCertificate = db.prepare<[InsertRow]>(
      `INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after,
                                 issued_at, status, der, fingerprint, sans)
       VALUES (:serial, :issuer, :subject, :spiffeId, :profile, :requester, :notBefore, :notAfter,
               :issuedAt, 'valid', :der, :fingerprint, :sans)`,
    );
    this.insertName = db.prepare<[string, string, string]>('INSERT INTO certificate_names (serial, type, value) VALUES (?, ?, ?)');
    this.updateRevoked = db.prepare<[number, string, string]>(
      `UPDATE certificates SET status = 'revoked', revoked_at = ?, revocation_reason = ?
        WHERE serial = ? AND status = 'valid'`,
    );

    this.recordTransaction = db.transaction((record: NewCertificateRecord): void => this.insertRecord(record));
    this.recordManyTransaction = db.transaction((records: readonly NewCertificateRecord[]): void => {
      for (const record of records) {
        try {
          this.insertRecord(record);
        } catch (error) {
          // Name the row that broke the batch; the whole transaction rolls back.
          throw toConflict(error, (code) => conflictDetail(record, code));
        }
      }
    });

    this.revokeTransaction = db.transaction((serial: string, reason: RevocationReason, revokedAt: number): CertificateRecord => {
      const current = this.selectStatus.get(serial);
      if (current === undefined) throw unknownSerialError(serial);
      if (current.status === 'revoked') throw alreadyRevokedError(serial);
      this.updateRevoked.run(revokedAt, reason, serial);
      const updated = this.selectBySerial.get(serial);
      if (updated === undefined) throw new Error(`certificate ${serial} vanished while being revoked`);
      return toCertificateRecord(updated);
    });
  }

  isSerialTaken(serial: string): boolean {
    checkSerial(serial);
    return this.selectTaken.get(serial) !== undefined;
  }

  /**
   * Records a freshly signed certificate. One transaction with synchronous=FULL
   * for this write (the certificate leaves the process only after commit).
   * DomainError 'conflict' on a duplicate serial. Also fills certificate_names.
   */
  recordIssued(record: NewCertificateRecord): void {
    checkNewRecord(record);
    try {
      this.durable.run(this.recordTransaction, record);
    } catch (error) {
      throw toConflict(error, (code) => conflictDetail(record, code));
    }
  }

  /**
   * Records several certificates in ONE durable transaction (group commit: one
   * disk sync for all). All or nothing: every record is checked first, and a
   * row that breaks a constraint rolls the batch back with 'conflict' naming it.
   */
  recordIssuedMany(records: readonly NewCertificateRecord[]): void {
    for (const record of records) checkNewRecord(record);
    if (records.length === 0) return;
    this.durable.run(this.recordManyTransaction, records);
  }

  findBySerial(serial: string): CertificateRecord | undefined {
    checkSerial(serial);
    const row = this.selectBySerial.get(serial);
    return row === undefined ? undefined : toCertificateRecord(row);
  }

  /** Status of a serial for mTLS and OCSP: undefined when never issued. */
  statusOf(serial: string): SerialStatus | undefined {
    checkSerial(serial);
    const row = this.selectStatus.get(serial);
    return row === undefined ? undefined : toSerialStatus(serial, row);
  }

  /**
   * Filters of CertificateQuery; keyset pagination ordered by (not_after, serial)
   * when expiringWithinMs is set, else by (issued_at DESC, serial). The cursor is
   * opaque base64url; limit 1..500, default 100 ('malformed' otherwise or for a bad cursor).
   */
  list(query: CertificateQuery): CertificatePage {
    const plan = planList(query, this.clock);
    if (plan === null) return { items: [], nextCursor: null };
    let statement = this.listStatements.get(plan.sql);
    if (statement === undefined) {
      statement = this.db.prepare<[ListParams], CertificateRow>(plan.sql);
      this.listStatements.set(plan.sql, statement);
    }
    const rows = statement.all(plan.params);
    const items = rows.slice(0, plan.limit).map(toCertificateRecord);
    const last = items[items.length - 1];
    const nextCursor = rows.length > plan.limit && last !== undefined ? cursorAfter(plan.order, last) : null;
    return { items, nextCursor };
  }

  /** Certificates not revoked expiring in [now, to), counted per UTC day from `from` and per profile, in SQL (certificate-timeline.ts). */
  expiryTimeline(query: ExpiryTimelineQuery): ExpiryTimelineCount[] {
    const params = timelineParams(query);
    this.selectTimeline ??= this.db.prepare<[TimelineParams], TimelineRow>(EXPIRY_TIMELINE_SQL);
    return toTimelineCounts(this.selectTimeline.all(params));
  }

  /**
   * Marks a certificate revoked, durably (losing a revocation to a power cut would
   * bring a withdrawn identity back). 'notFound' when unknown, 'conflict' when
   * already revoked. Returns the updated record.
   */
  revoke(serial: string, reason: RevocationReason, revokedAt: number): CertificateRecord {
    checkRevocation(serial, reason, revokedAt);
    try {
      return this.durable.run(this.revokeTransaction, serial, reason, revokedAt);
    } catch (error) {
      throw toConflict(error, (code) => `revoking ${serial} breaks a ledger constraint (${code})`);
    }
  }

  private insertRecord(record: NewCertificateRecord): void {
    this.insertCertificate.run(toInsertRow(record));
    for (const name of namesOf(record.sans)) this.insertName.run(record.serial, name.type, name.value);
    if (record.spiffeId !== null && this.tracksLatest) {
      this.upsertLatest ??= this.db.prepare<[LatestParams]>(RECORD_LATEST_PER_SPIFFE_ID);
      this.upsertLatest.run(latestParams({ ...record, spiffeId: record.spiffeId }));
    }
  }

  count(): number {
    return this.selectCount.get() ?? 0;
  }

  /** The CRL's entries: certificates of `issuer` revoked and not expired at `now` (bounded by what it returns). */
  revokedUnexpired(issuer: string, now: number): RevokedRow[] {
    return this.revokedListing.revokedUnexpired(issuer, now);
  }

  /** Count and latest revoked_at of that set: the CRL publisher's cheap "did anything change" check. */
  revokedSummary(issuer: string, now: number): RevokedSummary {
    return this.revokedListing.summary(issuer, now);
  }
}

function conflictDetail(record: NewCertificateRecord, code: string): string {
  return recordConflictDetail(
    record,
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? 'serial' : code === 'SQLITE_CONSTRAINT_UNIQUE' ? 'fingerprint' : { code },
  );
}
