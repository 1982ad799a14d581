import { DomainError } from '../../shared/errors.js';
import { sqlState } from './database.js';

/**
 * PostgreSQL's constraint violations, told apart the way SQLite's error codes
 * tell them apart, so a repository maps both backends to the same
 * DomainError('conflict', ...) (STYLE §4). SQLSTATE class 23 (integrity
 * constraint violation): 23505 unique_violation (a primary key too, told by
 * its constraint name), 23503 foreign_key_violation, 23514 check_violation,
 * 23502 not_null_violation. The one module every PostgreSQL repository maps
 * its constraint failures with.
 */

export interface ConstraintViolation {
  readonly state: '23505' | '23503' | '23514' | '23502';
  /** The constraint's name as the server reports it (e.g. registration_entries_pkey); '' when it names none. */
  readonly constraint: string;
  /** The server's DETAIL line (`Key (serial)=(ab12) already exists.`); '' when it sends none (a CHECK). */
  readonly detail: string;
}

function isConstraintState(state: string | undefined): state is ConstraintViolation['state'] {
  return state === '23505' || state === '23503' || state === '23514' || state === '23502';
}

function stringField(error: object, field: 'constraint' | 'detail'): string {
  const value: unknown = Reflect.get(error, field);
  return typeof value === 'string' ? value : '';
}

export function constraintViolation(error: unknown): ConstraintViolation | undefined {
  const state = sqlState(error);
  if (!isConstraintState(state) || typeof error !== 'object' || error === null) return undefined;
  return { state, constraint: stringField(error, 'constraint'), detail: stringField(error, 'detail') };
}

/** A constraint violation becomes DomainError 'conflict' with `detail(violation)`; anything else is returned as is, for the caller to rethrow. */
export function toPostgresConflict(error: unknown, detail: (violation: ConstraintViolation) => string): unknown {
  const violation = constraintViolation(error);
  return violation === undefined ? error : new DomainError('conflict', detail(violation), { cause: error });
}

/** How a violation reads in a message: SQLSTATE and constraint, never the row's values. */
export function describeViolation(violation: ConstraintViolation): string {
  return violation.constraint === '' ? `SQLSTATE ${violation.state}` : `SQLSTATE ${violation.state} on ${violation.constraint}`;
}
