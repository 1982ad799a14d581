import { DomainError } from '../../shared/errors.js';
import { sqlState } from './database.js';

/** SQLSTATEs of broken constraints: unique_violation, foreign_key_violation, check_violation, not_null_violation. */
const CONSTRAINT_STATES: Readonly<Record<string, string>> = {
  '23505': 'unique_violation',
  '23503': 'foreign_key_violation',
  '23514': 'check_violation',
  '23502': 'not_null_violation',
};

/**
 * PostgreSQL's constraint failures become DomainError 'conflict', as
 * connection.ts `toConflict` does for SQLite's (STYLE §4); everything else is
 * returned as is, for the caller to rethrow.
 */
export function toPostgresConflict(error: unknown, detail: (code: string) => string): unknown {
  const state = sqlState(error);
  const name = state === undefined ? undefined : CONSTRAINT_STATES[state];
  if (name === undefined) return error;
  return new DomainError('conflict', detail(name), { cause: error });
}
