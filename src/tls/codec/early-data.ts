import { DecodeError } from '../alert.js';
import { Reader } from './reader.js';

/**
 * The early_data extension (RFC 8446 §4.2.10): in NewSessionTicket it
 * carries max_early_data_size (uint32); in ClientHello and
 * EncryptedExtensions it is empty.
 */
export function encodeMaxEarlyDataSize(maxEarlyDataSize: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(maxEarlyDataSize, 0);
  return b;
}

/** max_early_data_size from a NewSessionTicket's early_data extension: exactly four bytes. */
export function decodeMaxEarlyDataSize(data: Buffer): number {
  const r = Reader.of(data);
  const size = r.u32('max_early_data_size');
  r.expectEmpty('early_data');
  return size;
}

/** The empty early_data extension of ClientHello and EncryptedExtensions. */
export const EMPTY_EARLY_DATA: Buffer = Buffer.alloc(0);

/** EndOfEarlyData (RFC 8446 §4.5): `struct {} EndOfEarlyData;` — an empty body. */
export function decodeEndOfEarlyData(body: Buffer): void {
  if (body.length !== 0) throw new DecodeError('EndOfEarlyData must be empty');
}

export function encodeEndOfEarlyData(): Buffer {
  return Buffer.alloc(0);
}
