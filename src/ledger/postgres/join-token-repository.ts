import type { JoinTokenPage, JoinTokenQuery, JoinTokenRecord, JoinTokenSummary } from '../../domain/entries.js';
import { numberNamedParameters } from '../sql-placeholders.js';
import { checkSerial, checkTime } from '../certificate-rows.js';
import * as tokenRows from '../join-token-rows.js';
import { constraintViolation, describeViolation, toPostgresConflict } from './constraint.js';
import type { PostgresDatabase } from './database.js';

/**
 * The `join_tokens` aggregate (migrations/postgres/0003) on PostgreSQL: the
 * same methods and answers as the SQLite JoinTokenRepository, as promises;
 * the rules are shared (join-token-rows.ts).
 *
 * Redemption is one conditional UPDATE ... RETURNING: it marks the token used
 * only if it is unused and unexpired, in one statement. When several nodes
 * redeem one token at once, the first UPDATE takes the row lock; the others
 * wait for it, then (READ COMMITTED) re-check their WHERE against the
 * committed row, find used_at set, and change nothing. Exactly one wins.
 */
export class PostgresJoinTokenRepository {
  constructor(private readonly db: PostgresDatabase) {}

  /** Stores a new, unused token. 'conflict' when the hash is already stored, 'malformed' for bad fields. */
  async create(record: JoinTokenRecord): Promise<void> {
    tokenRows.checkNewJoinToken(record);
    try {
      // Committed before it returns: the operator is shown the token then.
      const { text, values } = numberNamedParameters(tokenRows.INSERT_TOKEN_SQL, tokenRows.insertTokenParams(record));
      await this.db.run(text, values);
    } catch (error) {
      throw toPostgresConflict(error, (violation) =>
        violation.state === '23505' ? tokenRows.DUPLICATE_TOKEN : `join token breaks a ledger constraint (${describeViolation(violation)})`,
      );
    }
  }

  /** Marks the token used if it is known, unused and unexpired at `now`; otherwise says which it is not. */
  async redeem(tokenHash: string, now: number): Promise<tokenRows.JoinTokenRedemption> {
    tokenRows.checkTokenHash(tokenHash);
    checkTime(now, 'now');
    const redeemed = await this.db.row<tokenRows.TokenRow>(
      `UPDATE join_tokens SET used_at = $2
        WHERE token_hash = $1 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $2
        RETURNING ${tokenRows.TOKEN_COLUMNS}`,
      [tokenHash, now],
    );
    if (redeemed !== undefined) return { ok: true, record: { ...redeemed } };
    // Nothing changed: say why, from the row as it is now. A row that looks redeemable here
    // was created after the UPDATE looked, so it was unknown to this redemption.
    return { ok: false, reason: tokenRows.redeemRefusal(await this.select(tokenHash), now) ?? 'unknown' };
  }

  /**
   * Records the serial of the node certificate issued for a redeemed token
   * (idempotent for the same serial), as JoinTokenRepository.attachSerial.
   */
  async attachSerial(tokenHash: string, serial: string): Promise<void> {
    tokenRows.checkTokenHash(tokenHash);
    checkSerial(serial);
    try {
      await this.db.transaction(async (tx) => {
        const row = await tx.row<tokenRows.TokenRow>(
          `SELECT ${tokenRows.TOKEN_COLUMNS} FROM join_tokens WHERE token_hash = $1 FOR UPDATE`,
          [tokenHash],
        );
        const decision = tokenRows.attachDecision(row, serial);
        if (decision === 'done') return;
        if (decision !== 'attach') throw decision;
        await tx.run('UPDATE join_tokens SET used_by_serial = $1 WHERE token_hash = $2', [serial, tokenHash]);
      });
    } catch (error) {
      if (constraintViolation(error)?.state === '23503') throw tokenRows.unknownSerial(serial, error);
      throw toPostgresConflict(
        error,
        (violation) => `attaching certificate ${serial} to a join token breaks a ledger constraint (${describeViolation(violation)})`,
      );
    }
  }

  /** As JoinTokenRepository.list: one page in creation order, without hashes. */
  async list(query: JoinTokenQuery): Promise<JoinTokenPage> {
    const plan = tokenRows.planTokenList(query, 'postgres');
    const { text, values } = numberNamedParameters(plan.sql, plan.params);
    return tokenRows.toTokenPage(await this.db.rows<JoinTokenSummary>(text, values), plan.limit);
  }

  /**
   * As JoinTokenRepository.revoke. One conditional UPDATE: it takes the row
   * lock, so it and a concurrent redemption (whose UPDATE requires revoked_at
   * IS NULL) serialise, and exactly one of them changes the row.
   */
  async revoke(id: string, now: number): Promise<JoinTokenSummary> {
    tokenRows.checkTokenId(id);
    checkTime(now, 'now');
    const revoke = numberNamedParameters<string | number>(tokenRows.REVOKE_TOKEN_SQL, { id, now });
    const revoked = await this.db.row<JoinTokenSummary>(revoke.text, revoke.values);
    if (revoked !== undefined) return { ...revoked };
    const select = numberNamedParameters(tokenRows.SELECT_TOKEN_SUMMARY_SQL, { id });
    throw tokenRows.revokeTokenRefusal(id, await this.db.row<JoinTokenSummary>(select.text, select.values));
  }

  /** The stored record, or undefined. For audits and tests; redemption goes through redeem. */
  async find(tokenHash: string): Promise<JoinTokenRecord | undefined> {
    tokenRows.checkTokenHash(tokenHash);
    const row = await this.select(tokenHash);
    return row === undefined ? undefined : { ...row };
  }

  private select(tokenHash: string): Promise<tokenRows.TokenRow | undefined> {
    return this.db.row<tokenRows.TokenRow>(`SELECT ${tokenRows.TOKEN_COLUMNS} FROM join_tokens WHERE token_hash = $1`, [tokenHash]);
  }
}
