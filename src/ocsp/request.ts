import { DomainError } from '../shared/errors.js';
import { decodeOcspRequest, encodeOcspRequest, type CertIdHash, type OcspCertId } from '../x509/index.js';

/*
 * Decoding the two ways a request arrives (RFC 6960 Appendix A.1): the DER
 * body of a POST, or base64 in the path of a GET. Then the protocol's own
 * rules on what was decoded (RFC 9654 nonce sizes, a bound on CertIDs).
 */

/** RFC 9654 §2.1: responders accept nonces of 1 to 128 octets and refuse others with malformedRequest. */
export const MIN_NONCE_OCTETS = 1;
export const MAX_NONCE_OCTETS = 128;
/** CertIDs answered in one response; each costs a ledger lookup. RFC 5019 §2.1.1 clients send one. */
export const MAX_CERT_IDS = 32;
/** A GET path longer than this is no OCSP request keysmith would answer (a POST body has its own cap). */
export const MAX_GET_PATH_CHARS = 8192;

export interface OcspRequest {
  readonly der: Uint8Array;
  readonly certIds: readonly OcspCertId[];
  /** The nonce to echo, when the request carried one. */
  readonly nonce: Uint8Array | undefined;
}

// Standard base64 (RFC 4648 §4) as RFC 6960 A.1 says, and the URL-safe alphabet some clients send instead.
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * The DER request from the path segment of a GET, already percent-decoded
 * by the router. A `+` that a form-style decoder turned into a space is put
 * back (STYLE §2.4); anything that is not base64 is malformed.
 */
export function requestFromGetPath(path: string): Uint8Array {
  if (path.length > MAX_GET_PATH_CHARS) throw new DomainError('malformed', 'the request in the path is too long');
  // An AIA URL written with a trailing slash yields /ocsp//<request>.
  const text = path.replace(/^\/+/, '').replaceAll(' ', '+');
  if (text.length === 0) throw new DomainError('malformed', 'GET /ocsp/ needs a base64 request in the path');
  if (!BASE64.test(text)) throw new DomainError('malformed', 'the request in the path is not base64');
  return new Uint8Array(Buffer.from(text, 'base64'));
}

/** Decodes and checks a request; DomainError('malformed') for anything RFC 6960 or RFC 9654 refuses. */
export function parseOcspRequest(der: Uint8Array): OcspRequest {
  const decoded = decodeOcspRequest(der);
  const nonce = decoded.nonce;
  // RFC 9654 §2.1: an empty nonce, or one over 128 octets, is answered malformedRequest.
  if (nonce !== undefined && (nonce.byteLength < MIN_NONCE_OCTETS || nonce.byteLength > MAX_NONCE_OCTETS)) {
    throw new DomainError('malformed', `the nonce has ${nonce.byteLength} octets; 1 to 128 are accepted`);
  }
  if (decoded.certIds.length > MAX_CERT_IDS) throw new DomainError('malformed', `at most ${MAX_CERT_IDS} certificates per request`);
  return { der, certIds: decoded.certIds, nonce };
}

/** The request a client (or a TLS server fetching its staple) sends about one certificate. */
export function requestForCertificate(
  certificateDer: Uint8Array,
  issuerDer: Uint8Array,
  options: { hash?: CertIdHash; nonce?: Uint8Array } = {},
): Uint8Array {
  return encodeOcspRequest([{ certificateDer, issuerDer, ...(options.hash === undefined ? {} : { hash: options.hash }) }], options.nonce);
}
