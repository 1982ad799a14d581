import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

/** Certificate in TLS 1.2 (RFC 5246 §7.4.2): ASN.1Cert certificate_list<0..2^24-1>, each <1..2^24-1>, leaf first. */
export interface Certificate12 {
  readonly chain: readonly Buffer[];
}

export function decodeCertificate12(body: Buffer): Certificate12 {
  const r = Reader.of(body);
  const list = r.sub(3, 'certificate_list');
  r.expectEmpty('Certificate');
  const chain: Buffer[] = [];
  while (!list.isEmpty()) chain.push(list.vector(3, 'ASN.1Cert', 1));
  return { chain };
}

export function encodeCertificate12(m: Certificate12): Buffer {
  const w = new Writer(2048);
  w.vector(3, (l) => {
    for (const der of m.chain) l.opaque(3, der);
  });
  return w.finish();
}
