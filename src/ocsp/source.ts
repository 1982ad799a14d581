import type { Awaitable } from '../shared/awaitable.js';
import type { OcspRequest } from './request.js';

/** What HTTP caching of a response is built from: the response's own dates (RFC 5019 §6.2) and a hash of its bytes. */
export interface CacheFacts {
  readonly producedAt: number;
  readonly thisUpdate: number;
  /** The earliest nextUpdate among the response's SingleResponses. */
  readonly nextUpdate: number;
  /** A strong ETag: the quoted base64url SHA-256 of the response. */
  readonly etag: string;
}

export interface OcspResponse {
  /** DER OCSPResponse, status successful. */
  readonly der: Uint8Array;
  /** Present when the same bytes answer every identical request until nextUpdate; absent for nonce responses, which are never cached. */
  readonly cache: CacheFacts | undefined;
  /** The certificate status of each SingleResponse, in order (metrics count them). */
  readonly certStatuses?: readonly OcspCertStatusKind[];
}

/** RFC 6960 §2.2: what a SingleResponse says of one certificate. */
export type OcspCertStatusKind = 'good' | 'revoked' | 'unknown';

/**
 * Where signed responses come from (after Boulder's ocsp/responder Source):
 * the responder only decodes and maps failures. Failures are DomainErrors
 * (`malformed`, `notFound` for a CertID of an issuer this source does not
 * answer for); anything else is an internal fault. Both methods are
 * Awaitable: plain when the ledger answered at once (SQLite), promises when it
 * answers later (PostgreSQL); a failure may be a throw or a rejection.
 */
export interface Source {
  /** A current pre-signed answer to exactly this request (a key the responder derived from its bytes or GET path), found without decoding it. */
  cachedFor(requestKey: string): Awaitable<OcspResponse | undefined>;
  /** Answers a decoded request; a cacheable answer can then be found again by `cachedFor` under each of `requestKeys`. */
  response(request: OcspRequest, requestKeys: readonly string[]): Awaitable<OcspResponse>;
}
