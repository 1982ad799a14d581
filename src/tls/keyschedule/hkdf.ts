import type { CryptoProvider } from '../crypto/provider.js';
import type { HashName } from '../crypto/suites.js';

/**
 * HKDF-Expand-Label and Derive-Secret (RFC 8446 §7.1) on the provider's
 * HKDF (RFC 5869). Only the HkdfLabel encoding lives here.
 */
export function hkdfExtract(crypto: CryptoProvider, hash: HashName, salt: Uint8Array, ikm: Uint8Array): Buffer {
  return crypto.hkdfExtract(hash, salt, ikm);
}

export function hkdfExpand(crypto: CryptoProvider, hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  return crypto.hkdfExpand(hash, prk, info, length);
}

/** HKDF-Expand-Label (RFC 8446 §7.1). */
export function expandLabel(
  crypto: CryptoProvider,
  hash: HashName,
  secret: Uint8Array,
  label: string,
  context: Uint8Array,
  length: number,
): Buffer {
  const fullLabel = 'tls13 ' + label;
  const info = Buffer.allocUnsafe(2 + 1 + fullLabel.length + 1 + context.length);
  writeHkdfLabel(info, length, fullLabel, context);
  return crypto.hkdfExpand(hash, secret, info, length);
}

/** struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; } */
function writeHkdfLabel(target: Buffer, length: number, fullLabel: string, context: Uint8Array): void {
  target.writeUInt16BE(length, 0);
  target[2] = fullLabel.length;
  target.write(fullLabel, 3, 'latin1');
  target[3 + fullLabel.length] = context.length;
  target.set(context, 4 + fullLabel.length);
}

/** Derive-Secret (RFC 8446 §7.1), given the transcript hash rather than the messages. */
export function deriveSecret(
  crypto: CryptoProvider,
  hash: HashName,
  secret: Uint8Array,
  label: string,
  transcriptHash: Uint8Array,
): Buffer {
  return expandLabel(crypto, hash, secret, label, transcriptHash, transcriptHash.length);
}
