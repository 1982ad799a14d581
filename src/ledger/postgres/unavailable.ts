import { DomainError } from '../../shared/errors.js';

/**
 * Which PostgreSQL failures mean "the database cannot be reached right now"
 * (a 503 with Retry-After at the HTTP edge) rather than "this request is
 * wrong" or "our bug" (a 500). The pool reconnects by itself once the server
 * is back, so every such failure is worth retrying later.
 *
 * The kind is chosen here, at the one boundary where driver errors enter
 * keysmith (STYLE §4). node-postgres gives some of them no code, only a
 * fixed message (pg/lib/client.js, pg-pool/index.js, pg 8.x): those few
 * messages are matched exactly, nothing else is.
 */

/** Socket errors: the server is not listening, went away mid-query, or cannot be routed to. */
const UNREACHABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * SQLSTATEs (PostgreSQL Appendix A) outside class 08 that mean the server is
 * going, gone or not yet ready: admin_shutdown (pg_ctl stop, pg_terminate_backend),
 * crash_shutdown, cannot_connect_now (starting up or in recovery),
 * too_many_connections (the server's max_connections is full: transient).
 */
const UNAVAILABLE_STATES = new Set(['57P01', '57P02', '57P03', '53300']);

/** node-postgres's own errors for a lost or never-made connection, which carry no code. */
const DRIVER_MESSAGES = new Set([
  // The server closed the socket while we were not ending it (client.js).
  'Connection terminated unexpectedly',
  // The pool waited connectTimeoutMs for a free connection (pg-pool).
  'timeout exceeded when trying to connect',
  // A new connection did not complete within connectTimeoutMs (pg-pool).
  'Connection terminated due to connection timeout',
  // A query on a client whose socket already failed (client.js).
  'Client has encountered a connection error and is not queryable',
  // The connect timeout fired inside pg.Client (client.js).
  'timeout expired',
  // No answer within query_timeout: the server is frozen or cut off (client.js; database.ts sets it past statement_timeout).
  'Query read timeout',
]);

/** How deep a `cause` / AggregateError chain is followed: enough for pg-pool's wrapping, bounded for cycles. */
const MAX_DEPTH = 4;

/** True when `error` says the database cannot be reached now (connection refused or lost, server shutting down, pool timeout). */
export function isUnavailable(error: unknown, depth = 0): boolean {
  if (depth > MAX_DEPTH || typeof error !== 'object' || error === null) return false;
  if (error instanceof DomainError) return error.kind === 'unavailable';
  const state = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  if (state !== undefined) {
    // Class 08 — Connection Exception (08000, 08003, 08006, 08001, 08004, 08007, 08P01).
    if (state.startsWith('08') || UNAVAILABLE_STATES.has(state) || UNREACHABLE_SOCKET_CODES.has(state)) return true;
  }
  if (error instanceof Error && DRIVER_MESSAGES.has(error.message)) return true;
  // Node reports a refused connection to a name with several addresses (localhost: ::1 and 127.0.0.1) as an AggregateError.
  if (error instanceof AggregateError && error.errors.some((inner: unknown) => isUnavailable(inner, depth + 1))) return true;
  return error instanceof Error && error.cause !== undefined && isUnavailable(error.cause, depth + 1);
}

/** Retry-After on the 503: the pool opens a fresh connection on the next statement, so a few seconds is enough to try again. */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/** What the client is told; the driver's own message (host names, addresses) stays in the log. */
const UNAVAILABLE_DETAIL = 'the ledger database cannot be reached right now; try again shortly';

/** `error` as DomainError('unavailable') when isUnavailable says so, else unchanged. */
export function asUnavailable(error: unknown): unknown {
  if (error instanceof DomainError || !isUnavailable(error)) return error;
  return new DomainError('unavailable', UNAVAILABLE_DETAIL, { cause: error, retryAfterSeconds: UNAVAILABLE_RETRY_AFTER_SECONDS });
}
