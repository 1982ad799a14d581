import { TlsAlertError } from '../../../alert.js';
import { CertificateStatusType } from '../../enums.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

/** CertificateStatus, the TLS 1.2 handshake message (RFC 6066 §8): status_type ocsp(1) and OCSPResponse<1..2^24-1>. */
export interface CertificateStatus12 {
  readonly ocspResponse: Buffer;
}

/** Reads a CertificateStatus; RFC 6066 §8 defines only ocsp, so another status_type is illegal_parameter. */
export function decodeCertificateStatus12(body: Buffer): CertificateStatus12 {
  const r = Reader.of(body);
  const statusType = r.u8('status_type');
  if (statusType !== CertificateStatusType.ocsp)
    throw new TlsAlertError('illegal_parameter', `CertificateStatus with status_type ${statusType}`);
  const ocspResponse = r.vector(3, 'OCSPResponse', 1);
  r.expectEmpty('CertificateStatus');
  return { ocspResponse };
}

export function encodeCertificateStatus12(m: CertificateStatus12): Buffer {
  if (m.ocspResponse.length === 0) throw new RangeError('an empty OCSPResponse cannot be stapled');
  return new Writer(4 + m.ocspResponse.length).u8(CertificateStatusType.ocsp).opaque(3, m.ocspResponse).finish();
}
