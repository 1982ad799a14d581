/**
 * The one internal error type (after Boulder's errors.go). The kind is chosen
 * where the failure is detected; each edge (HTTP problem documents, ACME,
 * OCSP) maps kinds through one table. Kinds reuse RFC 8555 type names.
 */
export type DomainErrorKind =
  | 'malformed'
  | 'notFound'
  | 'conflict'
  | 'unauthorized'
  | 'forbidden'
  | 'badCSR'
  | 'rejectedIdentifier'
  | 'rateLimited'
  /** A dependency (the ledger's database) cannot be reached right now; retry later (HTTP 503). */
  | 'unavailable'
  /** keysmith itself is at capacity (a full work queue) or lost a worker mid-job; nothing was written, retry after Retry-After (HTTP 503). */
  | 'busy'
  | 'internal';

export interface DomainErrorOptions {
  readonly cause?: unknown;
  readonly retryAfterSeconds?: number;
}

export class DomainError extends Error {
  readonly kind: DomainErrorKind;
  readonly detail: string;
  readonly retryAfterSeconds: number | undefined;

  constructor(kind: DomainErrorKind, detail: string, options: DomainErrorOptions = {}) {
    super(`${kind}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DomainError';
    this.kind = kind;
    this.detail = detail;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isDomainError(err: unknown, kind?: DomainErrorKind): err is DomainError {
  return err instanceof DomainError && (kind === undefined || err.kind === kind);
}
