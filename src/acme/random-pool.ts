/**
 * Random bytes for ids, tokens and nonces, drawn from node:crypto's CSPRNG a
 * block at a time: one order takes about fifteen draws of 16-32 bytes (ids,
 * 256-bit challenge tokens, a nonce per response), and one randomFillSync of
 * 4 KiB costs about what two small randomBytes calls do. Each draw is a copy
 * and the block is overwritten as it is handed out, so no byte is given twice.
 */
import { randomFillSync } from 'node:crypto';

const BLOCK_BYTES = 4096;

export function pooledRandom(): (length: number) => Uint8Array {
  const block = Buffer.alloc(BLOCK_BYTES);
  let used = BLOCK_BYTES;
  return (length: number): Uint8Array => {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError('random length must be a non-negative integer');
    if (length > BLOCK_BYTES / 4) return randomFillSync(Buffer.alloc(length));
    if (used + length > BLOCK_BYTES) {
      randomFillSync(block);
      used = 0;
    }
    const out = Buffer.from(block.subarray(used, used + length));
    block.fill(0, used, used + length);
    used += length;
    return out;
  };
}
