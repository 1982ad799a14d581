import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import type { AcmeAuthorizationRecord, AcmeChallengeRecord, AcmeIdentifierRecord, ValidationRecord } from '../domain/acme.js';
import {
  AUTHORIZATION_COLUMNS,
  AUTHORIZATION_DEACTIVATED_PROBLEM,
  CHALLENGE_COLUMNS,
  toAuthorization,
  toChallenge,
  type AuthorizationRow,
  type ChallengeRow,
} from './acme-rows.js';

/**
 * ACME authorizations and their challenges (RFC 8555 §7.5, migrations/0004):
 * reads, reuse, starting a validation and recording its outcome, which moves
 * the orders holding the authorization (ready, or invalid). Every write is
 * one IMMEDIATE transaction or one conditional UPDATE. New authorizations
 * are written with their order (acme-order-repository.ts).
 */
export class AcmeAuthorizationRepository {
  private preparedStatements: AuthorizationStatements | undefined;
  private readonly recordValidationTx: Database.Transaction<(challengeId: string, outcome: ValidationRecord) => number>;
  private readonly deactivateAuthorizationTx: Database.Transaction<(id: string) => boolean>;

  constructor(private readonly db: Database.Database) {
    this.recordValidationTx = db.transaction((challengeId: string, outcome: ValidationRecord): number => {
      const statements = this.statements;
      const challenge = statements.selectChallenge.get(challengeId);
      if (challenge === undefined) throw new DomainError('notFound', `no challenge ${challengeId}`);
      const authzId = challenge.authorizationId;
      if (outcome.ok) {
        if (statements.challengeValid.run(outcome.validatedAt, challengeId).changes !== 1) return 0;
        statements.authorizationValid.run(outcome.authorizationExpiresAt, authzId);
        statements.ordersReady.run(authzId);
        return 0;
      }
      const error = JSON.stringify(outcome.error);
      if (statements.challengeInvalid.run(error, challengeId).changes !== 1) return 0;
      // RFC 8555 §7.1.6: a failed challenge fails its authorization and the orders that need it.
      statements.authorizationStatus.run('invalid', authzId, 'pending');
      return statements.ordersInvalid.run(error, authzId).changes;
    });

    this.deactivateAuthorizationTx = db.transaction((id: string): boolean => {
      const statements = this.statements;
      const changed =
        statements.authorizationStatus.run('deactivated', id, 'pending').changes +
        statements.authorizationStatus.run('deactivated', id, 'valid').changes;
      if (changed === 0) return false;
      statements.ordersInvalid.run(AUTHORIZATION_DEACTIVATED_PROBLEM, id);
      return true;
    });
  }

  /** Prepared on first use, so a ledger opened at an older schema version (before 0004) still opens. */
  private get statements(): AuthorizationStatements {
    return (this.preparedStatements ??= prepareAuthorizationStatements(this.db));
  }

  findAuthorization(id: string): AcmeAuthorizationRecord | undefined {
    const row = this.statements.selectAuthorization.get(id);
    return row === undefined ? undefined : this.withChallenges(row);
  }

  findReusableAuthorization(
    accountId: string,
    identifier: AcmeIdentifierRecord,
    isWildcard: boolean,
    validUntilAtLeast: number,
  ): AcmeAuthorizationRecord | undefined {
    const row = this.statements.selectReusable.get(accountId, identifier.type, identifier.value, isWildcard ? 1 : 0, validUntilAtLeast);
    return row === undefined ? undefined : this.withChallenges(row);
  }

  findChallenge(id: string): AcmeChallengeRecord | undefined {
    const row = this.statements.selectChallenge.get(id);
    return row === undefined ? undefined : toChallenge(row);
  }

  findChallengeAuthorization(challengeId: string): AcmeAuthorizationRecord | undefined {
    const row = this.statements.selectChallengeAuthorization.get(challengeId);
    return row === undefined ? undefined : this.withChallenges(row);
  }

  startChallenge(challengeId: string, now: number): boolean {
    return this.statements.startChallenge.run(challengeId, now).changes === 1;
  }

  /** Returns how many orders the failure made invalid (0 on success). */
  recordValidation(challengeId: string, outcome: ValidationRecord): number {
    return this.recordValidationTx.immediate(challengeId, outcome);
  }

  deactivateAuthorization(id: string): boolean {
    return this.deactivateAuthorizationTx.immediate(id);
  }

  /** Challenges left `processing` by a process that stopped mid-validation. */
  listInterruptedChallenges(): readonly AcmeChallengeRecord[] {
    return this.statements.selectProcessingChallenges.all().map(toChallenge);
  }

  private withChallenges(row: AuthorizationRow): AcmeAuthorizationRecord {
    return toAuthorization(row, this.statements.selectChallengesOf.all(row.id).map(toChallenge));
  }
}

function prepareAuthorizationStatements(db: Database.Database) {
  return {
    selectAuthorization: db.prepare<[string], AuthorizationRow>(`SELECT ${AUTHORIZATION_COLUMNS} FROM acme_authorizations WHERE id = ?`),
    selectChallengesOf: db.prepare<[string], ChallengeRow>(
      `SELECT ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE authorization_id = ? ORDER BY rowid`,
    ),
    selectReusable: db.prepare<[string, string, string, number, number], AuthorizationRow>(
      `SELECT ${AUTHORIZATION_COLUMNS} FROM acme_authorizations
        WHERE account_id = ? AND identifier_type = ? AND identifier_value = ? AND is_wildcard = ?
          AND status = 'valid' AND expires_at > ?
        ORDER BY expires_at DESC LIMIT 1`,
    ),
    selectChallenge: db.prepare<[string], ChallengeRow>(`SELECT ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE id = ?`),
    selectChallengeAuthorization: db.prepare<[string], AuthorizationRow>(
      `SELECT ${AUTHORIZATION_COLUMNS} FROM acme_authorizations WHERE id = (SELECT authorization_id FROM acme_challenges WHERE id = ?)`,
    ),
    selectProcessingChallenges: db.prepare<[], ChallengeRow>(
      `SELECT ${CHALLENGE_COLUMNS} FROM acme_challenges WHERE status = 'processing' ORDER BY rowid`,
    ),
    startChallenge: db.prepare<[string, number]>(
      `UPDATE acme_challenges SET status = 'processing'
        WHERE id = ? AND status = 'pending'
          AND NOT EXISTS (SELECT 1 FROM acme_challenges other WHERE other.authorization_id = acme_challenges.authorization_id AND other.status = 'processing')
          AND EXISTS (SELECT 1 FROM acme_authorizations a WHERE a.id = acme_challenges.authorization_id AND a.status = 'pending' AND a.expires_at > ?)`,
    ),
    challengeValid: db.prepare<[number, string]>(
      `UPDATE acme_challenges SET status = 'valid', validated_at = ?, error = NULL WHERE id = ? AND status = 'processing'`,
    ),
    challengeInvalid: db.prepare<[string, string]>(
      `UPDATE acme_challenges SET status = 'invalid', error = ? WHERE id = ? AND status = 'processing'`,
    ),
    authorizationValid: db.prepare<[number, string]>(
      `UPDATE acme_authorizations SET status = 'valid', expires_at = ? WHERE id = ? AND status = 'pending'`,
    ),
    authorizationStatus: db.prepare<[string, string, string]>(`UPDATE acme_authorizations SET status = ? WHERE id = ? AND status = ?`),
    // Pending orders holding this authorization whose every authorization is now valid.
    ordersReady: db.prepare<[string]>(
      `UPDATE acme_orders SET status = 'ready'
        WHERE status = 'pending'
          AND id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = ?)
          AND NOT EXISTS (SELECT 1 FROM acme_order_authorizations l JOIN acme_authorizations a ON a.id = l.authorization_id
                           WHERE l.order_id = acme_orders.id AND a.status <> 'valid')`,
    ),
    ordersInvalid: db.prepare<[string, string]>(
      `UPDATE acme_orders SET status = 'invalid', error = ?
        WHERE status IN ('pending', 'ready') AND id IN (SELECT order_id FROM acme_order_authorizations WHERE authorization_id = ?)`,
    ),
  } as const;
}

type AuthorizationStatements = ReturnType<typeof prepareAuthorizationStatements>;
