import { TlsAlertError } from '../../alert.js';
import { decodeExtensions, encodeExtensions, type RawExtension } from '../extensions.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

/** ServerHello and HelloRetryRequest share one layout (RFC 8446 §4.1.3-4.1.4). */
export interface ServerHello {
  readonly random: Buffer;
  readonly legacySessionIdEcho: Buffer;
  readonly cipherSuite: number;
  readonly extensions: readonly RawExtension[];
}

/** The special random that marks a HelloRetryRequest: SHA-256("HelloRetryRequest"). */
export const HELLO_RETRY_REQUEST_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

/** Downgrade sentinels in the last 8 bytes of ServerHello.random (§4.1.3). */
export const DOWNGRADE_TLS12 = Buffer.from('444f574e47524401', 'hex');
export const DOWNGRADE_TLS11 = Buffer.from('444f574e47524400', 'hex');

export function isHelloRetryRequest(m: ServerHello): boolean {
  return m.random.equals(HELLO_RETRY_REQUEST_RANDOM);
}

export function decodeServerHello(body: Buffer): ServerHello {
  const r = Reader.of(body);
  const legacyVersion = r.u16('legacy_version');
  const random = r.bytesN(32, 'random');
  const legacySessionIdEcho = r.vector(1, 'legacy_session_id_echo', 0, 32);
  const cipherSuite = r.u16('cipher_suite');
  const compression = r.u8('legacy_compression_method');
  const extensions = decodeExtensions(r, 0, 'ServerHello');
  r.expectEmpty('ServerHello');
  if (legacyVersion !== 0x0303) throw new TlsAlertError('protocol_version', `legacy_version 0x${legacyVersion.toString(16)}`);
  // §4.1.3: legacy_compression_method MUST be 0.
  if (compression !== 0) throw new TlsAlertError('illegal_parameter', 'non-zero compression method');
  return { random, legacySessionIdEcho, cipherSuite, extensions };
}

export function encodeServerHello(m: ServerHello): Buffer {
  const w = new Writer(256);
  w.u16(0x0303).bytes(m.random).opaque(1, m.legacySessionIdEcho).u16(m.cipherSuite).u8(0);
  encodeExtensions(w, m.extensions);
  return w.finish();
}
