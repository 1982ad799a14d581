import { DecodeError } from '../../../alert.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

/** CertificateRequest in TLS 1.2 (RFC 5246 §7.4.4). */
export interface CertificateRequest12 {
  /** ClientCertificateType certificate_types<1..2^8-1>. */
  readonly certificateTypes: readonly number[];
  /** SignatureAndHashAlgorithm supported_signature_algorithms<2..2^16-2>, as SignatureScheme code points. */
  readonly signatureAlgorithms: readonly number[];
  /** DistinguishedName certificate_authorities<0..2^16-1>, each opaque<1..2^16-1> (DER). */
  readonly certificateAuthorities: readonly Buffer[];
}

export function decodeCertificateRequest12(body: Buffer): CertificateRequest12 {
  const r = Reader.of(body);
  const certificateTypes = [...r.vector(1, 'certificate_types', 1)];
  const algorithms = r.sub(2, 'supported_signature_algorithms', 2, 0xfffe);
  if (algorithms.remaining % 2 !== 0) throw new DecodeError('supported_signature_algorithms: odd length');
  const signatureAlgorithms: number[] = [];
  while (!algorithms.isEmpty()) signatureAlgorithms.push(algorithms.u16());
  const names = r.sub(2, 'certificate_authorities');
  const certificateAuthorities: Buffer[] = [];
  while (!names.isEmpty()) certificateAuthorities.push(names.vector(2, 'DistinguishedName', 1));
  r.expectEmpty('CertificateRequest');
  return { certificateTypes, signatureAlgorithms, certificateAuthorities };
}

export function encodeCertificateRequest12(m: CertificateRequest12): Buffer {
  const w = new Writer(256);
  w.opaque(1, Buffer.from(m.certificateTypes));
  w.vector(2, (l) => {
    for (const a of m.signatureAlgorithms) l.u16(a);
  });
  w.vector(2, (l) => {
    for (const name of m.certificateAuthorities) l.opaque(2, name);
  });
  return w.finish();
}
