/**
 * Random bytes from node:crypto's CSPRNG, drawn a 4 KiB block at a time.
 * Each randomBytes/randomFillSync call has a fixed cost of about two small
 * draws' worth; a TLS handshake, an ACME order and a burst of serials each
 * take a dozen or more values of 16-32 bytes. Each draw is a copy, and its
 * stretch of the block is zeroed as it is handed out, so no byte is given
 * twice; draws over a quarter block come straight from the CSPRNG.
 */
import { randomFillSync } from 'node:crypto';

const BLOCK_BYTES = 4096;

/** A source of random bytes with a block of its own. */
export function pooledRandom(): (length: number) => Buffer {
  const block = Buffer.alloc(BLOCK_BYTES);
  let used = BLOCK_BYTES;
  return (length: number): Buffer => {
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
