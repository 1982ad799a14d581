import { timingSafeEqual } from 'node:crypto';

/** The unsigned big-endian integer the bytes encode (no bytes: 0); callers bound the length first. */
export function bigIntFromBytes(bytes: Uint8Array): bigint {
  return bytes.byteLength === 0 ? 0n : BigInt(`0x${asBuffer(bytes).toString('hex')}`);
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Equality that does not leak where the inputs differ; lengths are not secret. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  return timingSafeEqual(a, b);
}
