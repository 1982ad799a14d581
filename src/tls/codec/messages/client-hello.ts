import { TlsAlertError } from '../../alert.js';
import { ExtensionType } from '../enums.js';
import { decodeExtensions, encodeExtensions, type RawExtension } from '../extensions.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

/** ClientHello (RFC 8446 §4.1.2). */
export interface ClientHello {
  readonly legacyVersion: number;
  readonly random: Buffer;
  readonly legacySessionId: Buffer;
  readonly cipherSuites: readonly number[];
  readonly legacyCompressionMethods: Buffer;
  readonly extensions: readonly RawExtension[];
}

export function decodeClientHello(body: Buffer): ClientHello {
  const r = Reader.of(body);
  const legacyVersion = r.u16('legacy_version');
  const random = r.bytesN(32, 'random');
  const legacySessionId = r.vector(1, 'legacy_session_id', 0, 32);
  const suites = r.sub(2, 'cipher_suites', 2, 0xfffe);
  if (suites.remaining % 2 !== 0) throw new TlsAlertError('decode_error', 'cipher_suites: odd length');
  const cipherSuites: number[] = [];
  while (!suites.isEmpty()) cipherSuites.push(suites.u16());
  const legacyCompressionMethods = r.vector(1, 'legacy_compression_methods', 1);
  // A hello with no extensions is TLS 1.2 or older; keep it decodable so we can answer protocol_version.
  const extensions = r.isEmpty() ? [] : decodeExtensions(r, 0, 'ClientHello');
  r.expectEmpty('ClientHello');
  // §4.2.11: pre_shared_key MUST be the last extension in the ClientHello.
  const pskIndex = extensions.findIndex((e) => e.type === ExtensionType.pre_shared_key);
  if (pskIndex !== -1 && pskIndex !== extensions.length - 1) {
    throw new TlsAlertError('illegal_parameter', 'pre_shared_key is not the last extension');
  }
  return { legacyVersion, random, legacySessionId, cipherSuites, legacyCompressionMethods, extensions };
}

export function encodeClientHello(m: ClientHello): Buffer {
  const w = new Writer(512);
  w.u16(m.legacyVersion).bytes(m.random).opaque(1, m.legacySessionId);
  w.vector(2, (b) => {
    for (const s of m.cipherSuites) b.u16(s);
  });
  w.opaque(1, m.legacyCompressionMethods);
  encodeExtensions(w, m.extensions);
  return w.finish();
}
