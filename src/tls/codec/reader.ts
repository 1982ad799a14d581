import { DecodeError } from '../alert.js';

/**
 * A bounded cursor over received bytes. Every read checks the bounds and
 * throws DecodeError, so a decoder can never read past what it was given.
 */
export class Reader {
  private offset = 0;

  constructor(private readonly bytes: Buffer) {}

  static of(bytes: Uint8Array): Reader {
    return new Reader(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  isEmpty(): boolean {
    return this.offset === this.bytes.length;
  }

  private need(n: number, what: string): void {
    if (this.bytes.length - this.offset < n) throw new DecodeError(`${what}: need ${n} bytes, have ${this.remaining}`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.bytes.readUInt8(this.offset++);
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.bytes.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }

  u24(what = 'u24'): number {
    this.need(3, what);
    const v = this.bytes.readUIntBE(this.offset, 3);
    this.offset += 3;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.bytes.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }

  /** A 64-bit unsigned integer our own encoders wrote (below 2^53: times in ms). */
  u64(what = 'u64'): number {
    return this.u32(what) * 0x100000000 + this.u32(what);
  }

  bytesN(n: number, what = 'bytes'): Buffer {
    this.need(n, what);
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** A vector with an 8-, 16- or 24-bit length prefix; `min`/`max` are the RFC's bounds. */
  vector(lengthBytes: 1 | 2 | 3, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): Buffer {
    const len = lengthBytes === 1 ? this.u8(what) : lengthBytes === 2 ? this.u16(what) : this.u24(what);
    if (len < min || len > max) throw new DecodeError(`${what}: length ${len} outside [${min}, ${max}]`);
    return this.bytesN(len, what);
  }

  /** A sub-reader over a length-prefixed vector. */
  sub(lengthBytes: 1 | 2 | 3, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): Reader {
    return new Reader(this.vector(lengthBytes, what, min, max));
  }

  rest(): Buffer {
    const out = this.bytes.subarray(this.offset);
    this.offset = this.bytes.length;
    return out;
  }

  /** A decoder ends here: trailing bytes are a decode_error (RFC 8446 §4). */
  expectEmpty(what: string): void {
    if (!this.isEmpty()) throw new DecodeError(`${what}: ${this.remaining} trailing bytes`);
  }
}
