import { TlsAlertError } from '../alert.js';
import { Reader } from './reader.js';

/** RFC 8449 §4: no endpoint may ask for records smaller than this. */
export const MIN_RECORD_SIZE_LIMIT = 64;

/**
 * RFC 8449 §4: the largest limit TLS 1.3 allows, 2^14 + 1: the limit counts
 * the whole TLSInnerPlaintext, content type octet and padding included.
 */
export const TLS13_RECORD_SIZE_LIMIT = 2 ** 14 + 1;

/**
 * record_size_limit (RFC 8449 §4): uint16 RecordSizeLimit. A value under 64
 * MUST be treated as a fatal illegal_parameter. A value over the protocol's
 * maximum is not an error (§4: a server MUST NOT enforce it; the peer may
 * know of a version or extension that allows more): it is capped at 2^14 + 1.
 */
export function decodeRecordSizeLimit(data: Buffer): number {
  const r = Reader.of(data);
  const limit = r.u16('record_size_limit');
  r.expectEmpty('record_size_limit');
  if (limit < MIN_RECORD_SIZE_LIMIT) {
    throw new TlsAlertError('illegal_parameter', `record_size_limit ${limit} is under ${MIN_RECORD_SIZE_LIMIT} (RFC 8449 §4)`);
  }
  return Math.min(limit, TLS13_RECORD_SIZE_LIMIT);
}

export function encodeRecordSizeLimit(limit: number): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(limit, 0);
  return b;
}
