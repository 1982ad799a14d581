import { DomainError } from '../../shared/errors.js';
import { sqlState } from './database.js';

/**
 * PostgreSQL's twin of connection.ts `toConflict`: a constraint failure
 * (SQLSTATE class 23: unique 23505, foreign key 23503, check 23514, not null
 * 23502) becomes DomainError 'conflict' (STYLE §4), as SQLITE_CONSTRAINT does
 * on SQLite; everything else is rethrown as is.
 */
export function toPostgresConflict(error: unknown, detail: (state: string) => string): unknown {
  const state = sqlState(error);
  if (state !== undefined && state.startsWith('23')) return new DomainError('conflict', detail(state), { cause: error });
  return error;
}
