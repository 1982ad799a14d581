import { DecodeError } from '../../../alert.js';
import { VERIFY_DATA_LENGTH } from '../../../keyschedule/prf12.js';

/** ServerHelloDone (RFC 5246 §7.4.5) has an empty body; anything in it is decode_error. */
export function decodeServerHelloDone(body: Buffer): void {
  if (body.length !== 0) throw new DecodeError(`ServerHelloDone of ${body.length} bytes`);
}

export function encodeServerHelloDone(): Buffer {
  return Buffer.alloc(0);
}

/** Finished in TLS 1.2 (RFC 5246 §7.4.9): verify_data of exactly 12 bytes; any other length is decode_error. */
export function decodeFinished12(body: Buffer): Buffer {
  if (body.length !== VERIFY_DATA_LENGTH) throw new DecodeError(`Finished of ${body.length} bytes, not ${VERIFY_DATA_LENGTH}`);
  return body;
}
