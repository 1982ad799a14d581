import { createHmac } from 'node:crypto';
import type { HashName } from '../crypto/suites.js';

/**
 * HKDF (RFC 5869) on HMAC. Node's hkdfSync cannot run extract and expand
 * separately and costs ~4x a bare HMAC, so TLS 1.3 builds it here.
 */
export function hkdfExtract(hash: HashName, salt: Uint8Array, ikm: Uint8Array): Buffer {
  return createHmac(hash, salt).update(ikm).digest();
}

export function hkdfExpand(hash: HashName, prk: Uint8Array, info: Uint8Array, length: number): Buffer {
  const blocks: Buffer[] = [];
  let previous: Buffer = Buffer.alloc(0);
  let produced = 0;
  for (let counter = 1; produced < length; counter++) {
    previous = createHmac(hash, prk).update(previous).update(info).update(Buffer.of(counter)).digest();
    blocks.push(previous);
    produced += previous.length;
  }
  const out = blocks.length === 1 ? blocks[0]! : Buffer.concat(blocks);
  return out.subarray(0, length);
}

/** HKDF-Expand-Label (RFC 8446 §7.1). */
export function expandLabel(hash: HashName, secret: Uint8Array, label: string, context: Uint8Array, length: number): Buffer {
  const fullLabel = 'tls13 ' + label;
  const info = Buffer.allocUnsafe(2 + 1 + fullLabel.length + 1 + context.length);
  info.writeUInt16BE(length, 0);
  info[2] = fullLabel.length;
  info.write(fullLabel, 3, 'latin1');
  info[3 + fullLabel.length] = context.length;
  info.set(context, 4 + fullLabel.length);
  return hkdfExpand(hash, secret, info, length);
}

/** Derive-Secret (RFC 8446 §7.1), given the transcript hash rather than the messages. */
export function deriveSecret(hash: HashName, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Buffer {
  return expandLabel(hash, secret, label, transcriptHash, transcriptHash.length);
}
