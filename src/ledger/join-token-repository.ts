import Database from 'better-sqlite3';
import type { JoinTokenRecord } from '../shared/entry-records.js';
import { DomainError } from '../shared/errors.js';
import { parseSpiffeId } from '../shared/spiffe-id.js';
import { checkSerial, checkTime } from './certificate-rows.js';
import { DurableWrites, toConflict } from './connection.js';

/** What a redemption concludes; the same shape as the SVID front end's RedeemOutcome (src/svid/ports.ts). */
export type JoinTokenRedemption =
  | { readonly ok: true; readonly record: JoinTokenRecord }
  | { readonly ok: false; readonly reason: 'unknown' | 'used' | 'expired' };

/** A row as selected: the columns are aliased to the record's names. */
type TokenRow = JoinTokenRecord;

const TOKEN_COLUMNS = `
  token_hash AS tokenHash, spiffe_id AS spiffeId, expires_at AS expiresAt, created_at AS createdAt,
  created_by AS createdBy, used_at AS usedAt, used_by_serial AS usedBySerial`;

const TOKEN_HASH = /^[0-9a-f]{64}$/;
const NODE_PATH_PREFIX = '/node/';
const MAX_CREATED_BY_LENGTH = 2048;

/**
 * The `join_tokens` aggregate (migrations/0003): one-time tokens that let a
 * node obtain its first identity, stored only as SHA-256 hashes. Redemption
 * hands out an identity, so it is one durable IMMEDIATE transaction: two
 * concurrent redemptions of one token (even from two processes) serialise on
 * the write lock, and exactly one sees it unused. Statements are prepared on
 * first use, so a ledger at an older schema version still constructs.
 */
export class JoinTokenRepository {
  private readonly durable: DurableWrites;
  private insertStatement: Database.Statement<[TokenRow]> | undefined;
  private selectStatement: Database.Statement<[string], TokenRow> | undefined;
  private markUsedStatement: Database.Statement<[number, string]> | undefined;
  private attachStatement: Database.Statement<[string, string]> | undefined;
  private readonly insertTransaction: Database.Transaction<(row: TokenRow) => void>;
  private readonly redeemTransaction: Database.Transaction<(tokenHash: string, now: number) => JoinTokenRedemption>;
  private readonly attachTransaction: Database.Transaction<(tokenHash: string, serial: string) => void>;

  constructor(private readonly db: Database.Database) {
    this.durable = new DurableWrites(db);
    this.insertTransaction = db.transaction((row: TokenRow): void => {
      this.insertStatement ??= db.prepare<[TokenRow]>(
        `INSERT INTO join_tokens (token_hash, spiffe_id, expires_at, created_at, created_by, used_at, used_by_serial)
         VALUES (:tokenHash, :spiffeId, :expiresAt, :createdAt, :createdBy, NULL, NULL)`,
      );
      this.insertStatement.run(row);
    });

    this.redeemTransaction = db.transaction((tokenHash: string, now: number): JoinTokenRedemption => {
      const row = this.select(tokenHash);
      if (row === undefined) return { ok: false, reason: 'unknown' };
      // Used is reported before expired: a replayed token is the more telling fact.
      if (row.usedAt !== null) return { ok: false, reason: 'used' };
      // expiresAt is the first instant at which the token no longer works.
      if (now >= row.expiresAt) return { ok: false, reason: 'expired' };
      this.markUsedStatement ??= db.prepare<[number, string]>(
        'UPDATE join_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL',
      );
      if (this.markUsedStatement.run(now, tokenHash).changes !== 1) {
        throw new Error('join token changed under the write lock');
      }
      return { ok: true, record: { ...row, usedAt: now } };
    });

    this.attachTransaction = db.transaction((tokenHash: string, serial: string): void => {
      this.attachStatement ??= db.prepare<[string, string]>(
        `UPDATE join_tokens SET used_by_serial = ?
          WHERE token_hash = ? AND used_at IS NOT NULL AND used_by_serial IS NULL`,
      );
      if (this.attachStatement.run(serial, tokenHash).changes === 1) return;
      // Nothing changed: say why.
      const row = this.select(tokenHash);
      if (row === undefined) throw new DomainError('notFound', 'no such join token');
      if (row.usedAt === null) throw new DomainError('conflict', 'the join token has not been redeemed');
      // Repeating the same attachment (a retried call) is not an error.
      if (row.usedBySerial === serial) return;
      if (row.usedBySerial === null) throw new Error('join token changed under the write lock');
      throw new DomainError('conflict', `the join token is already attached to certificate ${row.usedBySerial}`);
    });
  }

  /** Stores a new, unused token. 'conflict' when the hash is already stored, 'malformed' for bad fields. */
  create(record: JoinTokenRecord): void {
    checkTokenHash(record.tokenHash);
    if (typeof record.spiffeId !== 'string' || !parseSpiffeId(record.spiffeId).path.startsWith(NODE_PATH_PREFIX)) {
      throw new DomainError('malformed', `a join token attests a node identity (a SPIFFE ID under ${NODE_PATH_PREFIX})`);
    }
    checkTime(record.expiresAt, 'expiresAt');
    checkTime(record.createdAt, 'createdAt');
    if (record.expiresAt <= record.createdAt) throw new DomainError('malformed', 'a join token expires after it is created');
    if (typeof record.createdBy !== 'string' || record.createdBy.length === 0 || record.createdBy.length > MAX_CREATED_BY_LENGTH) {
      throw new DomainError('malformed', `createdBy is 1 to ${MAX_CREATED_BY_LENGTH} characters`);
    }
    if (record.usedAt !== null || record.usedBySerial !== null) throw new DomainError('malformed', 'a new join token is unused');
    try {
      // Durable: the operator is shown the token once this returns.
      this.durable.run(this.insertTransaction, { ...record, usedAt: null, usedBySerial: null });
    } catch (error) {
      // Not the hash in the detail: it identifies a live credential in logs.
      throw toConflict(error, (code) =>
        code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? 'this join token is already stored' : `join token breaks a ledger constraint (${code})`,
      );
    }
  }

  /** Marks the token used in one durable transaction if it is known, unused and unexpired at `now`. */
  redeem(tokenHash: string, now: number): JoinTokenRedemption {
    checkTokenHash(tokenHash);
    checkTime(now, 'now');
    return this.durable.run(this.redeemTransaction, tokenHash, now);
  }

  /**
   * Records the serial of the node certificate issued for a redeemed token
   * (idempotent for the same serial). 'notFound' for an unknown token or serial,
   * 'conflict' for a token not redeemed or attached to another certificate.
   */
  attachSerial(tokenHash: string, serial: string): void {
    checkTokenHash(tokenHash);
    checkSerial(serial);
    try {
      this.durable.run(this.attachTransaction, tokenHash, serial);
    } catch (error) {
      if (error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
        throw new DomainError('notFound', `no certificate with serial ${serial} in the ledger`, { cause: error });
      }
      throw toConflict(error, (code) => `attaching certificate ${serial} to a join token breaks a ledger constraint (${code})`);
    }
  }

  /** The stored record, or undefined. For audits and tests; redemption goes through redeem. */
  find(tokenHash: string): JoinTokenRecord | undefined {
    checkTokenHash(tokenHash);
    const row = this.select(tokenHash);
    return row === undefined ? undefined : { ...row };
  }

  private select(tokenHash: string): TokenRow | undefined {
    this.selectStatement ??= this.db.prepare<[string], TokenRow>(`SELECT ${TOKEN_COLUMNS} FROM join_tokens WHERE token_hash = ?`);
    return this.selectStatement.get(tokenHash);
  }
}

function checkTokenHash(tokenHash: string): void {
  if (typeof tokenHash !== 'string' || !TOKEN_HASH.test(tokenHash)) {
    throw new DomainError('malformed', 'a join token hash is a SHA-256 in lowercase hex');
  }
}
