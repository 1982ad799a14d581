import { decodeExtensions, encodeExtensions, type RawExtension } from '../extensions.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

export interface CertificateEntry {
  readonly certData: Buffer;
  readonly extensions: readonly RawExtension[];
}

/** Certificate (RFC 8446 §4.4.2), X.509 entries only. */
export interface CertificateMessage {
  readonly requestContext: Buffer;
  readonly entries: readonly CertificateEntry[];
}

export function decodeCertificate(body: Buffer): CertificateMessage {
  const r = Reader.of(body);
  const requestContext = r.vector(1, 'certificate_request_context');
  const list = r.sub(3, 'certificate_list');
  r.expectEmpty('Certificate');
  const entries: CertificateEntry[] = [];
  while (!list.isEmpty()) {
    const certData = list.vector(3, 'cert_data', 1);
    const extensions = decodeExtensions(list, 0, 'CertificateEntry');
    entries.push({ certData, extensions });
  }
  return { requestContext, entries };
}

export function encodeCertificate(m: CertificateMessage): Buffer {
  const w = new Writer(2048);
  w.opaque(1, m.requestContext);
  w.vector(3, (l) => {
    for (const e of m.entries) {
      l.opaque(3, e.certData);
      encodeExtensions(l, e.extensions);
    }
  });
  return w.finish();
}
