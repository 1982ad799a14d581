import { TlsAlertError } from '../alert.js';
import { MAX_CIPHERTEXT, RECORD_HEADER_LENGTH } from './limits.js';

export interface RawRecord {
  readonly type: number;
  /** The 5-byte header, which is also the AEAD's additional data. */
  readonly header: Buffer;
  readonly body: Buffer;
}

/**
 * Cuts the incoming byte stream into records (RFC 8446 §5.1). Holds at most
 * one partial record, so a peer cannot make it buffer more than 2^14+256+5.
 */
export class Deframer {
  private pending: Buffer[] = [];
  private pendingLength = 0;
  /** TLSCiphertext.length bound: 2^14 + 256 (RFC 8446 §5.2) until TLS 1.2 raises it to 2^14 + 2048 (RFC 5246 §6.2.3). */
  private maxLength = MAX_CIPHERTEXT;

  setMaxLength(length: number): void {
    this.maxLength = length;
  }

  get bufferedBytes(): number {
    return this.pendingLength;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingLength += chunk.length;
  }

  /** The next complete record, or undefined until more bytes arrive. */
  next(): RawRecord | undefined {
    if (this.pendingLength < RECORD_HEADER_LENGTH) return undefined;
    const first = this.pending[0];
    let head = first !== undefined && first.length >= RECORD_HEADER_LENGTH ? first : this.gather(RECORD_HEADER_LENGTH);
    // Five bytes are there (pendingLength and gather make sure): readUInt8 cannot fall off the end.
    const type = head.readUInt8(0);
    const length = head.readUInt16BE(3);
    // Validate the header before waiting for its body, so garbage fails fast.
    if (type < 20 || type > 23) throw new TlsAlertError('unexpected_message', `record type ${type}`);
    if (head[1] !== 3 || head.readUInt8(2) > 4) throw new TlsAlertError('decode_error', `record version ${head[1]}.${head[2]}`);
    if (length > this.maxLength) throw new TlsAlertError('record_overflow', `record of ${length} bytes`);
    const total = RECORD_HEADER_LENGTH + length;
    if (this.pendingLength < total) return undefined;
    if (head.length < total) head = this.gather(total);
    const record = { type, header: head.subarray(0, RECORD_HEADER_LENGTH), body: head.subarray(RECORD_HEADER_LENGTH, total) };
    if (head.length === total) this.pending.shift();
    else this.pending[0] = head.subarray(total);
    this.pendingLength -= total;
    return record;
  }

  /**
   * Makes the first `length` bytes contiguous by copying only them, so a
   * record that spans two reads costs one record-sized copy, not a copy of
   * everything still queued behind it.
   */
  private gather(length: number): Buffer {
    const joined = Buffer.allocUnsafe(length);
    let filled = 0;
    while (filled < length) {
      const chunk = this.pending[0];
      if (chunk === undefined) throw new TlsAlertError('internal_error', 'deframer gathered past its buffered bytes');
      const take = Math.min(chunk.length, length - filled);
      chunk.copy(joined, filled, 0, take);
      filled += take;
      if (take === chunk.length) this.pending.shift();
      else this.pending[0] = chunk.subarray(take);
    }
    this.pending.unshift(joined);
    return joined;
  }
}
