import { TlsAlertError } from '../../../alert.js';
import { EcCurveType } from '../../enums.js';
import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

/** ServerECDHParams (RFC 8422 §5.4): a named curve and the server's ephemeral public point. */
export interface EcdheParams {
  readonly namedCurve: number;
  /** ECPoint point<1..2^8-1>: the uncompressed point, or the X25519 u-coordinate (RFC 8422 §5.11). */
  readonly publicKey: Buffer;
}

/** ServerKeyExchange for ECDHE_ECDSA/ECDHE_RSA (RFC 8422 §5.4, RFC 5246 §7.4.3): params and a DigitallySigned over them. */
export interface ServerKeyExchange {
  readonly params: EcdheParams;
  /** SignatureAndHashAlgorithm (RFC 5246 §7.4.1.4.1), read as a SignatureScheme code point. */
  readonly algorithm: number;
  readonly signature: Buffer;
}

/** The ServerECDHParams bytes, which the signature covers after client_random || server_random. */
export function encodeEcdheParams(params: EcdheParams): Buffer {
  return new Writer(4 + params.publicKey.length).u8(EcCurveType.named_curve).u16(params.namedCurve).opaque(1, params.publicKey).finish();
}

function readEcdheParams(r: Reader): EcdheParams {
  const curveType = r.u8('curve_type');
  // RFC 8422 §5.4: explicit curves are deprecated; only named_curve may appear.
  if (curveType !== EcCurveType.named_curve) throw new TlsAlertError('illegal_parameter', `ECCurveType ${curveType}`);
  const namedCurve = r.u16('namedcurve');
  const publicKey = r.vector(1, 'ECPoint', 1);
  return { namedCurve, publicKey };
}

export function decodeServerKeyExchange(body: Buffer): ServerKeyExchange {
  const r = Reader.of(body);
  const params = readEcdheParams(r);
  const algorithm = r.u16('SignatureAndHashAlgorithm');
  const signature = r.vector(2, 'signature');
  r.expectEmpty('ServerKeyExchange');
  return { params, algorithm, signature };
}

export function encodeServerKeyExchange(m: ServerKeyExchange): Buffer {
  const params = encodeEcdheParams(m.params);
  return new Writer(params.length + 4 + m.signature.length).bytes(params).u16(m.algorithm).opaque(2, m.signature).finish();
}

/** RFC 5246 §7.4.3: the signed content is client_random || server_random || ServerECDHParams. */
export function serverKeyExchangeSignedContent(clientRandom: Uint8Array, serverRandom: Uint8Array, params: EcdheParams): Buffer {
  return Buffer.concat([clientRandom, serverRandom, encodeEcdheParams(params)]);
}
