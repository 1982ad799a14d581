import { checkTime } from '../certificate-rows.js';
import {
  checkResponderRecord,
  NEWEST_RESPONDER_SQL,
  RESPONDER_LEASE_NAME,
  toStoredResponder,
  type StoredOcspResponder,
  type StoredResponderRow,
} from '../ocsp-responder-repository.js';
import { numberPositionalParameters } from '../sql-placeholders.js';
import { toPostgresConflict } from './constraint.js';
import type { PostgresDatabase } from './database.js';
import type { PostgresLeases } from './leases.js';

/** The shared OCSP responders on PostgreSQL: the SQLite repository's statements and mapping, with $n placeholders, and the same named lease. */

const NEWEST = numberPositionalParameters(NEWEST_RESPONDER_SQL);

export class PostgresOcspResponderRepository {
  constructor(
    private readonly database: PostgresDatabase,
    private readonly leases: PostgresLeases,
  ) {}

  async newest(issuer: string, now: number): Promise<StoredOcspResponder | undefined> {
    checkTime(now, 'now');
    const row = await this.database.row<StoredResponderRow>(NEWEST, [issuer, now]);
    return row === undefined ? undefined : toStoredResponder(row);
  }

  async record(serial: string, wrappedKey: string, recordedAt: number): Promise<void> {
    checkResponderRecord(serial, wrappedKey, recordedAt);
    try {
      await this.database.run('INSERT INTO ocsp_responders (serial, wrapped_key, recorded_at) VALUES ($1, $2, $3)', [
        serial,
        wrappedKey,
        recordedAt,
      ]);
    } catch (error) {
      throw toPostgresConflict(error, () => `OCSP responder ${serial} is recorded already, or its certificate is not in the ledger`);
    }
  }

  claimRotation(holder: string, now: number, ttlMs: number): Promise<boolean> {
    return this.leases.acquire(RESPONDER_LEASE_NAME, holder, now, ttlMs);
  }

  releaseRotation(holder: string): Promise<void> {
    return this.leases.release(RESPONDER_LEASE_NAME, holder);
  }
}
