import { DomainError } from '../../shared/errors.js';
import { sqlState } from './database.js';

/**
 * PostgreSQL's constraint violations, told apart the way SQLite's error codes
 * tell them apart, so a repository maps both backends to the same
 * DomainError('conflict', ...) (STYLE §4). SQLSTATE class 23 (integrity
 * constraint violation): 23505 unique_violation (a primary key too, told by
 * its constraint name), 23503 foreign_key_violation, 23514 check_violation,
 * 23502 not_null_violation.
 */

export interface ConstraintViolation {
  readonly state: '23505' | '23503' | '23514' | '23502';
  /** The constraint's name as the server reports it (e.g. registration_entries_pkey); '' when it names none. */
  readonly constraint: string;
}

function isConstraintState(state: string | undefined): state is ConstraintViolation['state'] {
  return state === '23505' || state === '23503' || state === '23514' || state === '23502';
}

export function constraintViolation(error: unknown): ConstraintViolation | undefined {
  const state = sqlState(error);
  if (!isConstraintState(state)) return undefined;
  const constraint =
    typeof error === 'object' && error !== null && 'constraint' in error && typeof error.constraint === 'string' ? error.constraint : '';
  return { state, constraint };
}

/** A constraint violation becomes DomainError 'conflict' with `detail(violation)`; anything else is rethrown as is. */
export function toPostgresConflict(error: unknown, detail: (violation: ConstraintViolation) => string): unknown {
  const violation = constraintViolation(error);
  return violation === undefined ? error : new DomainError('conflict', detail(violation), { cause: error });
}

/** How a violation reads in a message: SQLSTATE and constraint, never the row's values. */
export function describeViolation(violation: ConstraintViolation): string {
  return violation.constraint === '' ? `SQLSTATE ${violation.state}` : `SQLSTATE ${violation.state} on ${violation.constraint}`;
}
