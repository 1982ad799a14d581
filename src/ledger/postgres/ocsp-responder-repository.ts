import { DomainError } from '../../shared/errors.js';
import { checkTime } from '../certificate-rows.js';
import {
  checkLease,
  checkResponderRecord,
  NEWEST_RESPONDER_SQL,
  RESPONDER_LEASE_NAME,
  TAKE_RESPONDER_LEASE_SQL,
  toStoredResponder,
  type StoredOcspResponder,
  type StoredResponderRow,
} from '../ocsp-responder-repository.js';
import { sqlState, type PostgresDatabase } from './database.js';

/** The shared OCSP responders on PostgreSQL: the SQLite repository's statements and mapping, with $n placeholders. */

/** `?` → `$1, $2, ...` in order (the shared statements have no `?` inside literals). */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

const NEWEST = numbered(NEWEST_RESPONDER_SQL);
const TAKE = numbered(TAKE_RESPONDER_LEASE_SQL);
const CONSTRAINT_STATES = new Set(['23505', '23503', '23514']);

export class PostgresOcspResponderRepository {
  constructor(private readonly database: PostgresDatabase) {}

  async newest(issuer: string, now: number): Promise<StoredOcspResponder | undefined> {
    checkTime(now, 'now');
    const row = await this.database.row<StoredResponderRow>(NEWEST, [issuer, now]);
    return row === undefined ? undefined : toStoredResponder(row);
  }

  async record(serial: string, wrappedKey: string, recordedAt: number): Promise<void> {
    checkResponderRecord(serial, wrappedKey, recordedAt);
    try {
      await this.database.run('INSERT INTO ocsp_responders (serial, wrapped_key, recorded_at) VALUES ($1, $2, $3)', [serial, wrappedKey, recordedAt]);
    } catch (error) {
      const state = sqlState(error);
      if (state !== undefined && CONSTRAINT_STATES.has(state)) {
        throw new DomainError('conflict', `OCSP responder ${serial} is recorded already, or its certificate is not in the ledger`, { cause: error });
      }
      throw error;
    }
  }

  async claimRotation(holder: string, now: number, ttlMs: number): Promise<boolean> {
    checkLease(holder, now, ttlMs);
    return (await this.database.run(TAKE, [RESPONDER_LEASE_NAME, holder, now + ttlMs, now])) === 1;
  }

  async releaseRotation(holder: string): Promise<void> {
    await this.database.run('DELETE FROM leases WHERE name = $1 AND holder = $2', [RESPONDER_LEASE_NAME, holder]);
  }
}
