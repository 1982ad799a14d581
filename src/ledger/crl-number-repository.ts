import type Database from 'better-sqlite3';
import { DomainError } from '../shared/errors.js';
import { DurableWrites } from './connection.js';

/**
 * The CRL number (RFC 5280 §5.2.3: "a monotonically increasing sequence
 * number for a given CRL scope and CRL issuer"), kept in the ledger so that
 * it only grows across restarts and, on PostgreSQL, across nodes
 * (postgres/crl-number-repository.ts, a sequence). On SQLite it is the one row
 * of `crl_numbers` (migrations/0007), taken in an IMMEDIATE transaction, so
 * two connections on one file never take the same number.
 */

/** The largest CRL number handed out: JavaScript numbers are exact below 2^53 (RFC 5280 allows 20 octets; we stay far below). */
export const MAX_CRL_NUMBER = Number.MAX_SAFE_INTEGER;

/** `atLeast` must be a positive safe integer (the caller's floor: one more than any number it already used). */
export function checkCrlNumberFloor(atLeast: number): void {
  if (!Number.isSafeInteger(atLeast) || atLeast < 1 || atLeast >= MAX_CRL_NUMBER) {
    throw new DomainError('malformed', `a CRL number floor is an integer from 1 to ${MAX_CRL_NUMBER - 1}, not ${String(atLeast)}`);
  }
}

export class CrlNumberRepository {
  private readonly durable: DurableWrites;
  private take: Database.Transaction<(atLeast: number) => number> | undefined;

  /** Statements are prepared on first use, so a ledger opened at an older schema version (migration tests) still constructs. */
  constructor(private readonly db: Database.Database) {
    this.durable = new DurableWrites(db);
  }

  /**
   * The next CRL number: above every number handed out before, and at least
   * `atLeast`. Durable on return (synchronous=FULL), so a power cut never
   * hands the same number to two different CRLs.
   */
  next(atLeast = 1): number {
    checkCrlNumberFloor(atLeast);
    this.take ??= this.prepare();
    return this.durable.run(this.take, atLeast);
  }

  private prepare(): Database.Transaction<(atLeast: number) => number> {
    // One more than the last number, or `atLeast` when that is larger (the first number after an upgrade
    // continues above the one the CRL state file recorded). The row is created by the first call.
    const statement = this.db
      .prepare<[number], number>(
        `INSERT INTO crl_numbers (scope, last_number) VALUES ('crl', ?)
         ON CONFLICT (scope) DO UPDATE SET last_number = max(crl_numbers.last_number + 1, excluded.last_number)
         RETURNING last_number`,
      )
      .pluck();
    return this.db.transaction((atLeast: number): number => {
      const taken = statement.get(atLeast);
      if (taken === undefined) throw new Error('crl_numbers returned no row');
      return taken;
    });
  }
}
