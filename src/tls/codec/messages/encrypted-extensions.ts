import { decodeExtensions, encodeExtensions, type RawExtension } from '../extensions.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

/** EncryptedExtensions (RFC 8446 §4.3.1). */
export function decodeEncryptedExtensions(body: Buffer): RawExtension[] {
  const r = Reader.of(body);
  const extensions = decodeExtensions(r, 0, 'EncryptedExtensions');
  r.expectEmpty('EncryptedExtensions');
  return extensions;
}

export function encodeEncryptedExtensions(extensions: readonly RawExtension[]): Buffer {
  const w = new Writer(64);
  encodeExtensions(w, extensions);
  return w.finish();
}
