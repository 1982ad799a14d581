import type { Awaitable } from '../shared/awaitable.js';
import { mapAwaitable, recoverAwaitable } from '../shared/awaitable-flow.js';
import { isDomainError, type DomainErrorKind } from '../shared/errors.js';
import { encodeOcspStatusResponse, type OcspResponseStatusName } from '../x509/index.js';
import { parseOcspRequest, requestFromGetPath } from './request.js';
import type { CacheFacts, OcspCertStatusKind, OcspResponse, Source } from './source.js';

type ErrorStatus = Exclude<OcspResponseStatusName, 'successful'>;

export interface OcspReply {
  /** DER OCSPResponse: a signed response, or a bare status for a refusal. */
  readonly der: Uint8Array;
  readonly status: OcspResponseStatusName;
  /** For status successful: each SingleResponse's certificate status, in order. */
  readonly certStatuses?: readonly OcspCertStatusKind[];
  /** Present when HTTP caches may keep the response (successful, no nonce). */
  readonly cache?: CacheFacts;
  /** For status internalError: the fault, to be logged with the request id, never sent. */
  readonly fault?: unknown;
  /** For refusals: why, for the log. */
  readonly detail?: string;
}

/** STYLE §4, OCSP column: the one mapping from DomainError kinds to OCSP statuses; anything unlisted is an internal fault. */
const STATUS_BY_KIND: Readonly<Partial<Record<DomainErrorKind, ErrorStatus>>> = {
  malformed: 'malformedRequest',
  notFound: 'unauthorized',
  unauthorized: 'unauthorized',
  forbidden: 'unauthorized',
  rateLimited: 'tryLater',
  // RFC 6960 §2.3 tryLater: the ledger cannot be read right now (a cached response is served before it is asked).
  unavailable: 'tryLater',
  busy: 'tryLater',
};

/** The bodies of refusals never change: encoded once. */
const REFUSALS: Readonly<Record<ErrorStatus, Uint8Array>> = {
  malformedRequest: encodeOcspStatusResponse('malformedRequest'),
  internalError: encodeOcspStatusResponse('internalError'),
  tryLater: encodeOcspStatusResponse('tryLater'),
  sigRequired: encodeOcspStatusResponse('sigRequired'),
  unauthorized: encodeOcspStatusResponse('unauthorized'),
};

/** A bare OCSPResponse with this status (RFC 6960 §4.2.1), for edges that refuse before the responder runs (size, media type, access). */
export function refusal(status: ErrorStatus): Uint8Array {
  return REFUSALS[status];
}

function successful(response: OcspResponse): OcspReply {
  return {
    der: response.der,
    status: 'successful',
    ...(response.cache === undefined ? {} : { cache: response.cache }),
    ...(response.certStatuses === undefined ? {} : { certStatuses: response.certStatuses }),
  };
}

/**
 * The OCSP protocol front (Boulder's responder without its HTTP half):
 * decode, ask the Source, and turn every failure into an OCSP status. It
 * never throws and never rejects, so the HTTP edge can never answer an OCSP
 * client with anything but an OCSPResponse. A reply is plain when the Source
 * answered at once (the SQLite ledger), a promise when it waits (PostgreSQL).
 */
export class OcspResponder {
  constructor(private readonly source: Source) {}

  /** Answers a DER request (a POST body). */
  answer(der: Uint8Array): Awaitable<OcspReply> {
    return this.answerFor(der, []);
  }

  /**
   * Answers a GET: the path after /ocsp/, percent-decoded (RFC 6960
   * Appendix A.1). The path itself is a cache key too, so a repeated GET is
   * answered before its base64 is even decoded.
   */
  answerGet(path: string): Awaitable<OcspReply> {
    const pathKey = `get:${path}`;
    return recoverAwaitable(
      () =>
        mapAwaitable(this.source.cachedFor(pathKey), (cached) =>
          cached !== undefined ? successful(cached) : this.answerFor(requestFromGetPath(path), [pathKey]),
        ),
      (err) => this.failure(err),
    );
  }

  private answerFor(der: Uint8Array, otherKeys: readonly string[]): Awaitable<OcspReply> {
    return recoverAwaitable(
      () => {
        // The key is the request's own bytes: identical requests skip decoding altogether.
        const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
        return mapAwaitable(this.source.cachedFor(key), (cached) =>
          cached !== undefined
            ? successful(cached)
            : mapAwaitable(this.source.response(parseOcspRequest(der), [key, ...otherKeys]), successful),
        );
      },
      (err) => this.failure(err),
    );
  }

  private failure(err: unknown): OcspReply {
    const status = isDomainError(err) ? (STATUS_BY_KIND[err.kind] ?? 'internalError') : 'internalError';
    if (status === 'internalError') return { der: REFUSALS.internalError, status, fault: err };
    return { der: REFUSALS[status], status, ...(isDomainError(err) ? { detail: err.detail } : {}) };
  }
}
