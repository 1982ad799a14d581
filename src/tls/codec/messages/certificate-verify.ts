import { Reader } from '../reader.js';

/** CertificateVerify (RFC 8446 §4.4.3). */
export interface CertificateVerify {
  readonly algorithm: number;
  readonly signature: Buffer;
}

export function decodeCertificateVerify(body: Buffer): CertificateVerify {
  const r = Reader.of(body);
  const algorithm = r.u16('algorithm');
  const signature = r.vector(2, 'signature', 1);
  r.expectEmpty('CertificateVerify');
  return { algorithm, signature };
}

export function encodeCertificateVerify(m: CertificateVerify): Buffer {
  const out = Buffer.allocUnsafe(4 + m.signature.length);
  out.writeUInt16BE(m.algorithm, 0);
  out.writeUInt16BE(m.signature.length, 2);
  m.signature.copy(out, 4);
  return out;
}
