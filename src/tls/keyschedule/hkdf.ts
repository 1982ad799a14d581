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
  if (length <= hashLengthOf(hash)) {
    // One block, the case for every TLS 1.3 label: T(1) = HMAC(PRK, info || 0x01).
    const input = Buffer.allocUnsafe(info.length + 1);
    input.set(info, 0);
    input[info.length] = 1;
    return createHmac(hash, prk).update(input).digest().subarray(0, length);
  }
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

function hashLengthOf(hash: HashName): number {
  return hash === 'sha256' ? 32 : 48;
}

/** HKDF-Expand-Label (RFC 8446 §7.1). */
export function expandLabel(hash: HashName, secret: Uint8Array, label: string, context: Uint8Array, length: number): Buffer {
  const fullLabel = 'tls13 ' + label;
  const infoLength = 2 + 1 + fullLabel.length + 1 + context.length;
  if (length > hashLengthOf(hash)) {
    const info = Buffer.allocUnsafe(infoLength);
    writeHkdfLabel(info, length, fullLabel, context);
    return hkdfExpand(hash, secret, info, length);
  }
  // Single block: HkdfLabel and the counter byte in one buffer, one HMAC update.
  const input = Buffer.allocUnsafe(infoLength + 1);
  writeHkdfLabel(input, length, fullLabel, context);
  input[infoLength] = 1;
  const block = createHmac(hash, secret).update(input).digest();
  return length === block.length ? block : block.subarray(0, length);
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
export function deriveSecret(hash: HashName, secret: Uint8Array, label: string, transcriptHash: Uint8Array): Buffer {
  return expandLabel(hash, secret, label, transcriptHash, transcriptHash.length);
}
