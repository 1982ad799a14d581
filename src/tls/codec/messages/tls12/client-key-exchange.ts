import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

/** ClientKeyExchange for ECDHE (RFC 8422 §5.7): ClientECDiffieHellmanPublic, the ECPoint ecdh_Yc<1..2^8-1>. */
export interface ClientKeyExchange {
  readonly publicKey: Buffer;
}

export function decodeClientKeyExchange(body: Buffer): ClientKeyExchange {
  const r = Reader.of(body);
  const publicKey = r.vector(1, 'ecdh_Yc', 1);
  r.expectEmpty('ClientKeyExchange');
  return { publicKey };
}

export function encodeClientKeyExchange(m: ClientKeyExchange): Buffer {
  return new Writer(1 + m.publicKey.length).opaque(1, m.publicKey).finish();
}
