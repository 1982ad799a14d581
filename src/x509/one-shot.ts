/**
 * node:crypto one-shot sign and verify on the libuv pool, as promises. On a
 * 2-core host the pool puts these ECDSA operations on the second core; a
 * measured A/B against running them on the main thread favoured the pool
 * (bench/svid: ~15-25% more SVIDs/s unpinned), though each hop costs CPU.
 */
import {
  sign,
  verify,
  type KeyObject,
  type SignKeyObjectInput,
  type SignPrivateKeyInput,
  type VerifyKeyObjectInput,
  type VerifyPublicKeyInput,
} from 'node:crypto';

export function signOneShot(
  digest: string | null,
  data: Uint8Array,
  key: KeyObject | SignKeyObjectInput | SignPrivateKeyInput,
): Promise<Buffer> {
  return new Promise((resolve, reject) => sign(digest, data, key, (err, value) => (err === null ? resolve(value) : reject(err))));
}

export function verifyOneShot(
  digest: string | null,
  data: Uint8Array,
  key: KeyObject | VerifyKeyObjectInput | VerifyPublicKeyInput,
  signature: Uint8Array,
): Promise<boolean> {
  return new Promise((resolve, reject) => verify(digest, data, key, signature, (err, ok) => (err === null ? resolve(ok) : reject(err))));
}
