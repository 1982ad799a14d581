import { TlsAlertError } from '../alert.js';
import { CertificateStatusType } from './enums.js';
import { Reader } from './reader.js';
import { Writer } from './writer.js';

/* status_request (RFC 6066 §8, RFC 8446 §4.4.2.1): the ClientHello's request and the CertificateEntry's response. */

/**
 * OCSPStatusRequest, the body of an ocsp(1) CertificateStatusRequest. Both
 * parts are DER we pass over unread: we staple whatever our caller's
 * responder signed, whoever the client would trust.
 */
export interface OcspStatusRequest {
  readonly statusType: typeof CertificateStatusType.ocsp;
  /** ResponderID responder_id_list<0..2^16-1>; each opaque ResponderID<1..2^16-1>. */
  readonly responderIds: readonly Buffer[];
  /** Extensions request_extensions<0..2^16-1>: DER of RFC 6960 request extensions. */
  readonly requestExtensions: Buffer;
}

/** A status_type RFC 6066 does not define: its request cannot be read, so it is kept whole (rustls' `Unknown` case). */
export interface UnknownStatusRequest {
  readonly statusType: number;
  readonly request: Buffer;
}

/** CertificateStatusRequest, the status_request extension in a ClientHello (RFC 6066 §8). */
export type CertificateStatusRequest = OcspStatusRequest | UnknownStatusRequest;

export function isOcspStatusRequest(request: CertificateStatusRequest): request is OcspStatusRequest {
  return !('request' in request);
}

/** Reads status_request from a ClientHello; bad lengths or trailing bytes in an ocsp request are decode_error. */
export function decodeCertificateStatusRequest(data: Buffer): CertificateStatusRequest {
  const r = Reader.of(data);
  const statusType = r.u8('status_type');
  if (statusType !== CertificateStatusType.ocsp) return { statusType, request: r.rest() };
  const list = r.sub(2, 'responder_id_list');
  const responderIds: Buffer[] = [];
  while (!list.isEmpty()) responderIds.push(list.vector(2, 'ResponderID', 1));
  const requestExtensions = r.vector(2, 'request_extensions');
  r.expectEmpty('status_request');
  return { statusType: CertificateStatusType.ocsp, responderIds, requestExtensions };
}

export function encodeCertificateStatusRequest(request: CertificateStatusRequest): Buffer {
  const w = new Writer(16);
  w.u8(request.statusType);
  if (!isOcspStatusRequest(request)) return w.bytes(request.request).finish();
  w.vector(2, (list) => {
    for (const id of request.responderIds) list.opaque(2, id);
  });
  w.opaque(2, request.requestExtensions);
  return w.finish();
}

/**
 * CertificateStatus, the status_request extension in a server's
 * CertificateEntry (RFC 8446 §4.4.2.1): status_type ocsp(1) and
 * opaque OCSPResponse<1..2^24-1>, the DER OCSPResponse of RFC 6960.
 */
export interface CertificateStatus {
  readonly ocspResponse: Buffer;
}

/**
 * The largest OCSPResponse a CertificateEntry can carry: its extensions block
 * is <0..2^16-1> (RFC 8446 §4.4.2), less the extension's type and length
 * (4 bytes) and CertificateStatus's status_type and 24-bit length (4 more).
 */
export const MAX_STAPLED_OCSP_RESPONSE = 0xffff - 8;

/** Reads a CertificateStatus; RFC 6066 §8 defines a response for ocsp only, so another status_type is illegal_parameter. */
export function decodeCertificateStatus(data: Buffer): CertificateStatus {
  const r = Reader.of(data);
  const statusType = r.u8('status_type');
  if (statusType !== CertificateStatusType.ocsp)
    throw new TlsAlertError('illegal_parameter', `CertificateStatus with status_type ${statusType}`);
  const ocspResponse = r.vector(3, 'OCSPResponse', 1);
  r.expectEmpty('CertificateStatus');
  return { ocspResponse };
}

export function encodeCertificateStatus(status: { readonly ocspResponse: Uint8Array }): Buffer {
  const length = status.ocspResponse.length;
  if (length === 0 || length > MAX_STAPLED_OCSP_RESPONSE)
    throw new RangeError(`an OCSPResponse of ${length} bytes does not fit a CertificateEntry`);
  const b = Buffer.allocUnsafe(4 + length);
  b[0] = CertificateStatusType.ocsp;
  b.writeUIntBE(length, 1, 3);
  b.set(status.ocspResponse, 4);
  return b;
}
