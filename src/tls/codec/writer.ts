/**
 * A growable byte builder. Length prefixes are reserved first and filled in
 * when the vector is closed, so encoders follow the RFC's struct layout.
 */
export class Writer {
  private buf: Buffer;
  private length = 0;

  constructor(initialCapacity = 256) {
    this.buf = Buffer.allocUnsafe(initialCapacity);
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }

  u8(v: number): this {
    this.ensure(1);
    this.buf[this.length++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.length);
    this.length += 2;
    return this;
  }

  u24(v: number): this {
    this.ensure(3);
    this.buf[this.length] = (v >>> 16) & 0xff;
    this.buf.writeUInt16BE(v & 0xffff, this.length + 1);
    this.length += 3;
    return this;
  }

  u32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.length);
    this.length += 4;
    return this;
  }

  /** A 64-bit unsigned integer, for values below 2^53 (times in ms, sequence numbers). */
  u64(v: number): this {
    return this.u32(Math.floor(v / 0x100000000)).u32(v >>> 0);
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
    return this;
  }

  /** Writes the body produced by `fill` behind a length prefix of the given width. */
  vector(lengthBytes: 1 | 2 | 3, fill: (w: this) => void): this {
    this.ensure(lengthBytes);
    const at = this.length;
    this.length += lengthBytes;
    fill(this);
    const len = this.length - at - lengthBytes;
    const max = lengthBytes === 1 ? 0xff : lengthBytes === 2 ? 0xffff : 0xffffff;
    if (len > max) throw new RangeError(`vector of ${len} bytes exceeds a ${lengthBytes}-byte length`);
    if (lengthBytes === 1) this.buf[at] = len;
    else if (lengthBytes === 2) this.buf.writeUInt16BE(len, at);
    else {
      this.buf[at] = len >>> 16;
      this.buf.writeUInt16BE(len & 0xffff, at + 1);
    }
    return this;
  }

  /** A length-prefixed opaque value. */
  opaque(lengthBytes: 1 | 2 | 3, b: Uint8Array): this {
    return this.vector(lengthBytes, (w) => w.bytes(b));
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}
