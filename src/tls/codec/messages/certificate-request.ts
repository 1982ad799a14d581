import { decodeExtensions, encodeExtensions, type RawExtension } from '../extensions.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

/** CertificateRequest (RFC 8446 §4.3.2). */
export interface CertificateRequest {
  readonly requestContext: Buffer;
  readonly extensions: readonly RawExtension[];
}

export function decodeCertificateRequest(body: Buffer): CertificateRequest {
  const r = Reader.of(body);
  const requestContext = r.vector(1, 'certificate_request_context');
  const extensions = decodeExtensions(r, 2, 'CertificateRequest');
  r.expectEmpty('CertificateRequest');
  return { requestContext, extensions };
}

export function encodeCertificateRequest(m: CertificateRequest): Buffer {
  const w = new Writer(256);
  w.opaque(1, m.requestContext);
  encodeExtensions(w, m.extensions);
  return w.finish();
}
