import { DecodeError } from '../../alert.js';

/** Finished (RFC 8446 §4.4.4): verify_data is exactly Hash.length bytes. */
export function decodeFinished(body: Buffer, hashLength: number): Buffer {
  if (body.length !== hashLength) throw new DecodeError(`Finished of ${body.length} bytes, expected ${hashLength}`);
  return body;
}
