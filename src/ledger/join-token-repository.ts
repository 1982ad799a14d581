import Database from 'better-sqlite3';
import type { JoinTokenPage, JoinTokenQuery, JoinTokenRecord, JoinTokenSummary } from '../domain/entries.js';
import { checkSerial, checkTime } from './certificate-rows.js';
import { DurableWrites, toConflict } from './connection.js';
import {
  attachDecision,
  checkNewJoinToken,
  checkTokenHash,
  checkTokenId,
  DUPLICATE_TOKEN,
  INSERT_TOKEN_SQL,
  insertTokenParams,
  planTokenList,
  redeemRefusal,
  REVOKE_TOKEN_SQL,
  revokeTokenRefusal,
  SELECT_TOKEN_SUMMARY_SQL,
  TOKEN_COLUMNS,
  toTokenPage,
  unknownSerial,
  type JoinTokenRedemption,
  type TokenRow,
} from './join-token-rows.js';

export type { JoinTokenRedemption } from './join-token-rows.js';

/**
 * The `join_tokens` aggregate (migrations/0003) on SQLite: one-time tokens
 * that let a node obtain its first identity, stored only as SHA-256 hashes.
 * Redemption hands out an identity, so it is one durable IMMEDIATE
 * transaction: two concurrent redemptions of one token (even from two
 * processes) serialise on the write lock, and exactly one sees it unused.
 * The rules are shared with PostgreSQL (join-token-rows.ts). Statements are
 * prepared on first use, so a ledger at an older schema version still constructs.
 */
export class JoinTokenRepository {
  private readonly durable: DurableWrites;
  private insertStatement: Database.Statement<[Record<string, string | number>]> | undefined;
  private readonly listStatements = new Map<string, Database.Statement<[Record<string, string | number>], JoinTokenSummary>>();
  private selectStatement: Database.Statement<[string], TokenRow> | undefined;
  private markUsedStatement: Database.Statement<[number, string]> | undefined;
  private attachStatement: Database.Statement<[string, string]> | undefined;
  private readonly insertTransaction: Database.Transaction<(row: TokenRow) => void>;
  private readonly redeemTransaction: Database.Transaction<(tokenHash: string, now: number) => JoinTokenRedemption>;
  private readonly attachTransaction: Database.Transaction<(tokenHash: string, serial: string) => void>;
  private readonly revokeTransaction: Database.Transaction<(id: string, now: number) => JoinTokenSummary | undefined>;

  constructor(private readonly db: Database.Database) {
    this.durable = new DurableWrites(db);
    this.insertTransaction = db.transaction((row: TokenRow): void => {
      this.insertStatement ??= db.prepare<[Record<string, string | number>]>(INSERT_TOKEN_SQL);
      this.insertStatement.run(insertTokenParams(row));
    });

    this.redeemTransaction = db.transaction((tokenHash: string, now: number): JoinTokenRedemption => {
      const row = this.select(tokenHash);
      const refusal = redeemRefusal(row, now);
      if (refusal !== undefined || row === undefined) return { ok: false, reason: refusal ?? 'unknown' };
      this.markUsedStatement ??= db.prepare<[number, string]>(
        'UPDATE join_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL',
      );
      if (this.markUsedStatement.run(now, tokenHash).changes !== 1) {
        throw new Error('join token changed under the write lock');
      }
      return { ok: true, record: { ...row, usedAt: now } };
    });

    this.revokeTransaction = db.transaction((id: string, now: number): JoinTokenSummary | undefined =>
      db.prepare<[Record<string, string | number>], JoinTokenSummary>(REVOKE_TOKEN_SQL).get({ id, now }),
    );

    this.attachTransaction = db.transaction((tokenHash: string, serial: string): void => {
      const decision = attachDecision(this.select(tokenHash), serial);
      if (decision === 'done') return;
      if (decision !== 'attach') throw decision;
      this.attachStatement ??= db.prepare<[string, string]>(
        'UPDATE join_tokens SET used_by_serial = ? WHERE token_hash = ? AND used_at IS NOT NULL AND used_by_serial IS NULL',
      );
      if (this.attachStatement.run(serial, tokenHash).changes !== 1) throw new Error('join token changed under the write lock');
    });
  }

  /** Stores a new, unused token. 'conflict' when the hash is already stored, 'malformed' for bad fields. */
  create(record: JoinTokenRecord): void {
    checkNewJoinToken(record);
    try {
      // Durable: the operator is shown the token once this returns.
      this.durable.run(this.insertTransaction, record);
    } catch (error) {
      throw toConflict(error, (code) =>
        code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ? DUPLICATE_TOKEN : `join token breaks a ledger constraint (${code})`,
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
      if (error instanceof Database.SqliteError && error.code === 'SQLITE_CONSTRAINT_FOREIGNKEY') throw unknownSerial(serial, error);
      throw toConflict(error, (code) => `attaching certificate ${serial} to a join token breaks a ledger constraint (${code})`);
    }
  }

  /** One page of tokens in creation order, without their hashes; status judged at query.now. */
  list(query: JoinTokenQuery): JoinTokenPage {
    const plan = planTokenList(query, 'sqlite');
    let statement = this.listStatements.get(plan.sql);
    if (statement === undefined) {
      statement = this.db.prepare<[Record<string, string | number>], JoinTokenSummary>(plan.sql);
      this.listStatements.set(plan.sql, statement);
    }
    return toTokenPage(statement.all(plan.params), plan.limit);
  }

  /**
   * Revokes an unused token by id, durably: it can no longer be redeemed.
   * 'notFound' for an unknown id, 'conflict' when already revoked or used.
   */
  revoke(id: string, now: number): JoinTokenSummary {
    checkTokenId(id);
    checkTime(now, 'now');
    const revoked = this.durable.run(this.revokeTransaction, id, now);
    if (revoked !== undefined) return { ...revoked };
    throw revokeTokenRefusal(id, this.db.prepare<[Record<string, string>], JoinTokenSummary>(SELECT_TOKEN_SUMMARY_SQL).get({ id }));
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
